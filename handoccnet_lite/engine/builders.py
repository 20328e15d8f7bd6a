"""What a training run is built from: the model, the SynthOcc training set, the loss terms, the
trainable parameters and the initial weights (the trainer's ties to model, data and losses)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import Tensor, nn
from torch.utils.data import Dataset

from handoccnet_lite.config import ModelConfig
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine.features import backbone_prefixes, head_parameters, is_backbone_key
from handoccnet_lite.engine.train_config import TrainConfig

#: Keep every shard of the training set in memory: shuffled reads would otherwise reload (and
#: re-skin) a 500-image shard for almost every item (~100 ms each; measured 3x slower steps).
ALL_SHARDS = 1 << 30


# --------------------------------------------------------------------------------------------
# model, data, losses: the integration points with the other parts of the package
# --------------------------------------------------------------------------------------------
def pin_hand_model(cfg: TrainConfig) -> TrainConfig:
    """Replace hand_model="auto" by the backend it resolves to on this machine, so a run's saved
    config (and any model exported from it) names the hand its weights were trained with."""
    if cfg.model.hand_model != "auto":
        return cfg
    from handoccnet_lite.hand import find_mano_file

    kind = "synth" if find_mano_file() is None else "mano"
    return dataclasses.replace(cfg, model=cfg.model.replace(hand_model=kind))


def build_model(model_cfg: ModelConfig) -> nn.Module:
    """HandOccNet from its config."""
    from handoccnet_lite.model import HandOccNet

    return HandOccNet(model_cfg)


def load_trained_model(path: str | Path) -> nn.Module:
    """A HandOccNet rebuilt from a checkpoint or exported model (its config and weights)."""
    from handoccnet_lite.engine import checkpoint as ckpt

    state = ckpt.load_checkpoint(path)
    model = build_model(ckpt.trained_model_config(state))
    model.load_state_dict(ckpt.float_weights(state["model"]))
    return model


def build_train_dataset(cfg: TrainConfig) -> Dataset:
    """SynthOcc at cfg.data_root (split cfg.train_split), cropped to the model's input size."""
    from handoccnet_lite.data.dataset import AugmentConfig, SynthOccDataset

    root = Path(cfg.data_root)
    if not root.exists():
        raise FileNotFoundError(
            f"No dataset at {root}; generate one with `handoccnet-lite data --out {root}` or "
            "pass --data data_samples/synthocc (the bundled samples)."
        )
    data = SynthOccDataset(
        root,
        cfg.train_split,
        cfg.model.input_size,
        seed=cfg.seed,
        cache_shards=ALL_SHARDS,
        aug=AugmentConfig(
            input_size=cfg.model.input_size,
            augment=cfg.augment,
            upright_sigma_deg=cfg.upright_sigma_deg,
            feature_stride=cfg.model.feature_stride,
        ),
    )
    return first_items(data, cfg.max_samples)


def first_items(dataset: Dataset, n: int) -> Dataset:
    """The first n items of `dataset` (all of them when n is 0 or larger than the set)."""
    if n <= 0 or n >= len(dataset):  # type: ignore[arg-type]
        return dataset
    from torch.utils.data import Subset

    return Subset(dataset, range(n))


def compute_losses(
    outputs: dict[str, Tensor], batch: dict[str, Tensor], cfg: ModelConfig
) -> dict[str, Tensor]:
    """The paper's weighted loss terms and their sum under "total"."""
    from handoccnet_lite import losses

    return losses.compute_losses(outputs, batch, cfg.loss)


def trainable_parameters(model: nn.Module, inputs: str) -> list[nn.Parameter]:
    """All parameters, or only those after the FPN for the cached-feature protocol."""
    if inputs == "features":
        return head_parameters(model)
    return [p for p in model.parameters() if p.requires_grad]


def load_init_weights(model: nn.Module, path: str | Path, backbone_only: bool = False) -> list[str]:
    """Copy every tensor of a model.pt/checkpoint whose name and shape match (only the backbone's
    with backbone_only, as in the cached-feature protocol); returns the names copied."""
    state = ckpt.load_checkpoint(ckpt.find_weights(path))["model"]
    own = model.state_dict()
    if backbone_only:
        prefixes = backbone_prefixes(model)
        state = {k: v for k, v in state.items() if is_backbone_key(k, prefixes)}
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(
            f"{path}: no tensor matches this model; was it trained with another preset?"
        )
    model.load_state_dict(matched, strict=False)
    return sorted(matched)
