"""Dotted-key overrides of a ModelConfig: how profiles and ablation variants change a preset."""

from __future__ import annotations

import dataclasses
from typing import Any

from handoccnet_lite.config import ModelConfig


def apply_overrides(cfg: ModelConfig, overrides: dict[str, Any]) -> ModelConfig:
    """ModelConfig with dotted-key overrides: {"fit.attention": "softmax", "use_set": False}.

    ``input_size`` and ``feature_stride`` resize the model together (`ModelConfig.resized`: the
    token grid and the transformers' grids follow); put ``hourglass_depth`` before them when the
    grid shrinks.
    """
    for key, value in overrides.items():
        if key in ("input_size", "feature_stride"):
            size = int(overrides.get("input_size", cfg.input_size))
            cfg = cfg.resized(size, int(overrides.get("feature_stride", cfg.feature_stride)))
            continue
        head, _, rest = key.partition(".")
        if not hasattr(cfg, head):
            fields = sorted(f.name for f in dataclasses.fields(cfg))
            raise ValueError(f"Unknown config key {key!r}; top-level keys are {fields}.")
        if rest:
            sub = getattr(cfg, head)
            if not dataclasses.is_dataclass(sub) or not hasattr(sub, rest):
                raise ValueError(f"Unknown config key {key!r}: {head} has no field {rest!r}.")
            value = dataclasses.replace(sub, **{rest: value})
        cfg = dataclasses.replace(cfg, **{head: value})
    return cfg
