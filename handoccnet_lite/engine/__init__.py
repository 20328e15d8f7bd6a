"""Training, evaluation and ablations. Imports point one way: ablation -> trainer -> the rest.

* `train_config`: `TrainConfig` (frozen, JSON round trip), the paper's schedules, the lr rule.
* `sampling`: seeded data order (per-item seeds, resumable sharded sampler, its DataLoader).
* `builders`: the model, training set, loss terms, trainable parameters and initial weights.
* `run_log`: log.csv (+ TensorBoard) of a run.
* `trainer`: `train(cfg, out_dir, resume=...)`: Adam with the paper's step schedule, NaN guards.
* `checkpoint`: atomic checkpoints with model, optimizer, scheduler, RNG states, data position.
* `ddp`: DistributedDataParallel under torchrun; the learning-rate scaling rule.
* `features`: the cached-feature protocol (feature heads, backbone keys, the feature cache).
* `evaluate`: per-sample records, summaries, accuracy vs occlusion, the mean-pose baseline.
* `overrides`: dotted-key ModelConfig overrides.
* `profiles`: the quick / cpu / teach / gpu recipes, the ablation grid's variants, what they cost.
* `profile_data`: a profile's SynthOcc sets (generated when missing, checked when present).
* `ablation`: the resumable variants x seeds runner and the CPU budget (cached-feature) protocol.
* `ablation_report`, `ablation_figures`: its tables, report.md and figures.
* `ablation_attention`: where each run's attention goes (gate AUC, FIT/SET ratio, graded gates).

Submodules import torch; importing this package does not (they load on first attribute access).
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "train_config",
    "sampling",
    "builders",
    "run_log",
    "trainer",
    "checkpoint",
    "ddp",
    "features",
    "evaluate",
    "overrides",
    "profiles",
    "profile_data",
    "ablation",
    "ablation_report",
    "ablation_attention",
    "ablation_figures",
)
_EXPORTS = {
    "TrainConfig": "train_config",
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
