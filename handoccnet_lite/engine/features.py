"""The cached-feature protocol (CPU budget): the model's pre-gate feature F as a training input.

One backbone + FPN is trained once; its pre-gate features of the train and test sets are cached
(`extract_feature_cache`, `FeatureDataset`); each variant then trains only the parts after the
FPN (`FeatureHead`, `head_parameters`) and keeps the backbone's weights (`is_backbone_key`).
`forward_batch` runs a batch of images or of cached features through a model.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from handoccnet_lite.config import ModelConfig
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine.sampling import SeededSamples
from handoccnet_lite.utils import REPO_ROOT, atomic_write_bytes, resolve_device


def forward_batch(model: nn.Module, batch: dict[str, Tensor], inputs: str) -> dict[str, Tensor]:
    """Images through the whole model, or cached features through the parts after the FPN."""
    if inputs == "features":
        return forward_from_features(model, batch["feat"])  # feat (B, C, G, G)
    return model(batch["image"])  # image (B, 3, S, S)


# --------------------------------------------------------------------------------------------
# cached-feature protocol: the hooks into the model
# --------------------------------------------------------------------------------------------
def extract_pregate(model: nn.Module, image: Tensor) -> Tensor:
    """Backbone + FPN + 2x pooling: the pre-gate feature F (B, C, G, G) of images (B, 3, S, S)."""
    return ckpt.unwrap(model).extract_features(image)


def forward_from_features(model: nn.Module, feat: Tensor) -> dict[str, Tensor]:
    """Gate, FIT, SET and regressor on the pre-gate feature F (B, C, G, G): HandOccNet's output
    dict without `maps`."""
    if _wraps_feature_head(model):
        return model(feat)  # through every wrapper: DDP, torch.compile
    return ckpt.unwrap(model).forward_features(feat)


def _wraps_feature_head(model: nn.Module | None) -> bool:
    """model is a FeatureHead, or DDP / torch.compile wrappers (in any nesting) around one.
    (A compiled module forwards attribute reads to the module it wraps, so `.module` of a
    compiled FeatureHead is the HandOccNet inside: follow the registered submodules instead.)"""
    while model is not None:
        if isinstance(model, FeatureHead):
            return True
        model = model._modules.get("_orig_mod") or model._modules.get("module")
    return False


def backbone_prefixes(model: nn.Module) -> tuple[str, ...]:
    """State-dict prefixes of the parts before the gate (frozen in the cached protocol)."""
    return tuple(ckpt.unwrap(model).feature_modules)


def is_backbone_key(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters after the FPN; the backbone's are frozen (requires_grad=False)."""
    m = ckpt.unwrap(model)
    prefixes = backbone_prefixes(m)
    params = []
    for name, p in m.named_parameters():
        frozen = is_backbone_key(name, prefixes)
        p.requires_grad_(not frozen)
        if not frozen:
            params.append(p)
    return params


class FeatureHead(nn.Module):
    """A HandOccNet seen as a module of the cached feature F (what DDP wraps in that protocol).

    The full network is kept as `.module` so checkpoints hold a complete, image-ready model.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.module = net

    def forward(self, feat: Tensor) -> dict[str, Tensor]:  # feat (B, C, G, G)
        return forward_from_features(self.module, feat)


# --------------------------------------------------------------------------------------------
# feature cache
# --------------------------------------------------------------------------------------------
TARGET_KEYS = (
    "joints_img",
    "joints_cam",
    "verts_cam",
    "mano_pose",
    "mano_shape",
    "joints_vis",
    "has_mano",
    "occlusion",
    "index",
    "visible_mask",
    "occluded_mask",
    "has_mask",
)


class FeatureDataset(Dataset):
    """Cached features + targets; item i = {"feat": (C, G, G) float32, targets as INTERFACES.md}."""

    eval_protocol = "synthocc"  # cached SynthOcc features (engine.protocols.PROTOCOLS)

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        missing = [k for k in ("feat", *TARGET_KEYS) if k not in tensors]
        if missing:
            raise ValueError(f"Feature cache lacks {missing}; delete it to rebuild.")
        self.tensors = tensors
        self.n = int(tensors["feat"].shape[0])

    @classmethod
    def load(cls, path: str | Path) -> FeatureDataset:
        return cls(torch.load(path, map_location="cpu", weights_only=True))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        item = {k: v[i] for k, v in self.tensors.items()}
        item["feat"] = item["feat"].float()
        return item


@torch.no_grad()
def extract_feature_cache(
    model: nn.Module,
    dataset: Dataset,
    copies: int = 1,
    seed: int = 0,
    batch_size: int = 32,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Tensor]:
    """F (copies*N, C, G, G) stored in bfloat16/float16, plus the targets of every item.

    Copy k of item i is drawn with seed (seed, k, i), so augmented copies differ and repeat.
    """
    from tqdm.auto import tqdm

    dev = resolve_device(device)
    model = ckpt.unwrap(model).to(dev).eval()
    data = SeededSamples(dataset, seed)
    parts: dict[str, list[Tensor]] = {k: [] for k in ("feat", *TARGET_KEYS)}
    for copy in range(copies):
        data.set_epoch(copy)
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
        for batch in tqdm(loader, desc=f"features {copy + 1}/{copies}", disable=not progress):
            parts["feat"].append(extract_pregate(model, batch["image"].to(dev)).half().cpu())
            for k in TARGET_KEYS:
                parts[k].append(batch[k])
    return {k: torch.cat(v) for k, v in parts.items()}


# --------------------------------------------------------------------------------------------
# an adopted stage 1
# --------------------------------------------------------------------------------------------
def adopt_stage1(source: str | Path, expected: ModelConfig, dest: Path) -> Path:
    """Copy a trained full model to `dest` (atomically) as the shared stage 1 of the cached
    protocol, after checking that its model config is `expected` (the profile's): the head runs
    build their models from the profile and load the backbone's weights from `dest`."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(
            f"The profile's stage 1 {source} does not exist: restore it (git checkout) or train "
            "one (`handoccnet-lite teach`) and point the profile's `stage1` at it."
        )
    state = ckpt.load_checkpoint(source)
    have, want = asdict(ckpt.trained_model_config(state)), asdict(expected)
    diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
    if diff:
        shown = "; ".join(f"{k}: checkpoint {a!r}, profile {b!r}" for k, (a, b) in diff.items())
        raise ValueError(
            f"The stage-1 checkpoint {source} was trained with another model config than the "
            f"profile's ({shown}). Use a checkpoint of the profile's recipe or change the "
            "profile's `model` overrides to match it."
        )
    atomic_write_bytes(dest, source.read_bytes())
    sidecar = source.with_suffix(".json")  # an exported model's record (steps, evaluation)
    record = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    where = source.resolve()
    origin = {
        "source": str(where.relative_to(REPO_ROOT) if where.is_relative_to(REPO_ROOT) else where),
        "step": state.get("step", record.get("steps")),
        "trained": record.get("source"),
    }
    atomic_write_bytes(dest.with_name("adopted_from.json"), json.dumps(origin, indent=1).encode())
    return dest
