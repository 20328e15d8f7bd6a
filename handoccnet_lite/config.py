"""Configuration dataclasses: one frozen config per part, named presets, JSON/YAML round trip.

Every ablation knob lives here, so a run is fully described by its config file.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Variant = Literal["supplement", "official"]
AttentionMode = Literal["softmax_sigmoid", "softmax", "sigmoid"]
GatePool = Literal["mean", "sum"]
ComputePath = Literal["auto", "explicit", "fused"]


@dataclass(frozen=True)
class TransformerConfig:
    """FIT or SET.

    `variant="supplement"` follows Algorithms 1 and 2 of the supplementary material exactly
    (single head, d_k = C, one block, no positional embeddings, mean-pooled sigmoid gate);
    `variant="official"` follows the released code (4 heads, depth 2, sum-pooled gate, learned
    positional embeddings, FIT fusion convs, raw-query residual in SET).
    """

    variant: Variant = "official"
    dim: int = 256
    heads: int = 4
    depth: int = 2
    mlp_ratio: float = 4.0
    grid: int = 32  # token grid side G: N = G * G tokens
    attention: AttentionMode = "softmax_sigmoid"  # FIT only
    gate_pool: GatePool | None = None  # None: the variant's own (official "sum", supplement "mean")
    path: ComputePath = "auto"  # auto: fused unless maps are requested

    @property
    def pool(self) -> GatePool:
        if self.gate_pool is not None:
            return self.gate_pool
        return "sum" if self.variant == "official" else "mean"

    @property
    def num_heads(self) -> int:
        return 1 if self.variant == "supplement" else self.heads

    @property
    def num_blocks(self) -> int:
        return 1 if self.variant == "supplement" else self.depth


@dataclass(frozen=True)
class LossWeights:
    """The paper's loss weights (official config)."""

    verts: float = 1e4
    joints: float = 1e4
    pose: float = 10.0
    shape: float = 0.1
    joints_img: float = 100.0


@dataclass(frozen=True)
class ModelConfig:
    backbone: Literal["resnet18", "resnet34", "resnet50"] = "resnet50"
    activation: Literal["leaky_relu", "relu"] = "leaky_relu"  # the release uses LeakyReLU
    pretrained_backbone: str | None = None  # local path to ImageNet weights; never downloaded
    input_size: int = 256
    feat_dim: int = 256
    grid: int = 32
    use_fit: bool = True
    use_set: bool = True
    fit: TransformerConfig = field(default_factory=TransformerConfig)
    set: TransformerConfig = field(default_factory=TransformerConfig)
    hourglass_channels: int = 256
    hand_model: str = "auto"  # "auto" | "synth" | "mano"
    loss: LossWeights = field(default_factory=LossWeights)

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"Unknown ModelConfig keys {sorted(unknown)}; expected a subset of {sorted(known)}."
            )
        d = dict(d)
        for key in ("fit", "set"):
            if isinstance(d.get(key), dict):
                d[key] = TransformerConfig(**d[key])
        if isinstance(d.get("loss"), dict):
            d["loss"] = LossWeights(**d["loss"])
        return cls(**d)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2)
        if path.suffix in (".yml", ".yaml"):
            import yaml

            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        path.write_text(text)

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        path = Path(path)
        if path.suffix in (".yml", ".yaml"):
            import yaml

            return cls.from_dict(yaml.safe_load(path.read_text()))
        return cls.from_dict(json.loads(path.read_text()))
