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
    # Not in the paper (0 = off, the release): cross-entropy between the soft-argmax heatmaps and
    # a Gaussian around each 2D joint (losses.heatmap_cross_entropy): a dense, per-pixel signal
    # for the 2D branch. The cpu profile turns it on (engine.profiles.CPU_MODEL_OVERRIDES;
    # trials in results/cpu_ablation/trials/recipe.md).
    heatmap: float = 0.0
    heatmap_sigma: float = 1.0  # the Gaussian's std in heatmap cells
    # Not in the paper (0 = off): binary cross-entropy between the spatial gate s and the
    # fraction of each cell covered by the *visible* hand (losses.gate_mask_bce), i.e. telling
    # the gate what the paper says it should find (F_P = F * s, the visible hand).
    gate: float = 0.0
    # Not in the paper (0 = off): MSE of the root-relative 3D joints after giving the prediction
    # the true global orientation (losses.hand_frame_joints), i.e. the articulation alone. The
    # camera-frame joint term mixes finger errors with the (early on, unknown) orientation; this
    # one is what PA-MPJPE measures, up to scale. The cpu profile turns it on.
    joints_hand: float = 0.0


Backbone = Literal["resnet18", "resnet34", "resnet50"]
Activation = Literal["leaky_relu", "relu"]
ManoInit = Literal["release", "identity"]
FeatureNorm = Literal["none", "batch"]
PoseConvention = Literal["flat", "mean"]
BACKBONES: tuple[str, ...] = ("resnet18", "resnet34", "resnet50")
ACTIVATIONS: tuple[str, ...] = ("leaky_relu", "relu")
HAND_MODELS: tuple[str, ...] = ("auto", "synth", "mano")
MANO_INITS: tuple[str, ...] = ("release", "identity")
FEATURE_NORMS: tuple[str, ...] = ("none", "batch")
POSE_CONVENTIONS: tuple[str, ...] = ("flat", "mean")
FEATURE_STRIDE = 8  # P2 has stride 4 and is average-pooled 2x: grid G = input_size / 8
FEATURE_STRIDES: tuple[int, ...] = (8, 4)  # ModelConfig.feature_stride: the release's, or P2 as is


@dataclass(frozen=True)
class ModelConfig:
    """The whole network: backbone + gate, FIT, SET, regressor, hand layer, loss weights.

    Sizes must agree (checked on construction, clear errors): ``grid == input_size / 8``;
    ``fit``/``set`` have ``dim == feat_dim`` and ``grid == grid``; ``grid`` is a power of two
    divisible by ``2 ** hourglass_depth``. ``resized(S)`` changes the input size consistently.

    The regressor's flattened encoding has ``4 * hourglass_channels`` entries (the encoder
    max-pools the G x G head feature down to 2 x 2): 1024 in the paper.
    Use ``preset("paper" | "lite" | "tiny")`` rather than building one by hand; see `preset` for
    how ``lite`` was chosen.
    """

    backbone: Backbone = "resnet50"
    activation: Activation = "leaky_relu"  # the release uses LeakyReLU(0.01) in its ResNet
    pretrained_backbone: str | None = None  # local path to ImageNet weights; never downloaded
    backbone_stages: int = 4  # ResNet stages feeding the FPN: 4 = C2..C5 (release), 3 = C2..C4
    input_size: int = 256
    feat_dim: int = 256  # FPN / gate / FIT / SET channels C
    grid: int = 32  # token grid side G = input_size / feature_stride
    # The feature F's stride: 8 (the release: the FPN's P2, stride 4, average-pooled 2x) or 4 (not
    # in the release: P2 as is, so a 64-px input gives the 16 x 16 tokens of a 128-px one at about
    # 0.6x the CPU per image; results/teach/trials T11)
    feature_stride: int = FEATURE_STRIDE
    use_fit: bool = True  # False: SET receives the primary feature F_P
    use_set: bool = True  # False: identity
    fit: TransformerConfig = field(default_factory=TransformerConfig)
    set: TransformerConfig = field(default_factory=TransformerConfig)
    hourglass_channels: int = 256  # heatmap head width (release: 256); 1x1 projection if != C
    hourglass_depth: int = 4  # release: one hourglass of depth 4
    mano_hidden: tuple[int, int] = (1024, 512)  # MANO head MLP widths (release: 1024, 512)
    hand_model: str = "auto"  # "auto" | "synth" | "mano" (handoccnet_lite.hand.load_hand_model)
    # MANO head output init: "release" (weights N(0, 0.01), bias 0, so the 6D outputs start near
    # 0 and Gram-Schmidt turns them into random rotations) or "identity" (bias = the identity's
    # 6D, so every rotation starts at the mean hand; see Regressor)
    mano_init: ManoInit = "release"
    # Normalisation of the FPN output F before the gate, FIT and SET: "none" (the release) or
    # "batch" (BatchNorm2d after the smoothing conv). From random initialisation the unnormalised
    # F grows (std ~60 after 750 steps) and the attention logits reach 1e3-5e6: saturated,
    # one-hot softmax maps (see Backbone and results/cpu_ablation/trials/recipe.md)
    feature_norm: FeatureNorm = "none"
    # What the MANO head's 16 rotations mean: "flat" (the package's convention, docs/INTERFACES.md:
    # zero = flat hand) or "mean" (relative to the hand model's mean finger pose, MANO's
    # hands_mean: the release's MANO layer has flat_hand_mean=False, so its weights predict this).
    # With "mean" the regressor adds the mean finger pose, so its `pose`, `rotmats` and mesh are
    # in the flat convention either way (model.regressor.Regressor). Official checkpoints: "mean".
    pose_convention: PoseConvention = "flat"
    loss: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mano_hidden", tuple(int(v) for v in self.mano_hidden))
        validate_model_config(self)

    @property
    def encoder_stages(self) -> int:
        """Residual stages of the regressor's encoder, each ending in a 2x max-pool: G -> 2."""
        return self.grid.bit_length() - 2  # log2(G) - 1

    @property
    def encoding_dim(self) -> int:
        """Length of the flattened encoder output fed to the MANO head (paper: 1024)."""
        return self.hourglass_channels * 4

    def resized(self, input_size: int, feature_stride: int | None = None) -> ModelConfig:
        """The same model for another input size (and feature stride, when given): grid and the
        transformers' grids follow."""
        stride = self.feature_stride if feature_stride is None else feature_stride
        grid = input_size // stride
        return self.replace(
            input_size=input_size,
            feature_stride=stride,
            grid=grid,
            fit=dataclasses.replace(self.fit, grid=grid),
            set=dataclasses.replace(self.set, grid=grid),
        )

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mano_hidden"] = list(self.mano_hidden)  # YAML safe_dump has no tuples
        return d

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


# --------------------------------------------------------------------------- validation
def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"ModelConfig.{name}={value!r} is not supported; choose one of {choices}.")


def _check_stages(cfg: ModelConfig) -> None:
    if cfg.backbone_stages not in (3, 4):
        raise ValueError(
            f"ModelConfig.backbone_stages={cfg.backbone_stages!r} is not supported; use 4 "
            "(C2..C5 into the FPN, the release) or 3 (C2..C4: ResNet layer4 dropped)."
        )


def _check_sizes(cfg: ModelConfig) -> None:
    """grid = input_size / feature_stride, power of two, deep enough for the hourglass and the
    encoder."""
    stride = cfg.feature_stride
    if stride not in FEATURE_STRIDES:
        raise ValueError(
            f"ModelConfig.feature_stride={stride!r} is not supported; use 8 (the release: P2 "
            "pooled 2x) or 4 (P2 as is)."
        )
    if cfg.input_size % stride or cfg.grid * stride != cfg.input_size:
        how = "P2 (stride 4) pooled 2x" if stride == 8 else "P2 (stride 4)"
        raise ValueError(
            f"ModelConfig: grid={cfg.grid} does not match input_size={cfg.input_size}; the "
            f"feature is {how}, so grid must be input_size / {stride}. "
            f"Use cfg.resized({cfg.input_size}) or an input size that is a multiple of {stride}."
        )
    if cfg.grid < 4 or cfg.grid & (cfg.grid - 1):
        raise ValueError(
            f"ModelConfig: grid={cfg.grid} must be a power of two >= 4 (input_size 32, 64, 128, "
            "256, ...): the regressor's encoder halves it down to 2 x 2."
        )
    if cfg.hourglass_depth < 1 or cfg.grid % (2**cfg.hourglass_depth):
        raise ValueError(
            f"ModelConfig: hourglass_depth={cfg.hourglass_depth} needs grid divisible by "
            f"2**depth, got grid={cfg.grid}; lower hourglass_depth or raise input_size."
        )


def _check_transformer(name: str, t: TransformerConfig, cfg: ModelConfig) -> None:
    """FIT/SET must work on the backbone's (B, feat_dim, grid, grid) feature."""
    if t.dim != cfg.feat_dim or t.grid != cfg.grid:
        raise ValueError(
            f"ModelConfig.{name} has dim={t.dim}, grid={t.grid} but the backbone gives "
            f"feat_dim={cfg.feat_dim}, grid={cfg.grid}; set {name}=dataclasses.replace("
            f"cfg.{name}, dim={cfg.feat_dim}, grid={cfg.grid})."
        )


def _check_widths(cfg: ModelConfig) -> None:
    widths = {"feat_dim": cfg.feat_dim, "hourglass_channels": cfg.hourglass_channels}
    if any(v < 2 or v % 2 for v in widths.values()) or len(cfg.mano_hidden) != 2:
        raise ValueError(
            f"ModelConfig: feat_dim and hourglass_channels must be even and >= 2 (the hourglass "
            f"bottlenecks halve them), and mano_hidden two widths; got {widths}, "
            f"mano_hidden={cfg.mano_hidden}."
        )


def validate_model_config(cfg: ModelConfig) -> None:
    """Raise ValueError with a fix when the parts of `cfg` cannot fit together."""
    _check_choice("backbone", cfg.backbone, BACKBONES)
    _check_choice("activation", cfg.activation, ACTIVATIONS)
    _check_choice("hand_model", cfg.hand_model, HAND_MODELS)
    _check_choice("mano_init", cfg.mano_init, MANO_INITS)
    _check_choice("feature_norm", cfg.feature_norm, FEATURE_NORMS)
    _check_choice("pose_convention", cfg.pose_convention, POSE_CONVENTIONS)
    _check_stages(cfg)
    _check_sizes(cfg)
    _check_widths(cfg)
    _check_transformer("fit", cfg.fit, cfg)
    _check_transformer("set", cfg.set, cfg)


# --------------------------------------------------------------------------- presets
def _transformers(dim: int, grid: int, heads: int, depth: int) -> dict[str, TransformerConfig]:
    t = TransformerConfig(variant="official", dim=dim, heads=heads, depth=depth, grid=grid)
    return {"fit": t, "set": t}


def _paper() -> ModelConfig:
    """The release: ResNet-50, 256 px, C = 256, 32 x 32 tokens, 4 heads, depth 2."""
    return ModelConfig(**_transformers(256, 32, 4, 2))


def _lite() -> ModelConfig:
    """CPU ablations: ResNet-18 C2..C4 (no layer4), 128 px, C = 64, 16 x 16 tokens, 2 heads
    (measured: `preset`)."""
    return ModelConfig(
        backbone="resnet18",
        backbone_stages=3,
        input_size=128,
        feat_dim=64,
        grid=16,
        hourglass_channels=64,
        hourglass_depth=4,
        mano_hidden=(512, 256),
        **_transformers(64, 16, 2, 2),
    )


def _tiny() -> ModelConfig:
    """Tests: every part present (FIT and SET with 2 blocks, 2 heads), all sizes minimal."""
    return ModelConfig(
        backbone="resnet18",
        input_size=64,
        feat_dim=32,
        grid=8,
        hourglass_channels=32,
        hourglass_depth=2,
        mano_hidden=(64, 32),
        hand_model="synth",
        **_transformers(32, 8, 2, 2),
    )


PRESETS = {"paper": _paper, "lite": _lite, "tiny": _tiny}


def preset(name: str) -> ModelConfig:
    """A named ModelConfig: "paper" (the release's sizes), "lite" (CPU ablations), "tiny" (tests).

    How lite was chosen (re-measured for the CPU budget protocol, 2026-11-24):
    ``benchmarks/bench_presets.py --protocol --candidates --threads 1 --batch 32`` timed, per
    candidate, a full train step (forward + loss + backward + Adam on images, batch 32), feature
    extraction (``extract_features``, no grad) and a head train step on cached features
    (``forward_features`` + loss + backward + Adam over the parameters after the FPN, batch 64).
    One run on the shared 2-core machine at load average ~4-5, one torch thread, SynthHand;
    absolute numbers are noisy (~1.5x):

    =================================================  =======  ======  =======  ======
    configuration (all 128 px, 2 heads, depth 2)        params   train  extract    head
                                                                 img/s    img/s   img/s
    =================================================  =======  ======  =======  ======
    old lite: ResNet-18 C2..C5, C 128, hourglass 128    14.5 M     18     115       35
    ResNet-18 C2..C4 (no layer4), C 128                  6.1 M     21     132       35
    **lite**: ResNet-18 C2..C4, C 64, hourglass 64       3.9 M     33-36  150-160   99
    =================================================  =======  ======  =======  ======

    Dropping layer4 (8.4 M of the old 14.5 M parameters) makes the bundled checkpoint small
    (3.9 M parameters: 7.8 MB in float16) at little cost in time (layer4 runs on 4 x 4 maps);
    C = 64 (head dimension 32) makes the head ~3x faster (the head is FIT/SET attention ~25 %,
    their linear layers ~40 %, the hourglass/encoder convolutions ~20 % of a head step, by
    torch.profiler). Threads matter more than any width on a busy machine: at load ~5 the lite
    train step ran at 1.1 img/s with 2 torch threads against 32 img/s with 1 (OpenMP threads
    wait on each other when a core is taken), so the `cpu` profile uses 1 thread per process.
    Earlier (2 threads, batch 8, load 3-4): paper 0.33 img/s, old lite 30.5 img/s.
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return PRESETS[name]()
