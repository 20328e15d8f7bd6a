"""Training: Adam with the paper's step schedule, seeded data order, atomic resumable checkpoints.

One loop for every setting: CPU (fp32) or CUDA (bf16 autocast, channels_last, optional
torch.compile), one process or DistributedDataParallel under `torchrun` (see `engine.ddp`), images
or cached backbone features (the CPU budget protocol, see `engine.features`).

Reproducibility contract (tested): the data order of epoch e is a permutation drawn from
(seed, e); the augmentation of sample i in epoch e is drawn from its own seed (seed, e, i), so it
does not depend on worker count or on where a run was resumed; every checkpoint stores the model,
optimizer, scheduler, Python/NumPy/torch/CUDA random states and the position in the data order.
A run killed with SIGKILL and resumed ends with bitwise the same weights on the CPU as a run that
was never interrupted.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine import ddp
from handoccnet_lite.engine.builders import (
    build_model,
    build_train_dataset,
    compute_losses,
    first_items,
    load_init_weights,
    pin_hand_model,
    trainable_parameters,
)
from handoccnet_lite.engine.features import FeatureHead, forward_batch
from handoccnet_lite.engine.run_log import RunLog
from handoccnet_lite.engine.sampling import (
    EpochSampler,
    SeededSamples,
    make_loader,
    warn_if_unseeded,
)
from handoccnet_lite.engine.train_config import TrainConfig, learning_rate
from handoccnet_lite.utils import resolve_device, seed_everything

CONFIG_NAME = "config.json"
SUMMARY_NAME = "summary.json"


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or inf; training stopped and the last good checkpoint was kept."""


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
        return FeatureHead(model)
    return model


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
    loader = make_loader(dataset, sampler, s.cfg)  # one per run: workers persist across epochs
    try:
        for epoch in range(s.position.epoch, s.cfg.epochs):
            skip = s.position.batch_in_epoch if epoch == s.position.epoch else 0
            if step >= s.total_steps:
                break
            sampler.set_epoch(epoch, skip)  # read when the loop below starts the pass
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
        del loader  # its persistent workers end with it
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
