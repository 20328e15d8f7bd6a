"""Training, evaluation and ablations.

* `trainer`: `TrainConfig` (frozen, JSON round trip) and `train(cfg, out_dir, resume=...)`:
  Adam with the paper's step schedule, seeded data order, CSV/TensorBoard logs, NaN guard.
* `checkpoint`: atomic checkpoints with model, optimizer, scheduler, RNG states, data position.
* `ddp`: DistributedDataParallel under torchrun; the learning-rate scaling rule.
* `evaluate`: per-sample records, summaries, accuracy vs occlusion, the mean-pose baseline.
* `ablation`: the resumable variants x seeds runner and the CPU budget (cached-feature) protocol.
* `profiles`: the quick / cpu / gpu recipes and what they cost.

Submodules import torch; importing this package does not (they load on first attribute access).
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("trainer", "checkpoint", "ddp", "evaluate", "ablation", "profiles")
_EXPORTS = {
    "TrainConfig": "trainer",
    "train": "trainer",
    "NonFiniteLossError": "trainer",
    "evaluate_model": "evaluate",
    "MeanPoseBaseline": "evaluate",
    "Ablation": "ablation",
    "get_profile": "profiles",
}

__all__ = [*_SUBMODULES, *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
