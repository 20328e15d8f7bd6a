"""What a teaching run hands on (engine.teach): the picture of its learning curves
(`teach --plot`) and the bundling of a snapshot as the checkpoint the notebooks load
(`teach --bundle`)."""

from __future__ import annotations

import json
from pathlib import Path

from handoccnet_lite.engine.teach import (
    CURVE_NAME,
    SNAPSHOT_NAME,
    VIEWPOINTS,
    TeachPlan,
    _write_json,
)
from handoccnet_lite.utils import REPO_ROOT, repo_relative

#: The constant baselines on the same 300 test images (PA-MPJPE is independent of the input
#: size): the mean pose and the mean hand of the 128-px cpu ablation (results/cpu_ablation).
BASELINES_DIR = REPO_ROOT / "results" / "cpu_ablation" / "run_128px"


def bundle(
    variant: str, source: str | Path | None = None, plan: TeachPlan | None = None, why: str = ""
) -> Path:
    """Copy a teaching snapshot (default: the latest of `plan`'s run, else of the variant's
    128-px run) to the bundled checkpoint the notebooks load (utils.BUNDLED_CHECKPOINTS[variant]),
    with a .json holding its config, its step, the run and command it came from, `why` (the
    reason for the step, when given) and its recorded test evaluation next to the constant
    baselines' (what `doctor.bundled_model_caveat` reads). Returns the bundled path."""
    from handoccnet_lite.engine.checkpoint import load_checkpoint
    from handoccnet_lite.utils import BUNDLED_CHECKPOINTS, atomic_write_bytes

    if variant not in BUNDLED_CHECKPOINTS:
        raise ValueError(
            f"no bundled checkpoint for {variant!r}; choose from {list(BUNDLED_CHECKPOINTS)}."
        )
    plan = plan or TeachPlan(variant=variant)
    if plan.variant != variant:
        raise ValueError(f"bundle({variant!r}) got the plan of a {plan.variant!r} run: pass one.")
    src = Path(source) if source else plan.snapshot_dir / SNAPSHOT_NAME
    state = load_checkpoint(src)
    evaluation = dict(state.get("evaluation") or {})
    if "pa_mpjpe" not in evaluation:
        raise ValueError(f"{src} records no test evaluation: bundle a snapshot of `teach`.")
    for name in ("mean_pose", "mean_hand"):
        ref = json.loads((BASELINES_DIR / f"{name}.json").read_text())["pa_mpjpe"]
        evaluation[f"{name}_pa_mpjpe"] = ref
    step = evaluation.get("step")
    dst = BUNDLED_CHECKPOINTS[variant]
    atomic_write_bytes(dst, src.read_bytes())
    info = {
        "model_config": state["model_config"],
        "storage_dtype": state.get("storage_dtype", "float16"),
        "source": repo_relative(str(src.resolve())),
        "run": repo_relative(str(plan.snapshot_dir.resolve())),
        "steps": step,
        "note": f"teaching model ({variant}) at step {step}, trained by `handoccnet-lite teach "
        f"{plan.cli_options()}` (results/teach/README.md) and bundled by `handoccnet-lite teach "
        f"{plan.cli_options()} --bundle`; evaluation on the SynthOcc test split (synthetic, 300 "
        f"images), constant baselines from {repo_relative(str(BASELINES_DIR))}"
        + (f"; {why}" if why else ""),
        "evaluation": evaluation,
    }
    _write_json(dst.with_suffix(".json"), info)
    return dst


#: The acceptance's targets (issue #15) drawn as lines: (column, label, target or None).
CURVE_PANELS: tuple[tuple[str, str, float | None], ...] = (
    ("pa_mpjpe", "PA-MPJPE (mm)", 12.7),
    ("rms_2d", "2D joint error (crop sides, RMS)", 0.06),
    ("gate_auc", "spatial-gate AUC vs visible hand", 0.85),
    ("fit_ratio", "FIT ratio, occluded -> visible (best block)", 2.0),
)


def plot_curves(snapshot_root: str | Path, out: str | Path) -> Path:
    """The acceptance measures of every teaching run against images seen (log axis), target
    lines dashed. A run of another viewpoint is drawn on its own view of the test images (its
    score on the images as drawn is in its curve.csv)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(4.0 * len(CURVE_PANELS), 3.6))
    for curve in sorted(Path(snapshot_root).glob(f"*/{CURVE_NAME}")):
        df, name = pd.read_csv(curve), curve.parent.name
        view = next((v for v in VIEWPOINTS if v != "uniform" and name.endswith(f"-{v}")), None)
        for ax, (col, _, _) in zip(axes, CURVE_PANELS, strict=True):
            key = f"{view}_{col}" if view and f"{view}_{col}" in df else col
            label = f"{name} ({view} view)" if view else name
            ax.plot(df["images_seen"], df[key], marker="o", ms=3, label=label)
    for ax, (_, label, target) in zip(axes, CURVE_PANELS, strict=True):
        if target is not None:
            ax.axhline(target, color="k", ls="--", lw=0.8, label="target")
        ax.set_xscale("log")
        ax.set_xlabel("training images seen")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Teaching runs on SynthOcc (synthetic), held-out test split", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


__all__ = ["BASELINES_DIR", "CURVE_PANELS", "bundle", "plot_curves"]
