"""Named run profiles: how much data, which preset, which protocol, how many steps and seeds.

=========  =======  =========================================================================
profile    preset   what it runs (costs: see `Profile.cost`; measured or estimated as stated)
=========  =======  =========================================================================
quick      tiny     CI and smoke tests: the bundled SynthOcc samples (data_samples/synthocc),
                    CPU budget protocol, 2 seeds x 6 variants, a couple of minutes on 2 cores.
cpu        lite     The full CPU ablation: the lite preset at 64 px (8 x 8 tokens), 12000
                    generated SynthOcc train images (runs/, never committed), the bundled
                    300-image test split, CPU budget protocol, 3 seeds x 6 variants, stage 1
                    on both cores, then head runs two at a time with one torch thread each;
                    the recipe of CPU_MODEL_OVERRIDES, no augmentation (SynthOcc's
                    orientations are already uniform); target: beat the mean-pose baseline
                    by >= 40% PA-MPJPE within about 45 minutes.
teach      lite     The CPU ablation on the bundled official teaching model (64 px, feature
                    stride 4, 16 x 16 tokens) as the shared stage 1, adopted rather than
                    trained (`stage1`): 12000 of the teaching runs' 24000 training images, the
                    bundled test split, 6 variants x 5 seeds of head runs, each with the
                    attention measures (evaluation.attention_stats) beside its accuracy.
gpu        paper    The full protocol (every variant trains backbone to regressor from
                    scratch on images), the paper's schedule, 3 seeds x 6 variants.
gpu_gate   paper    About one GPU hour: does FIT's sigmoid gate help? official vs
                    fit_softmax, 3 seeds, full protocol, 10 epochs of the gpu profile's 50k
                    256-px set, from the release's ImageNet ResNet-50 weights when they are
                    on disk (`find_imagenet_weights`), else from random initialisation.
=========  =======  =========================================================================

CPU budget protocol ("cached"): train backbone + FPN once (the full model, official variant),
cache its pre-gate FPN feature F (B, C, G, G) for the train set (several augmented copies) and
the test set, then train the spatial gate, FIT, SET and regressor of every variant on the cached
features. Every variant then shares one backbone trained with the official head; numbers from
it compare heads, not whole models. The full protocol ("full") trains everything per variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from handoccnet_lite.config import ModelConfig, preset
from handoccnet_lite.engine.overrides import apply_overrides
from handoccnet_lite.utils import BUNDLED_CHECKPOINTS, DATA_SAMPLES_DIR, REPO_ROOT

#: The ablation grid (names -> ModelConfig overrides, dotted keys). "official" is the baseline:
#: the released code's FIT (softmax x sigmoid attention) and SET, 4 heads, depth 2.
VARIANTS: dict[str, dict[str, Any]] = {
    "official": {},
    "fit_softmax": {"fit.attention": "softmax"},
    "fit_sigmoid": {"fit.attention": "sigmoid"},
    "no_fit": {"use_fit": False},
    "no_set": {"use_set": False},
    "supplement": {"fit.variant": "supplement", "set.variant": "supplement"},
}
BASELINE_VARIANT = "official"

#: Costs, CPU budget protocol. Per-image timings were taken on a 2-core machine shared with
#: other jobs (load ~4), so they are noisy and pessimistic.
QUICK_COST = (
    "measured once: 316 CPU-seconds (user+sys), i.e. ~2.6 min on 2 free cores; 10.4 min wall "
    "on a 2-core machine at load 4-8 (backbone 32 steps, cache 640 images, 12 head runs of "
    "32 steps); a smoke test: its models do not yet beat the mean pose"
)
CPU_COST = (
    "measured with the current recipe (2026-11-29, fifth session, 2-core VM, nothing else "
    "running): 44.5 min in timings.json for `ablate --profile cpu` (stage 1 at 64 px, 1875 steps "
    "x 32 images 20.2 min at about 50 img/s, feature cache 12300 images 1.3 min, 18 head runs "
    "of 300 steps x 64, two at a time, 112-174 s each, 22.3 min, evaluation + baselines 0.6 "
    "min; stage 1 and the heads ran as two invocations of the resumable runner) plus 2 min to "
    "generate the 12000 training images on first use. Result: stage 1 15.22 mm PA-MPJPE, "
    "official heads 15.51 mm, mean pose 21.53 mm, mean hand 16.93 mm: within the budget, but "
    "the 40% target is NOT met; see results/cpu_ablation/README.md."
)


#: The cpu profile's departures from the release's training recipe, each measured in short
#: stage-1 trials (lite model, 12000 training images, PA-MPJPE on the bundled test split;
#: results/cpu_ablation/trials/recipe.md):
#: - the MANO head starts at the identity rotation (config.ModelConfig.mano_init);
#: - BatchNorm after the FPN (`feature_norm="batch"`): from random initialisation the release's
#:   unnormalised FPN output grows until FIT's and SET's softmax maps are one-hot (logits 1e3-5e6)
#:   and the fused attention backward can overflow to NaN gradients;
#: - the camera-frame 3D terms (vertices, joints) and the pose term weigh 10 instead of 1e4 / 1e4
#:   / 10, so the 2D term (100) leads. Early on the global orientation is unknown, the
#:   camera-frame errors are dominated by it, and at 1e4 they held every other term (the 2D one
#:   included) on a plateau for the whole CPU budget;
#: - the dense heatmap cross-entropy (`loss.heatmap`, not in the paper) at 10: with the weights
#:   above alone the 2D branch left its soft-argmax plateau in one run and not in another of the
#:   same config (2 threads instead of 1); with the heatmap term it left it by step 100 in both
#:   seeds tried.
#: The previous recipe (identity start and a pose weight of 300, committed run of 2026-11-29
#: morning) is kept as PREVIOUS_CPU_MODEL_OVERRIDES for reference.
CPU_MODEL_OVERRIDES: dict[str, Any] = {
    "mano_init": "identity",
    "feature_norm": "batch",
    "loss.verts": 10.0,
    "loss.joints": 10.0,
    "loss.pose": 10.0,
    "loss.heatmap": 10.0,
}
#: The 128-px recipe of the third session's run (results/cpu_ablation/run_128px/, the bundled
#: checkpoint's stage 1), before the 64-px profile.
RECIPE_128PX_MODEL_OVERRIDES: dict[str, Any] = dict(CPU_MODEL_OVERRIDES)
CPU_MODEL_OVERRIDES |= {
    # 64-px input (grid 8 x 8, hourglass depth 3): the same number of steps learns about as much
    # as at 128 px (16.40 vs 16.10 mm PA-MPJPE after ~900 / 750 steps) at a third of the cost
    # per step, which is what lets the profile fit its budget.
    "hourglass_depth": 3,
    "input_size": 64,
    # the articulation term (losses.joints_hand_mse, not in the paper): one-seed trials at 1000
    # steps scored 16.55 mm without it, 16.07 at 1e3, 15.87 at 1e4 (17.51 / 16.73 / 16.51 at 500)
    "loss.joints_hand": 1e4,
    # the heatmap cross-entropy's Gaussian 0.5 cell wide instead of 1 (a cell is 8 px at 64 px
    # input): 15.61 mm at 1000 steps against 15.87 (one seed; trials/recipe.md)
    "loss.heatmap_sigma": 0.5,
}
#: The recipe of the first 64-px run (fourth session, results/cpu_ablation/run_64px_1/).
RECIPE_64PX_RUN1_MODEL_OVERRIDES: dict[str, Any] = CPU_MODEL_OVERRIDES | {
    "loss.joints_hand": 1e3,
    "loss.heatmap_sigma": 1.0,
}
PREVIOUS_CPU_MODEL_OVERRIDES: dict[str, Any] = {"mano_init": "identity", "loss.pose": 300.0}
#: The teaching models' recipe (engine.teach): the 128-px recipe with the cpu profile's
#: articulation term at 1e4 and 0.5-cell heatmap target, at the lite preset's 128-px input (G = 16).
TEACH_MODEL_OVERRIDES: dict[str, Any] = RECIPE_128PX_MODEL_OVERRIDES | {
    "loss.joints_hand": 1e4,
    "loss.heatmap_sigma": 0.5,
}
#: The bundled teaching models' input since the tenth session: 64 px with feature stride 4 (the
#: FPN's P2 unpooled), still 16 x 16 tokens (engine.teach.INPUTS; trials T11-T12 in
#: results/teach/README.md).
TEACH_64PX_MODEL_OVERRIDES: dict[str, Any] = TEACH_MODEL_OVERRIDES | {
    "input_size": 64,
    "feature_stride": 4,
}

#: Head runs on cached features (cpu and teach profiles): 300 steps of 64.
CPU_HEAD_TRAIN: dict[str, Any] = {
    "epochs": 2,  # at most 187 steps per epoch at batch 64: max_steps stops the run first
    "max_steps": 300,
    "batch_size": 64,
    "base_lr": 1e-3,
    "lr_scaling": "none",
    "ckpt_every": 50,
    "tensorboard": False,
}
TEACH_ABLATION_COST = (
    "measured (2026-12-07, 2-core VM): 77 min in timings.json for `ablate --profile teach` on "
    "the 64-px teaching model (no stage 1 trained; feature cache of 12300 images 65 s; 30 head "
    "runs of 300 steps x 64, two at a time, 76 min: official 472-670 s each, beside a teaching "
    "run and the tests; then fit_softmax and fit_sigmoid 276-359 s, no_fit, no_set and "
    "supplement 170-263 s) plus about 10 min to render the 24000 training images on first use"
)


@dataclass(frozen=True)
class DataSpec:
    """Where a profile's SynthOcc set lives and how to make it when it is missing."""

    root: str
    n_train: int = 0  # 0: use what is there (bundled samples)
    n_test: int = 0
    seed: int = 0
    image_size: int = 0  # rendered frame side; 0: the generator's default
    max_train: int = 0  # > 0: use only the first max_train / max_test samples (tests)
    max_test: int = 0
    test_root: str = ""  # SynthOcc root holding the test split ("": `root`)

    @property
    def test_dir(self) -> str:
        """Root of the test split."""
        return self.test_root or self.root


@dataclass(frozen=True)
class Profile:
    """A named, costed recipe for `handoccnet-lite ablate` (and `train --profile`)."""

    name: str
    preset: str
    protocol: Literal["cached", "full"]
    data: DataSpec
    description: str
    cost: str
    # ModelConfig overrides (dotted keys, as VARIANTS) applied to the preset for every run
    model: dict[str, Any] = field(default_factory=dict)
    # TrainConfig overrides for the backbone run (cached) or for every run (full)
    train: dict[str, Any] = field(default_factory=dict)
    # TrainConfig overrides for the per-variant head runs on cached features
    head_train: dict[str, Any] = field(default_factory=dict)
    feature_copies: int = 2  # augmented copies of the train set in the feature cache
    seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] = tuple(VARIANTS)
    eval_batch: int = 32
    min_gain_vs_mean_pose: float | None = None  # required PA-MPJPE gain over the baseline
    threads: int = 0  # > 0: torch CPU threads for every stage (1 is fastest on a busy machine)
    parallel_runs: int = 1  # cached protocol: head runs trained at once (one process each)
    # torch.compile every run's model (the trained module: the whole model, or the feature head
    # on cached features); `ablate --compile` turns it on for any profile
    compile: bool = False
    # start the backbone from torchvision's ImageNet weights when they are on disk (see
    # model.backbone.find_imagenet_weights; never downloaded), else from random initialisation
    imagenet_start: bool = False
    # cached protocol: a trained full model (checkpoint path) adopted as the shared stage 1
    # instead of training one; its model config must be the profile's (engine.features.adopt_stage1)
    stage1: str = ""


#: The gpu profiles' SynthOcc set, rendered at the paper preset's 256 px input (the generator's
#: default is 128 px, which the crops would upsample).
GPU_DATA = DataSpec(
    root=str(REPO_ROOT / "data" / "synthocc_gpu"), n_train=50000, n_test=5000, image_size=256
)
#: The paper's Dex-YCB step schedule on one GPU at batch 64 (the paper's global batch).
GPU_TRAIN: dict[str, Any] = {
    "epochs": 25,
    "batch_size": 64,
    "lr_gamma": 0.9,
    "lr_step_epochs": 1,
    "num_workers": 8,
    "ckpt_every": 1000,
}
GPU_GATE_COST = (
    "estimate, never measured here (no GPU): 2 variants x 3 seeds = 6 runs x 10 epochs x 50k "
    "images = 6 x 0.5 M = 3 M images; at ~1000 img/s (paper preset, bf16, one H100) 3000 s ~ "
    "50 min of training, plus 6 evaluations of 5k test images (about a minute) and, on first "
    "use, generating the 55k-image set on the CPU (not included)"
)

PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        preset="tiny",
        protocol="cached",
        data=DataSpec(root=str(DATA_SAMPLES_DIR / "synthocc"), max_train=256, max_test=128),
        description="CI/smoke: tiny preset on 256/128 bundled samples, CPU budget protocol.",
        cost=QUICK_COST,
        train={"epochs": 2, "batch_size": 16, "base_lr": 4e-3, "ckpt_every": 50},
        head_train={"epochs": 1, "batch_size": 16, "base_lr": 4e-3, "ckpt_every": 50},
        feature_copies=2,
        seeds=(0, 1),
        eval_batch=32,
    ),
    "cpu": Profile(
        name="cpu",
        preset="lite",
        protocol="cached",
        data=DataSpec(
            root=str(REPO_ROOT / "runs" / "synthocc_cpu"),
            n_train=12000,
            seed=0,
            image_size=128,
            test_root=str(DATA_SAMPLES_DIR / "synthocc"),
        ),
        description="The full CPU ablation: lite preset, 12000 generated SynthOcc train images, "
        "the bundled 300-image test split, CPU budget protocol.",
        cost=CPU_COST,
        model=CPU_MODEL_OVERRIDES,
        train={
            "epochs": 5,
            "batch_size": 32,
            "base_lr": 1e-3,
            "lr_scaling": "none",
            "augment": False,  # orientations are uniform on SO(3) already: rotation adds none
            "lr_gamma": 0.5,
            "lr_step_epochs": 2,
            "threads": 2,  # stage 1 runs alone: both cores
            "ckpt_every": 100,
            "tensorboard": False,
        },
        head_train=CPU_HEAD_TRAIN,
        feature_copies=1,
        seeds=(0, 1, 2),
        eval_batch=64,
        min_gain_vs_mean_pose=0.40,
        threads=1,
        parallel_runs=2,
    ),
    "teach": Profile(
        name="teach",
        preset="lite",
        protocol="cached",
        data=DataSpec(
            root=str(REPO_ROOT / "runs" / "synthocc_teach"),  # the teaching runs' own set
            n_train=24000,
            seed=7,
            image_size=128,
            max_train=12000,  # 300 head steps x 64 see 19200 items: 1.6 passes over 12000
            test_root=str(DATA_SAMPLES_DIR / "synthocc"),
        ),
        description="The CPU ablation on the bundled official teaching model as the shared "
        "stage 1 (lite preset, 64 px, feature stride 4, 16 x 16 tokens, not retrained): heads of "
        "6 variants x 5 seeds on its cached features, with the attention measures of every run.",
        cost=TEACH_ABLATION_COST,
        # the bundled model was trained with the embedded hand ("auto" resolves to MANO when
        # a user supplies MANO_RIGHT.pkl, which would not match its regressor)
        model=TEACH_64PX_MODEL_OVERRIDES | {"hand_model": "synth"},
        train={"augment": False},  # the cached copy of each training image: un-augmented
        head_train=CPU_HEAD_TRAIN,
        feature_copies=1,
        seeds=(0, 1, 2, 3, 4),
        eval_batch=64,
        threads=1,
        parallel_runs=2,
        stage1=str(BUNDLED_CHECKPOINTS["official"]),
    ),
    # Its first hour, simulated on the CPU (benchmarks/attention_logits.py, lite preset, bf16
    # autocast, the release's init and lr 1e-4, 200 steps of 8; results/gpu_readiness/): the
    # largest attention logit grew from 0.005 to 0.06 (FIT block 0; 0.005 -> 0.014 with
    # feature_norm="batch"), far from the 1e3-5e6 of the cpu trials at lr 1e-3 over 750 steps.
    # 200 steps are not an hour of GPU training, so the profile keeps the release's recipe and
    # relies on the guards: a non-finite loss or gradient stops that run before the update, the
    # grid records it (failed.json, failed_runs.csv) and goes on, and a rerun resumes it.
    "gpu": Profile(
        name="gpu",
        preset="paper",
        protocol="full",
        data=GPU_DATA,
        description="Paper preset, full protocol (everything trained per variant), one GPU.",
        cost="estimate, not measured (no GPU here): 25 epochs x 50k images per run, 18 runs",
        train=GPU_TRAIN,
        seeds=(0, 1, 2),
        eval_batch=128,
    ),
    "gpu_gate": Profile(
        name="gpu_gate",
        preset="paper",
        protocol="full",
        data=GPU_DATA,
        description="About one GPU hour: official (softmax x sigmoid FIT) vs fit_softmax (no "
        "sigmoid gate), 3 seeds, paper preset, full protocol, 10 epochs of the gpu set, from "
        "ImageNet ResNet-50 weights when they are on disk.",
        cost=GPU_GATE_COST,
        train=GPU_TRAIN | {"epochs": 10},
        seeds=(0, 1, 2),
        variants=("official", "fit_softmax"),
        eval_batch=128,
        imagenet_start=True,
    ),
}


def profile_model_config(profile: Profile) -> ModelConfig:
    """The profile's preset with its `model` overrides applied; with `imagenet_start`, its
    `pretrained_backbone` is the local ImageNet file when one is found (else None: random)."""
    cfg = apply_overrides(preset(profile.preset), profile.model)
    if profile.imagenet_start:
        weights = _imagenet_weights(cfg.backbone)
        if weights is not None:
            cfg = cfg.replace(pretrained_backbone=str(weights))
    return cfg


def imagenet_start_status(profile: Profile) -> str | None:
    """One line saying where the profile's backbone starts from (None unless `imagenet_start`)."""
    if not profile.imagenet_start:
        return None
    from handoccnet_lite.model.backbone import IMAGENET_ENV, IMAGENET_FILES, imagenet_search_dirs

    backbone = profile_model_config(profile).backbone
    weights = _imagenet_weights(backbone)
    if weights is not None:
        return f"backbone: starts from the ImageNet {backbone} weights in {weights}"
    where = " or ".join(str(d) for d in imagenet_search_dirs())
    return (
        f"backbone: NO ImageNet {backbone} weights found (looked for "
        f"{' / '.join(IMAGENET_FILES[backbone])} in {where}): training from random "
        f"initialisation; put torchvision's file there or set ${IMAGENET_ENV} to its folder"
    )


def _imagenet_weights(backbone: str) -> Path | None:
    """model.backbone.find_imagenet_weights, imported on use (it loads torch)."""
    from handoccnet_lite.model.backbone import find_imagenet_weights

    return find_imagenet_weights(backbone)


def variant_config(base: ModelConfig, variant: str) -> ModelConfig:
    """The model config of a named grid variant (see VARIANTS)."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose from {sorted(VARIANTS)}.")
    return apply_overrides(base, VARIANTS[variant])


def render_size(profile: Profile) -> int:
    """Side of the SynthOcc frames the profile generates: its DataSpec.image_size, or the input
    size of its model when unset (crops are then never upsampled)."""
    return profile.data.image_size or profile_model_config(profile).input_size


def get_profile(name: str) -> Profile:
    """The profile called `name`, with a clear error listing the known ones."""
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}; choose one of {sorted(PROFILES)}.")
    return PROFILES[name]
