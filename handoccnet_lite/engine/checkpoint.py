"""Checkpoints that make a killed run resumable to the same bits.

A checkpoint holds everything the next step depends on: model, optimizer and scheduler state,
the random states of Python, NumPy, torch (CPU and every CUDA device), the position in the data
order (global step, epoch, batch within the epoch) and the run's config. It is written through a
temp file + rename (`utils.atomic_torch_save`): a run killed mid-write keeps the previous one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handoccnet_lite.utils import atomic_torch_save

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
FORMAT_VERSION = 1


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DistributedDataParallel and/or torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module  # DDP / DataParallel
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod  # torch.compile
        else:
            return model


def rng_state() -> dict[str, Any]:
    """Snapshot of every global random generator the training loop touches."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _cpu_byte_tensor(name: str, t: Any) -> torch.Tensor:
    """An RNG state as the CPU uint8 tensor torch's setters require (a checkpoint read with a
    non-CPU map_location has it on that device: "RNG state must be a torch.ByteTensor")."""
    t = torch.as_tensor(t)
    if t.device.type == "meta":
        raise ValueError(
            f"The {name} RNG state was loaded to the meta device and holds no data; read the "
            "checkpoint with engine.checkpoint.load_checkpoint (it keeps RNG states on the CPU)."
        )
    return t.to(device="cpu", dtype=torch.uint8)


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot made by `rng_state` (CUDA states only when CUDA is present).
    Tensor states are used from CPU ByteTensors whatever device they were loaded to."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(_cpu_byte_tensor("torch", state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_cpu_byte_tensor("cuda", s) for s in state["cuda"]])


@dataclass(frozen=True)
class DataPosition:
    """Where the data order stands after `step` optimizer steps."""

    step: int  # optimizer steps done
    epoch: int  # epoch the next batch belongs to
    batch_in_epoch: int  # batches of that epoch already consumed


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    position: DataPosition,
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a full training checkpoint atomically; returns its path."""
    path = Path(path)
    state = {
        "format": FORMAT_VERSION,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "position": position.__dict__.copy(),
        "rng": rng_state(),
        "config": config,
        "extra": extra or {},
    }
    atomic_torch_save(state, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` or `save_model`, with a clear error.

    Everything but the RNG states goes to `map_location`; the RNG states stay CPU ByteTensors
    (`torch.set_rng_state` and `torch.cuda.set_rng_state_all` accept nothing else), so a
    checkpoint read with map_location="cuda" resumes instead of failing with "RNG state must be
    a torch.ByteTensor".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No checkpoint at {path}; pass a run folder that holds {CHECKPOINT_NAME} or "
            f"{MODEL_NAME} (written by `handoccnet-lite train`)."
        )
    # weights_only=False: the RNG states hold NumPy/Python objects. Only load your own files.
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a handoccnet-lite checkpoint (no 'model' entry).")
    device = torch.device(map_location)
    if device.type != "cpu":
        state = {k: v if k == "rng" else _tensors_to(v, device) for k, v in state.items()}
    return state


def _tensors_to(obj: Any, device: torch.device) -> Any:
    """obj with every tensor in its (nested) dicts, lists and tuples moved to `device`."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _tensors_to(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors_to(v, device) for v in obj)
    return obj


def restore_training_state(
    state: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> DataPosition:
    """Load model/optimizer/scheduler and the RNG states; returns where the data order stands."""
    unwrap(model).load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return DataPosition(**state["position"])


def save_model(
    path: str | Path, model: nn.Module, model_config: dict[str, Any], **meta: Any
) -> Path:
    """Weights + model config only (what `eval` and `demo` need), written atomically."""
    path = Path(path)
    atomic_torch_save(
        {
            "format": FORMAT_VERSION,
            "model": unwrap(model).state_dict(),
            "model_config": model_config,
        }
        | meta,
        path,
    )
    return path


def find_weights(path: str | Path) -> Path:
    """A run folder, a model.pt or a checkpoint.pt -> the file holding the weights."""
    path = Path(path)
    if path.is_dir():
        for name in (MODEL_NAME, CHECKPOINT_NAME):
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(
            f"{path} holds neither {MODEL_NAME} nor {CHECKPOINT_NAME}; train first "
            "(`handoccnet-lite train --out DIR`) or pass the right run folder."
        )
    if not path.is_file():
        raise FileNotFoundError(f"No such checkpoint or run folder: {path}.")
    return path


def model_config_of(state: dict[str, Any]) -> dict[str, Any]:
    """The ModelConfig dict stored in a model.pt or in a training checkpoint's TrainConfig."""
    if "model_config" in state:
        return state["model_config"]
    return state["config"]["model"]


def trained_model_config(state: dict[str, Any]) -> Any:
    """The ModelConfig to rebuild a trained model from `state`, without `pretrained_backbone`:
    the checkpoint holds every weight, so the ImageNet file the run started from (a path on the
    training machine) is neither needed nor read."""
    from handoccnet_lite.config import ModelConfig

    return ModelConfig.from_dict(model_config_of(state)).replace(pretrained_backbone=None)


def float_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict with float16 tensors cast back to float32 (see `export_model`)."""
    return {k: v.float() if v.dtype == torch.float16 else v for k, v in state_dict.items()}


#: Test metrics copied into an exported model's .json when its run folder has them.
EXPORTED_METRICS = (
    "pa_mpjpe", "mpjpe", "pa_mpvpe", "f5", "f15", "pred_spread", "gt_spread", "alignment",
)  # fmt: skip


def run_evaluation(weights: Path) -> dict[str, Any] | None:
    """The test evaluation recorded beside a run's weights, or None: `test_metrics.json` of the
    run folder (an ablation's stage 1 has one) and, when the folder sits in an ablation, the
    PA-MPJPE of its constant baselines (`mean_pose.json`, `mean_hand.json` one level up)."""
    import json

    folder = weights.parent
    try:
        metrics = json.loads((folder / "test_metrics.json").read_text())
    except (OSError, ValueError):
        return None
    out: dict[str, Any] = {k: metrics[k] for k in EXPORTED_METRICS if k in metrics}
    for name in ("mean_pose", "mean_hand"):
        try:
            ref = json.loads((folder.parent / f"{name}.json").read_text())["pa_mpjpe"]
        except (OSError, ValueError, KeyError):
            continue
        out[f"{name}_pa_mpjpe"] = ref
    return out


def export_model(src: str | Path, dst: str | Path, half: bool = True, **meta: Any) -> Path:
    """A small, shareable copy of a run's weights: `dst` (.pt, float16 storage when `half`)
    plus `dst` with suffix .json (the model config, `meta`, and the run's test evaluation when
    recorded: `run_evaluation`). Loading goes through `float_weights`, so the model computes in
    float32 either way."""
    import json

    src_path = find_weights(src)
    state = load_checkpoint(src_path)
    weights = state["model"]
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    info = {
        "storage_dtype": "float16" if half else "float32",
        "source": str(src_path),
        "steps": state.get("steps"),
        **meta,
    }
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(
        {"format": FORMAT_VERSION, "model": weights, "model_config": model_config_of(state)} | info,
        dst,
    )
    config = {"model_config": model_config_of(state), **info}
    evaluation = run_evaluation(src_path)
    if evaluation is not None:
        config["evaluation"] = evaluation
    dst.with_suffix(".json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    return dst
