"""Named run profiles: how much data, which preset, which protocol, how many steps and seeds.

=========  =======  =========================================================================
profile    preset   what it runs (costs: see `Profile.cost`; measured or estimated as stated)
=========  =======  =========================================================================
quick      tiny     CI and smoke tests: the bundled SynthOcc samples (data_samples/synthocc),
                    CPU budget protocol, 2 seeds x 6 variants, a couple of minutes on 2 cores.
cpu        lite     The full CPU ablation: a generated SynthOcc set, CPU budget protocol,
                    3 seeds x 6 variants; must beat the mean-pose baseline by >= 40% PA-MPJPE.
gpu        paper    The full protocol (every variant trains backbone to regressor from
                    scratch on images), the paper's schedule, 3 seeds x 6 variants.
=========  =======  =========================================================================

CPU budget protocol ("cached"): train backbone + FPN once (the full model, official variant),
cache its pre-gate FPN feature F (B, C, G, G) for the train set (several augmented copies) and
the test set, then train the spatial gate, FIT, SET and regressor of every variant on the cached
features. Every variant then shares one backbone trained with the official head; numbers from
it compare heads, not whole models. The full protocol ("full") trains everything per variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT

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
    "ESTIMATE, not yet run end to end: ~41 min on 2 free cores = data 2400 images ~60 s + "
    "backbone 4000 images x ~170 ms + cache 4400 x ~8 ms + 18 head runs x 1024 images x ~80 ms "
    "+ evaluation; from per-image timings on a shared machine (full 340, head 160, extract "
    "15 ms/img at load ~4), halved for a free machine. The >= 40% PA-MPJPE gain over the "
    "mean pose is required but unverified at this budget."
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


@dataclass(frozen=True)
class Profile:
    """A named, costed recipe for `handoccnet-lite ablate` (and `train --profile`)."""

    name: str
    preset: str
    protocol: Literal["cached", "full"]
    data: DataSpec
    description: str
    cost: str
    # TrainConfig overrides for the backbone run (cached) or for every run (full)
    train: dict[str, Any] = field(default_factory=dict)
    # TrainConfig overrides for the per-variant head runs on cached features
    head_train: dict[str, Any] = field(default_factory=dict)
    feature_copies: int = 2  # augmented copies of the train set in the feature cache
    seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] = tuple(VARIANTS)
    eval_batch: int = 32
    min_gain_vs_mean_pose: float | None = None  # required PA-MPJPE gain over the baseline


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
        data=DataSpec(root=str(REPO_ROOT / "data" / "synthocc_cpu"), n_train=2000, n_test=400),
        description="The full CPU ablation: lite preset, generated SynthOcc, CPU budget protocol.",
        cost=CPU_COST,
        train={"epochs": 2, "batch_size": 32, "base_lr": 2e-3, "ckpt_every": 25},
        head_train={
            "epochs": 1,
            "max_steps": 32,
            "batch_size": 32,
            "base_lr": 2e-3,
            "ckpt_every": 16,
        },
        feature_copies=2,
        seeds=(0, 1, 2),
        eval_batch=64,
        min_gain_vs_mean_pose=0.40,
    ),
    "gpu": Profile(
        name="gpu",
        preset="paper",
        protocol="full",
        data=DataSpec(root=str(REPO_ROOT / "data" / "synthocc_gpu"), n_train=50000, n_test=5000),
        description="Paper preset, full protocol (everything trained per variant), one GPU.",
        cost="estimate, not measured (no GPU here): 25 epochs x 50k images per run, 18 runs",
        train={
            "epochs": 25,
            "batch_size": 64,
            "lr_gamma": 0.9,
            "lr_step_epochs": 1,
            "num_workers": 8,
            "ckpt_every": 1000,
        },
        seeds=(0, 1, 2),
        eval_batch=128,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called `name`, with a clear error listing the known ones."""
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}; choose one of {sorted(PROFILES)}.")
    return PROFILES[name]
