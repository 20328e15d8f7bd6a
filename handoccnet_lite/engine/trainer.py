"""Training: Adam with the paper's step schedule, seeded data order, atomic resumable checkpoints.

One loop for every setting: CPU (fp32) or CUDA (bf16 autocast, channels_last, optional
torch.compile), one process or DistributedDataParallel under `torchrun` (see `engine.ddp`), images
or cached backbone features (the CPU budget protocol, see `engine.ablation`).

Reproducibility contract (tested): the data order of epoch e is a permutation drawn from
(seed, e); the augmentation of sample i in epoch e is drawn from its own seed (seed, e, i), so it
does not depend on worker count or on where a run was resumed; every checkpoint stores the model,
optimizer, scheduler, Python/NumPy/torch/CUDA random states and the position in the data order.
A run killed with SIGKILL and resumed ends with bitwise the same weights on the CPU as a run that
was never interrupted.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import math
import random
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from handoccnet_lite.config import ModelConfig
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine import ddp
from handoccnet_lite.utils import resolve_device, seed_everything

#: The paper's learning-rate schedules (Adam, lr 1e-4 at global batch 64).
SCHEDULES: dict[str, dict[str, float | int]] = {
    "ho3d": {"lr_gamma": 0.7, "lr_step_epochs": 10, "epochs": 70},
    "dexycb": {"lr_gamma": 0.9, "lr_step_epochs": 1, "epochs": 25},
}
LOG_NAME = "log.csv"
#: Keep every shard of the training set in memory: shuffled reads would otherwise reload (and
#: re-skin) a 500-image shard for almost every item (~100 ms each; measured 3x slower steps).
ALL_SHARDS = 1 << 30
CONFIG_NAME = "config.json"
SUMMARY_NAME = "summary.json"


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or inf; training stopped and the last good checkpoint was kept."""


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


# --------------------------------------------------------------------------------------------
# seeded data order
# --------------------------------------------------------------------------------------------
def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes and Python versions)."""
    digest = hashlib.blake2b(",".join(str(int(p)) for p in parts).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


@contextlib.contextmanager
def isolated_rng(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and torch for a block, then put the previous states back."""
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])


class SeededSamples(Dataset):
    """Wraps a dataset so item i of epoch e is drawn with its own seed (seed, e, i).

    Augmentation then depends neither on the worker that loads the item nor on where a run was
    resumed. Datasets that draw from the global Python/NumPy/torch generators are covered.
    """

    def __init__(self, base: Dataset, seed: int) -> None:
        self.base = base
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        set_dataset_epoch(self.base, epoch)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        with isolated_rng(derive_seed(self.seed, self.epoch, index)):
            return self.base[index]


def set_dataset_epoch(dataset: Dataset, epoch: int) -> None:
    """Tell a dataset (through Subset wrappers) which epoch it serves, for seeded augmentation."""
    while True:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
            return
        if not hasattr(dataset, "dataset"):
            return
        dataset = dataset.dataset


def warn_if_unseeded(dataset: Dataset) -> None:
    """SynthOccDataset(seed=None) draws fresh OS entropy per item: runs would not repeat."""
    while hasattr(dataset, "dataset") and not hasattr(dataset, "seed"):
        dataset = dataset.dataset
    if getattr(dataset, "seed", 0) is None and getattr(
        getattr(dataset, "cfg", None), "augment", False
    ):
        warnings.warn(
            "The training dataset augments without a seed (seed=None): this run cannot be "
            "repeated or resumed to the same weights. Pass seed=... to the dataset.",
            stacklevel=3,
        )


class EpochSampler(Sampler[int]):
    """Shuffled order drawn from (seed, epoch), sharded over ranks, resumable mid-epoch.

    Incomplete global batches are dropped, so every rank takes the same number of steps.
    Global batch b holds the permuted positions [b*B*W, (b+1)*B*W); rank r takes its r-th slice.
    """

    def __init__(self, n: int, batch_size: int, seed: int, world: ddp.World) -> None:
        global_batch = batch_size * world.world_size
        if n < global_batch:
            raise ValueError(
                f"The dataset has {n} samples, fewer than one global batch ({batch_size} x "
                f"{world.world_size} processes = {global_batch}); lower --batch-size or use "
                "more data."
            )
        self.n, self.batch_size, self.seed, self.world = n, batch_size, seed, world
        self.batches = n // global_batch  # per epoch, per rank
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch))
        perm = torch.randperm(self.n, generator=g)[
            : self.batches * self.batch_size * self.world.world_size
        ]
        mine = perm.view(self.batches, self.world.world_size, self.batch_size)[:, self.world.rank]
        return iter(mine[self.skip :].reshape(-1).tolist())

    def __len__(self) -> int:
        return (self.batches - self.skip) * self.batch_size


def worker_init_fn(worker_id: int) -> None:
    """Seed Python and NumPy in a DataLoader worker from the seed torch gave it."""
    seed = torch.initial_seed() % (2**32)
    random.seed(seed)
    np.random.seed(seed)


def make_loader(
    dataset: Dataset, sampler: EpochSampler, cfg: TrainConfig, epoch: int, skip: int
) -> DataLoader:
    """The DataLoader of one epoch (its generator seeded from (seed, epoch))."""
    sampler.set_epoch(epoch, skip)
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        worker_init_fn=worker_init_fn,
        generator=torch.Generator().manual_seed(derive_seed(cfg.seed, epoch, 1)),
        drop_last=True,
        pin_memory=False,
    )


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


def build_train_dataset(cfg: TrainConfig) -> Dataset:
    """SynthOcc at cfg.data_root (split cfg.train_split), cropped to the model's input size."""
    from handoccnet_lite.data.dataset import SynthOccDataset

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
        augment=cfg.augment,
        seed=cfg.seed,
        cache_shards=ALL_SHARDS,
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


def forward_batch(model: nn.Module, batch: dict[str, Tensor], inputs: str) -> dict[str, Tensor]:
    """Images through the whole model, or cached features through the parts after the FPN."""
    if inputs == "features":
        from handoccnet_lite.engine.ablation import forward_from_features

        return forward_from_features(model, batch["feat"])  # feat (B, C, G, G)
    return model(batch["image"])  # image (B, 3, S, S)


def trainable_parameters(model: nn.Module, inputs: str) -> list[nn.Parameter]:
    """All parameters, or only those after the FPN for the cached-feature protocol."""
    if inputs == "features":
        from handoccnet_lite.engine.ablation import head_parameters

        return head_parameters(model)
    return [p for p in model.parameters() if p.requires_grad]


# --------------------------------------------------------------------------------------------
# logging
# --------------------------------------------------------------------------------------------
class RunLog:
    """CSV log (one row per step) plus TensorBoard when installed; rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool, resume_step: int) -> None:
        self.path = out_dir / LOG_NAME
        self.enabled = enabled
        self.fields: list[str] | None = None
        self.tb = None
        if not enabled:
            return
        if resume_step > 0:
            self._truncate(resume_step)
        else:
            self.path.unlink(missing_ok=True)
        if tensorboard:
            with contextlib.suppress(ImportError, ModuleNotFoundError):
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tb"))

    def _truncate(self, step: int) -> None:
        """Drop rows logged after the checkpoint we resume from (a killed run wrote them)."""
        if not self.path.exists():
            return
        with self.path.open() as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        if rows:
            self.fields = list(rows[0])
        with self.path.open("w", newline="") as f:
            if rows:
                w = csv.DictWriter(f, fieldnames=self.fields)
                w.writeheader()
                w.writerows(rows)

    def write(self, row: dict[str, float]) -> None:
        if not self.enabled:
            return
        new = self.fields is None or not self.path.exists() or self.path.stat().st_size == 0
        if new:
            self.fields = list(row)
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch"):
                    self.tb.add_scalar(k, v, int(row["step"]))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def read_log(run_dir: str | Path) -> Any:
    """A run's log.csv as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(Path(run_dir) / LOG_NAME)


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What `train` returns; `summary` is also written to summary.json."""

    model: nn.Module
    out_dir: Path
    steps: int
    summary: dict[str, Any]


@dataclass
class _State:
    """Mutable pieces of a run, grouped to keep the functions small."""

    cfg: TrainConfig
    out_dir: Path
    world: ddp.World
    device: torch.device
    model: nn.Module  # possibly DDP/compiled
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    steps_per_epoch: int
    total_steps: int
    position: ckpt.DataPosition
    last_good: int = -1  # step of the last checkpoint written
    losses: dict[str, float] = field(default_factory=dict)
    images_per_s: float = 0.0


def autocast_context(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA ('auto' or 'bf16'), on CPU only when asked ('bf16'); else fp32."""
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step_decay(steps_per_epoch: int, every_epochs: int, gamma: float) -> Callable[[int], float]:
    """lr factor after `step` optimizer steps: gamma ** (epoch // every_epochs)."""

    def factor(step: int) -> float:
        return gamma ** ((step // steps_per_epoch) // every_epochs)

    return factor


def _prepare(
    cfg: TrainConfig, out_dir: Path, dataset: Dataset, resume: bool
) -> tuple[_State, EpochSampler]:
    """Device, process group, model, optimizer, schedule; restored from checkpoint if resuming."""
    device = resolve_device(cfg.device)
    world = ddp.setup(device)
    device = ddp.local_device(device, world)
    seed_everything(cfg.seed)  # same seed on every rank: identical initial weights
    model = build_model(cfg.model)
    if cfg.init_from:
        load_init_weights(model, cfg.init_from, backbone_only=cfg.inputs == "features")
    model.to(device)
    if device.type == "cuda" and cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    params = trainable_parameters(model, cfg.inputs)
    optimizer = torch.optim.Adam(params, lr=learning_rate(cfg, world.world_size))
    sampler = EpochSampler(len(dataset), cfg.batch_size, cfg.seed, world)  # type: ignore[arg-type]
    spe = sampler.batches
    total = cfg.epochs * spe if cfg.max_steps == 0 else min(cfg.epochs * spe, cfg.max_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optimizer, step_decay(spe, cfg.lr_step_epochs, cfg.lr_gamma)
    )
    position = ckpt.DataPosition(step=0, epoch=0, batch_in_epoch=0)
    if resume:
        position = _resume(cfg, out_dir, model, optimizer, sched, device)
    wrapped = ddp.wrap(_as_trained_module(model, cfg.inputs), device, world)
    if cfg.compile:
        wrapped = torch.compile(wrapped)
    state = _State(cfg, out_dir, world, device, wrapped, optimizer, sched, spe, total, position)
    state.last_good = position.step if resume else -1
    return state, sampler


def _resume(
    cfg: TrainConfig,
    out_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    sched: Any,
    device: torch.device,
) -> ckpt.DataPosition:
    state = ckpt.load_resume_checkpoint(out_dir, map_location=device)  # latest, else previous
    saved = TrainConfig.from_dict(state["config"])
    if saved.model != cfg.model or saved.seed != cfg.seed or saved.batch_size != cfg.batch_size:
        raise ValueError(
            f"--resume: the checkpoint in {out_dir} was made with a different model, seed or "
            "batch size; resume with the same config (its config.json) or use a new --out."
        )
    return ckpt.restore_training_state(state, model, optimizer, sched)


def _as_trained_module(model: nn.Module, inputs: str) -> nn.Module:
    """The module whose forward the loop calls (and DDP wraps): the model, or its feature head."""
    if inputs == "features":
        from handoccnet_lite.engine.ablation import FeatureHead

        return FeatureHead(model)
    return model


def load_init_weights(model: nn.Module, path: str | Path, backbone_only: bool = False) -> list[str]:
    """Copy every tensor of a model.pt/checkpoint whose name and shape match (only the backbone's
    with backbone_only, as in the cached-feature protocol); returns the names copied."""
    state = ckpt.load_checkpoint(ckpt.find_weights(path))["model"]
    own = model.state_dict()
    if backbone_only:
        from handoccnet_lite.engine.ablation import backbone_prefixes, is_backbone_key

        prefixes = backbone_prefixes(model)
        state = {k: v for k, v in state.items() if is_backbone_key(k, prefixes)}
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(
            f"{path}: no tensor matches this model; was it trained with another preset?"
        )
    model.load_state_dict(matched, strict=False)
    return sorted(matched)


def _to_device(
    batch: dict[str, Tensor], device: torch.device, channels_last: bool
) -> dict[str, Tensor]:
    out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if channels_last and device.type == "cuda" and "image" in out:
        out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
    return out


def _check_finite(s: _State, step: int, names: list[str], values: Tensor) -> None:
    """Raise NonFiniteLossError naming the step and the first non-finite loss term."""
    finite = torch.isfinite(values)
    if bool(finite.all()):
        return
    bad = names[int((~finite).nonzero()[0])]
    where = _last_good(s)
    raise NonFiniteLossError(
        f"Loss term '{bad}' is {values[names.index(bad)].item()} at step {step}; training "
        f"stopped and {where}. Check the data for NaN/inf targets, lower the learning rate or "
        "set grad_clip."
    )


def _raise_nonfinite_gradient(s: _State, step: int) -> None:
    """Raise NonFiniteLossError naming the step and the first parameter whose gradient is not
    finite (the weights are not updated)."""
    bad = next(
        name
        for name, p in s.model.named_parameters()
        if p.grad is not None and not bool(torch.isfinite(p.grad).all())
    )
    raise NonFiniteLossError(
        f"The loss is finite at step {step} but the gradient of '{bad}' is not; training stopped "
        f"before the update and {_last_good(s)}. From random initialisation this usually means "
        "activations grew until a backward overflowed: set feature_norm=batch in the model "
        "config, lower the learning rate or set grad_clip."
    )


def _last_good(s: _State) -> str:
    if s.last_good >= 0:
        return (
            f"the last good checkpoint is {s.out_dir / ckpt.CHECKPOINT_NAME} (step {s.last_good})"
        )
    return "no checkpoint was written yet"


def _train_step(s: _State, batch: dict[str, Tensor], step: int) -> dict[str, float]:
    """One optimizer step; returns the loss terms averaged over processes."""
    batch = _to_device(batch, s.device, s.cfg.channels_last)
    with autocast_context(s.device, s.cfg.amp):
        outputs = forward_batch(s.model, batch, s.cfg.inputs)
    outputs = {
        k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
        for k, v in outputs.items()
    }
    terms = compute_losses(outputs, batch, s.cfg.model)
    names = list(terms)
    values = ddp.all_reduce_mean(torch.stack([terms[k].detach().float() for k in names]), s.world)
    _check_finite(s, step, names, values.cpu())
    s.optimizer.zero_grad(set_to_none=True)
    terms["total"].backward()
    # The global gradient norm (clipped to grad_clip when set): a finite loss can still have
    # non-finite gradients (e.g. overflow in an attention backward), which would poison the
    # weights one step before the loss shows it.
    if s.cfg.grad_clip > 0:
        grad_norm = nn.utils.clip_grad_norm_(s.model.parameters(), s.cfg.grad_clip)
    else:  # the norm only: no rescaling pass over the gradients
        grads = [p.grad for p in s.model.parameters() if p.grad is not None]
        grad_norm = nn.utils.get_total_norm(grads)
    if not bool(torch.isfinite(grad_norm)):
        _raise_nonfinite_gradient(s, step)
    s.optimizer.step()
    s.scheduler.step()
    return dict(zip(names, values.cpu().tolist(), strict=True))


def _save(s: _State, step: int, epoch: int, batch_in_epoch: int) -> None:
    if s.world.is_main:
        position = ckpt.DataPosition(step=step, epoch=epoch, batch_in_epoch=batch_in_epoch)
        ckpt.save_checkpoint(
            s.out_dir / ckpt.CHECKPOINT_NAME,
            s.model,
            s.optimizer,
            s.scheduler,
            position,
            s.cfg.to_dict(),
            extra={"world_size": s.world.world_size},
        )
    s.last_good = step


def _progress(s: _State) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=s.total_steps,
        initial=s.position.step,
        desc="train",
        unit="step",
        disable=not (s.cfg.progress and s.world.is_main),
        dynamic_ncols=True,
    )


def _run_epochs(s: _State, dataset: Dataset, sampler: EpochSampler, log: RunLog) -> int:
    """The epochs from the resume position to the end; returns the steps done in total."""
    step = s.position.step
    global_batch = s.cfg.batch_size * s.world.world_size
    bar = _progress(s)
    try:
        for epoch in range(s.position.epoch, s.cfg.epochs):
            skip = s.position.batch_in_epoch if epoch == s.position.epoch else 0
            if step >= s.total_steps:
                break
            loader = make_loader(dataset, sampler, s.cfg, epoch, skip)
            tick = time.perf_counter()
            for i, batch in enumerate(loader, start=skip):
                lr = s.optimizer.param_groups[0]["lr"]  # the lr this step uses
                row = _train_step(s, batch, step + 1)
                step += 1
                now = time.perf_counter()
                ips = global_batch / max(now - tick, 1e-9)
                tick = now
                s.images_per_s = ips if s.images_per_s == 0 else 0.9 * s.images_per_s + 0.1 * ips
                s.losses = row
                log.write({"step": step, "epoch": epoch, "lr": lr, **row, "images_per_s": ips})
                bar.update(1)
                bar.set_postfix(loss=f"{row['total']:.4g}", img_s=f"{s.images_per_s:.1f}")
                end_of_epoch = i + 1 == s.steps_per_epoch
                if step % s.cfg.ckpt_every == 0 or step == s.total_steps:
                    nxt = (epoch + 1, 0) if end_of_epoch else (epoch, i + 1)
                    _save(s, step, *nxt)
                if step >= s.total_steps:
                    break
    finally:
        bar.close()
    return step


def train(
    cfg: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    dataset: Dataset | None = None,
) -> TrainResult:
    """Train (or continue with resume=True) and write the run folder.

    out_dir receives config.json, log.csv, checkpoint.pt (every cfg.ckpt_every steps and at the
    end), model.pt (final weights + model config) and summary.json. `dataset` overrides the
    SynthOcc set at cfg.data_root (items as in docs/INTERFACES.md, or {"feat", ...targets} when
    cfg.inputs == "features"). Raises NonFiniteLossError on a NaN/inf loss.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = pin_hand_model(cfg)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    base = (
        first_items(dataset, cfg.max_samples) if dataset is not None else build_train_dataset(cfg)
    )
    warn_if_unseeded(base)
    data = SeededSamples(base, cfg.seed)
    s, sampler = _prepare(cfg, out_dir, data, resume)
    if s.world.is_main:
        cfg.save(out_dir / CONFIG_NAME)
    log = RunLog(out_dir, s.world.is_main, cfg.tensorboard, s.position.step if resume else 0)
    start = time.perf_counter()
    try:
        steps = _run_epochs(s, data, sampler, log)
        summary = _finish(s, steps, time.perf_counter() - start)
    finally:
        log.close()
        ddp.cleanup()
    return TrainResult(model=ckpt.unwrap(s.model), out_dir=out_dir, steps=steps, summary=summary)


def _finish(s: _State, steps: int, seconds: float) -> dict[str, Any]:
    """Replica check, model.pt and summary.json."""
    ddp.broadcast_buffers(ckpt.unwrap(s.model), s.world)
    diff = ddp.max_param_difference(ckpt.unwrap(s.model), s.world)
    summary = {
        "steps": steps,
        "seconds": round(seconds, 3),
        "images_per_s": round(s.images_per_s, 3),
        "final_losses": s.losses,
        "lr_initial": learning_rate(s.cfg, s.world.world_size),
        "lr_rule": f"{s.cfg.lr_scaling}: base_lr {s.cfg.base_lr} at global batch "
        f"{s.cfg.reference_batch}",
        "global_batch": s.cfg.batch_size * s.world.world_size,
        "world_size": s.world.world_size,
        "device": str(s.device),
        "max_replica_difference": diff,
    }
    if s.world.is_main:
        ckpt.save_model(s.out_dir / ckpt.MODEL_NAME, s.model, s.cfg.model.to_dict(), steps=steps)
        (s.out_dir / SUMMARY_NAME).write_text(json.dumps(summary, indent=2))
    return summary
