"""What a training run depends on: `TrainConfig` (frozen, JSON round trip), the paper's
learning-rate schedules and the learning rate a run actually uses."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from handoccnet_lite.config import ModelConfig
from handoccnet_lite.engine import ddp

#: The paper's learning-rate schedules (Adam, lr 1e-4 at global batch 64).
SCHEDULES: dict[str, dict[str, float | int]] = {
    "ho3d": {"lr_gamma": 0.7, "lr_step_epochs": 10, "epochs": 70},
    "dexycb": {"lr_gamma": 0.9, "lr_step_epochs": 1, "epochs": 25},
}


# --------------------------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved as config.json next to the checkpoints).

    The learning rate actually used is `ddp.scaled_lr(base_lr, batch_size * world_size,
    lr_scaling, reference_batch)`: with the default linear rule, base_lr is the lr at the
    paper's global batch of 64 (16 per GPU x 4 GPUs).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data_root: str = "data_samples/synthocc"
    train_split: str = "train"
    augment: bool = True
    upright_sigma_deg: float | None = None  # the "upright" viewpoint option (AugmentConfig)
    max_samples: int = 0  # > 0: train on the first max_samples items only (smoke runs, tests)
    epochs: int = 1
    max_steps: int = 0  # > 0: stop after this many optimizer steps
    batch_size: int = 16  # per process
    base_lr: float = 1e-4  # at reference_batch
    lr_scaling: ddp.LrScaling = "linear"
    reference_batch: int = ddp.PAPER_GLOBAL_BATCH
    lr_gamma: float = 0.7  # HO-3D: x0.7 every 10 epochs; Dex-YCB: x0.9 every epoch
    lr_step_epochs: int = 10
    grad_clip: float = 0.0  # > 0: clip the global gradient norm (the paper does not clip)
    seed: int = 0
    num_workers: int = 0
    ckpt_every: int = 100  # steps; a checkpoint is also written at the end
    device: str = "auto"
    amp: Literal["auto", "bf16", "off"] = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    channels_last: bool = True  # CUDA only
    compile: bool = False  # torch.compile the model (CUDA advised)
    progress: bool = True
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    inputs: Literal["image", "features"] = "image"  # features: the cached-feature protocol
    init_from: str = ""  # model.pt whose weights initialise the model (e.g. a trained backbone)
    threads: int = 0  # > 0: torch.set_num_threads(threads) for the run (0: torch's default)

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "reference_batch", "lr_step_epochs", "ckpt_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}.")
        if not (self.base_lr > 0 and math.isfinite(self.base_lr)):
            raise ValueError(f"TrainConfig.base_lr must be a positive number, got {self.base_lr}.")
        if not 0 < self.lr_gamma <= 1:
            raise ValueError(f"TrainConfig.lr_gamma must be in (0, 1], got {self.lr_gamma}.")
        if self.lr_scaling not in ("linear", "none"):
            raise ValueError(f"lr_scaling must be 'linear' or 'none', got {self.lr_scaling!r}.")
        if self.amp not in ("auto", "bf16", "off"):
            raise ValueError(f"amp must be 'auto', 'bf16' or 'off', got {self.amp!r}.")
        if self.inputs not in ("image", "features"):
            raise ValueError(f"inputs must be 'image' or 'features', got {self.inputs!r}.")
        if min(self.max_steps, self.num_workers, self.max_samples) < 0:
            raise ValueError("TrainConfig.max_steps, num_workers and max_samples must be >= 0.")
        if self.threads < 0:
            raise ValueError(f"TrainConfig.threads must be >= 0 (0: default), got {self.threads}.")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def with_schedule(self, name: str) -> TrainConfig:
        """The paper's schedule for 'ho3d' or 'dexycb' (gamma, step and epochs)."""
        if name not in SCHEDULES:
            raise ValueError(f"Unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}.")
        return self.replace(**SCHEDULES[name])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"Unknown TrainConfig keys {sorted(unknown)}; expected a subset of {sorted(known)}."
            )
        d = dict(d)
        if isinstance(d.get("model"), dict):
            d["model"] = ModelConfig.from_dict(d["model"])
        return cls(**d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No TrainConfig file at {path}.")
        return cls.from_dict(json.loads(path.read_text()))


def learning_rate(cfg: TrainConfig, world_size: int = 1) -> float:
    """The lr this run uses (see TrainConfig)."""
    return ddp.scaled_lr(
        cfg.base_lr, cfg.batch_size * world_size, cfg.lr_scaling, cfg.reference_batch
    )
