"""Checkpoints that make a killed run resumable to the same bits.

A checkpoint holds everything the next step depends on: model, optimizer and scheduler state,
the random states of Python, NumPy, torch (CPU and every CUDA device), the position in the data
order (global step, epoch, batch within the epoch) and the run's config.

Safety: every file is read with `torch.load(weights_only=True)`: tensors and plain data only
(dict, list, tuple, str, int, float, bool, None), so a crafted pickle cannot run code; the NumPy
RNG state is stored as plain lists for that reason. Loss: the last two training checkpoints are
kept (`checkpoint.pt`, `checkpoint.prev.pt`); the new one is written to a temp file first, then
the latest becomes the previous and the temp file the latest (two renames), so a crash or a
truncated latest always leaves a checkpoint to resume from (`load_resume_checkpoint`).
"""

from __future__ import annotations

import os
import pickle
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handoccnet_lite.utils import atomic_torch_save, write_bytes_durably

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_NAME = "checkpoint.prev.pt"
MODEL_NAME = "model.pt"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: truncated, not a checkpoint, or asking to run code."""


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
    """Write a full training checkpoint; the one it replaces is kept as `checkpoint.prev.pt`
    (`rotate_in`); returns its path. Everything stored loads with weights_only=True."""
    path = Path(path)
    state = {
        "format": FORMAT_VERSION,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "position": position.__dict__.copy(),
        "rng": plain_rng_state(rng_state()),
        "config": config,
        "extra": extra or {},
    }
    rotate_in(state, path)
    return path


def previous_path(path: str | Path) -> Path:
    """checkpoint.pt -> checkpoint.prev.pt (the same folder)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def rotate_in(obj: Any, path: Path) -> None:
    """Serialise `obj`, write it durably to a temp file beside `path`, then rename `path` to
    its previous name and the temp file to `path`. At every instant the folder holds the
    previous checkpoint, the new one, or both (between the two renames: only the previous)."""
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    tmp = path.with_name(f".{path.name}.tmp")
    write_bytes_durably(tmp, buf.getvalue())
    try:
        if path.is_file():
            os.replace(path, previous_path(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_checkpoints(run_dir: str | Path) -> None:
    """Delete a run's training checkpoints (latest and previous), keeping model.pt."""
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        (Path(run_dir) / name).unlink(missing_ok=True)


def plain_rng_state(state: dict[str, Any]) -> dict[str, Any]:
    """`rng_state()` with NumPy's state as plain data: ('MT19937', keys (624,) as a list of
    ints, pos, has_gauss, cached_gaussian), so the checkpoint loads with weights_only=True."""
    kind, keys, pos, has_gauss, cached = state["numpy"]
    numpy_plain = (str(kind), np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached))
    return state | {"numpy": numpy_plain}


def _numpy_array_globals() -> list[Any]:
    """NumPy's array reconstruction (data only, no code): checkpoints written before the RNG
    state was stored as plain lists hold one array, so they stay loadable with weights_only."""
    from numpy.dtypes import UInt32DType

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return [_reconstruct, np.ndarray, np.dtype, UInt32DType]


def safe_torch_load(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """torch.load(weights_only=True) with errors a person can act on (`CheckpointError`)."""
    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" in str(e):
            what = str(e).split("Unsupported global:", 1)[1].split(" was ", 1)[0].strip()
            raise CheckpointError(
                f"{path}: refused to load: it asks to run {what}, which a checkpoint never "
                "needs (only tensors and plain data are loaded). Do not use a file of unknown "
                "origin; retrain or re-export the run (`handoccnet-lite export`)."
            ) from e
        raise _corrupt(path, e) from e
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated zip (OSError, RuntimeError), random bytes (any error)
        raise _corrupt(path, e) from e


def _corrupt(path: Path, err: BaseException) -> CheckpointError:
    reason = " ".join(str(err).split())[:120] or type(err).__name__
    return CheckpointError(
        f"{path}: not a readable checkpoint (truncated or corrupt: {reason}); resume from "
        f"{PREVIOUS_NAME} if the run has one, or retrain / re-export it."
    )


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
    state = safe_torch_load(path, "cpu")
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a handoccnet-lite checkpoint (no 'model' entry).")
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


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether a run folder can resume: it holds checkpoint.pt or, after a stop between the two
    renames of `rotate_in`, only checkpoint.prev.pt (`load_resume_checkpoint` reads either)."""
    run_dir = Path(run_dir)
    return (run_dir / CHECKPOINT_NAME).is_file() or (run_dir / PREVIOUS_NAME).is_file()


def load_resume_checkpoint(
    run_dir: str | Path, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """The latest readable training checkpoint of a run: checkpoint.pt, or, when that one is
    missing, truncated or corrupt, checkpoint.prev.pt with a warning saying so."""
    run_dir = Path(run_dir)
    latest, previous = run_dir / CHECKPOINT_NAME, run_dir / PREVIOUS_NAME
    if not latest.is_file() and not previous.is_file():
        raise FileNotFoundError(
            f"--resume: no {CHECKPOINT_NAME} in {run_dir}; start without --resume or point "
            "--out at the folder of the run to continue."
        )
    try:
        return load_checkpoint(latest, map_location)
    except (CheckpointError, FileNotFoundError) as err:
        if not previous.is_file():
            raise
        warnings.warn(
            f"{err} Resuming from the previous checkpoint {previous} instead.", stacklevel=2
        )
        return load_checkpoint(previous, map_location)


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
