"""Dense pre-training of the backbone at low resolution (not in the release; `teach --start dense`).

The release starts its ResNet from ImageNet weights, which this project cannot download. From
random weights the teaching model's 2D branch learns slowly, and the slow part is the backbone:
fresh heads on a trained backbone's features come within 0.4 mm of the full model in 300 steps
(results/teach_ablation). The renderer gives a dense task for free, so the backbone can learn
first through a *short* path, a 1x1 convolution on its feature F:

- 21 heatmaps (softmax over the G x G cells, the joints amodal: hidden ones too), trained with the
  recipe's heatmap cross-entropy (`losses.heatmap_cross_entropy`, the same Gaussian target);
- one hand-mask channel, trained with binary cross-entropy against the hand's (visible + hidden)
  share of each cell.

Measured (results/teach/trials: T6, T8, D6; SynthOcc, synthetic). Through this path the
backbone's own 2D error falls faster per CPU-second than the full model's, and at 64 px (images
cost a quarter of 128-px ones) about as fast per image as at 128 px: 0.114 (crop sides, RMS)
after 64000 images in 11 CPU-minutes, which is why the default pre-trains at 64 px. Only the trunk
and FPN weights go on (`backbone.pt`), which `TrainConfig.init_from` loads into the full model
at any input size. But the features are tied to their scale (D6: the 64-px backbone scores 0.168
at 128 px), so a 128-px model relearns much of it: in T8 the full model started from it led the
recipe per image (0.123 against 0.142 after 16000 images) but only by about 0.005 at equal CPU
seconds, pre-training included. `PretrainPlan.input_size` = the model's own size avoids the
mismatch at four times the cost (T6).

Resumable: the state (weights, Adam, images seen, CPU seconds) is written atomically after every
chunk of `every` images, with a row of ``pretrain_curve.csv`` (2D error on the test split).
"""

from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handoccnet_lite.config import FEATURE_STRIDE, ModelConfig
from handoccnet_lite.losses import heatmap_cross_entropy
from handoccnet_lite.model.backbone import Backbone
from handoccnet_lite.utils import atomic_torch_save

NUM_JOINTS = 21
STATE_NAME = "pretrain_state.pt"
WEIGHTS_NAME = "backbone.pt"
CURVE_NAME = "pretrain_curve.csv"
#: Parameter prefixes handed to the full model: the trunk and the FPN (not the spatial gate,
#: which pre-training never uses).
KEPT_PREFIXES: tuple[str, ...] = ("trunk.", "fpn.")


@dataclass(frozen=True)
class PretrainPlan:
    """How much and at which input size to pre-train (the teaching defaults: trial T8)."""

    input_size: int = 64
    images: int = 64_000
    every: int = 16_000  # images between evaluations and saved states
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    eval_max: int = 300  # test images scored after each chunk

    def __post_init__(self) -> None:
        if self.input_size % (2 * FEATURE_STRIDE):
            raise ValueError(
                f"PretrainPlan.input_size must be a multiple of {2 * FEATURE_STRIDE} (feature "
                f"stride 8, a grid of at least 2), got {self.input_size}; 64 is the default."
            )
        if self.images < 1 or self.every < self.batch_size:
            raise ValueError(
                f"PretrainPlan: images ({self.images}) must be >= 1 and every ({self.every}) at "
                f"least one batch ({self.batch_size})."
            )


def backbone_config(model_cfg: ModelConfig, input_size: int) -> ModelConfig:
    """`model_cfg` at `input_size`, its hourglass made shallow enough for the smaller grid (the
    backbone alone is built from it; the hourglass depth does not touch the backbone)."""
    grid = input_size // model_cfg.feature_stride
    depth = min(model_cfg.hourglass_depth, grid.bit_length() - 1)
    return model_cfg.replace(hourglass_depth=depth).resized(input_size)


class DenseHead(nn.Module):
    """The full model's backbone + a 1x1 head on F: 21 heatmaps and one hand-mask logit."""

    def __init__(self, model_cfg: ModelConfig) -> None:
        super().__init__()
        self.backbone = Backbone(model_cfg)
        self.head = nn.Conv2d(model_cfg.feat_dim, NUM_JOINTS + 1, kernel_size=1)
        centres = (torch.arange(model_cfg.grid) + 0.5) / model_cfg.grid  # (G,)
        xy = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), -1)  # (G, G, 2)
        # (G*G, 2) as the soft-argmax's; derived from the config, so not saved
        self.register_buffer("centres", xy.reshape(-1, 2), persistent=False)

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """image (B, 3, S, S) -> heatmaps (B, J, G, G), joints (B, J, 2), mask logit (B, G, G)."""
        logits = self.head(self.backbone.features(image))  # (B, J + 1, G, G)
        prob = logits[:, :NUM_JOINTS].flatten(2).softmax(-1)  # (B, J, G*G)
        joints = prob @ self.centres  # (B, J, 2) soft-argmax in [0, 1]
        return prob.view_as(logits[:, :NUM_JOINTS]), joints, logits[:, NUM_JOINTS]


def dense_loss(net: DenseHead, batch: dict[str, Tensor], sigma: float) -> Tensor:
    """Heatmap cross-entropy (all joints) + BCE of the mask logit against the hand's cell share."""
    heatmaps, _, mask_logit = net(batch["image"])
    hand = (batch["visible_mask"] + batch["occluded_mask"]).clamp(0, 1)  # (B, G, G) amodal
    ce = heatmap_cross_entropy(heatmaps, batch["joints_img"], sigma)
    return ce + F.binary_cross_entropy_with_logits(mask_logit, hand)


@torch.no_grad()
def dense_rms_2d(net: DenseHead, dataset: Any, n: int, batch: int = 50) -> float:
    """2D error of the head's soft-argmax (crop sides, RMS per coordinate) on the first n items."""
    net.eval()
    total, count = 0.0, 0
    for i in range(0, min(n, len(dataset)), batch):
        items = [dataset[j] for j in range(i, min(i + batch, n, len(dataset)))]
        b = torch.utils.data.default_collate(items)
        err = net(b["image"])[1] - b["joints_img"]  # (b, J, 2)
        total, count = total + float(err.square().sum()), count + err.numel()
    return (total / max(count, 1)) ** 0.5


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one row to a CSV file, writing the header when the file is new."""
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def pretrain_backbone(
    model_cfg: ModelConfig, plan: PretrainPlan, data_root: str, test_root: str, out_dir: str | Path
) -> Path:
    """Pre-train `model_cfg`'s backbone on the dense task at plan.input_size; resumes from
    out_dir's state. Returns out_dir/backbone.pt (keys as in HandOccNet: ``backbone.trunk.*``,
    ``backbone.fpn.*``), the file `TrainConfig.init_from` takes."""
    from handoccnet_lite.data.dataset import SynthOccDataset
    from handoccnet_lite.engine.builders import build_train_dataset
    from handoccnet_lite.engine.train_config import TrainConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = backbone_config(model_cfg, plan.input_size)
    torch.manual_seed(plan.seed)
    net = DenseHead(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=plan.lr)
    seen, cpu = 0, 0.0
    if (out / STATE_NAME).is_file():
        state = torch.load(out / STATE_NAME, map_location="cpu", weights_only=False)
        if state.get("input_size") != plan.input_size:
            raise ValueError(
                f"{out / STATE_NAME} was pre-trained at input size {state.get('input_size')}, "
                f"this plan asks for {plan.input_size}: a backbone's features are tied to the "
                "scale they learned at (results/teach/trials D6). Use another folder, or delete "
                "this one to start the pre-training again."
            )
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        seen, cpu = int(state["images"]), float(state["cpu_seconds"])
    train_cfg = TrainConfig(model=cfg, data_root=data_root, seed=plan.seed, augment=True)
    data = build_train_dataset(train_cfg)
    test = SynthOccDataset(test_root, "test", plan.input_size, feature_stride=cfg.feature_stride)
    sigma = cfg.loss.heatmap_sigma
    while seen < plan.images:
        start = time.process_time()
        net.train()
        gen = torch.Generator().manual_seed(plan.seed * 1_000_003 + seen)
        order = torch.randperm(len(data), generator=gen)  # type: ignore[arg-type]
        chunk = min(plan.every, plan.images - seen)
        for k in range(0, chunk, plan.batch_size):
            idx = order[torch.arange(k, min(k + plan.batch_size, chunk)) % len(order)]
            loss = dense_loss(net, torch.utils.data.default_collate([data[i] for i in idx]), sigma)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seen += chunk
        cpu += time.process_time() - start
        err = dense_rms_2d(net, test, plan.eval_max)
        row = {"images": seen, "input_size": plan.input_size, "cpu_seconds": round(cpu, 1),
               "loss": round(loss.item(), 4), "rms_2d": round(err, 4)}  # fmt: skip
        append_row(out / CURVE_NAME, row)
        print(f"[pretrain {plan.input_size}px] {seen} images: 2D {err:.4f}", flush=True)
        state = {
            "net": net.state_dict(),
            "opt": opt.state_dict(),
            "images": seen,
            "input_size": plan.input_size,
            "cpu_seconds": cpu,
        }
        atomic_torch_save(state, out / STATE_NAME)
    kept = {
        f"backbone.{k}": v
        for k, v in net.backbone.state_dict().items()
        if k.startswith(KEPT_PREFIXES)
    }
    meta = {"images": seen, "input_size": plan.input_size, "cpu_seconds": round(cpu, 1)}
    atomic_torch_save({"model": kept, "pretrain": meta}, out / WEIGHTS_NAME)
    return out / WEIGHTS_NAME


def pretrained_start(
    model_cfg: ModelConfig,
    images: int,
    eval_max: int,
    data_root: str,
    test_root: str,
    folder: Path,
    record_dir: Path,
) -> tuple[Path, str]:
    """A teaching run's dense start (`teach --start dense`): pre-train in `folder` (resumable),
    copy its curve into `record_dir` (committed beside the snapshot); returns the weights and
    a description of the start for the run's record."""
    plan = PretrainPlan(images=images, eval_max=eval_max or 300)
    weights = pretrain_backbone(model_cfg, plan, data_root, test_root, folder)
    record_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / CURVE_NAME, record_dir / CURVE_NAME)
    return (
        weights,
        f"backbone pre-trained on the dense task ({images} images at {plan.input_size} px)",
    )


__all__ = [
    "DenseHead",
    "append_row",
    "PretrainPlan",
    "backbone_config",
    "dense_loss",
    "dense_rms_2d",
    "pretrain_backbone",
    "pretrained_start",
]
