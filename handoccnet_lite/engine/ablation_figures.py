"""The ablation's figures: PA-MPJPE per variant over seeds, and accuracy vs occlusion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from handoccnet_lite.engine import evaluate as ev
from handoccnet_lite.engine.ablation_report import STAGE1_METRICS
from handoccnet_lite.engine.profiles import VARIANTS


def _reference_lines(ax: Any, out_dir: Path) -> None:
    """Dashed lines for the constant baselines and the stage-1 full model, when recorded."""
    refs = [
        (out_dir / "mean_pose.json", "mean-pose baseline", "tab:red"),
        (out_dir / "mean_hand.json", "mean-hand baseline", "tab:orange"),
        (out_dir / "backbone" / STAGE1_METRICS, "stage-1 full model", "tab:blue"),
    ]
    for path, label, color in refs:
        if path.is_file():
            value = json.loads(path.read_text())["pa_mpjpe"]
            ax.axhline(value, ls="--", lw=1, color=color, label=f"{label} ({value:.1f} mm)")
    ax.legend(fontsize=7, ncols=2)


def plot_results(out_dir: str | Path, figures_dir: str | Path | None = None) -> list[Path]:
    """figures/ablation_pa_mpjpe.png and figures/ablation_vs_occlusion.png from the results."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from handoccnet_lite.utils import save_figure

    out_dir = Path(out_dir)
    runs = pd.read_csv(out_dir / "runs.csv")
    per_sample = pd.read_csv(out_dir / "per_sample.csv")
    order = [v for v in VARIANTS if v in set(runs["variant"])]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.pointplot(
        data=runs,
        x="variant",
        y="pa_mpjpe",
        order=order,
        errorbar=("ci", 95),
        linestyle="none",
        capsize=0.2,
        ax=ax,
        color="k",
    )
    sns.stripplot(
        data=runs,
        x="variant",
        y="pa_mpjpe",
        order=order,
        hue="seed",
        ax=ax,
        palette="deep",
        size=5,
        alpha=0.8,
    )
    _reference_lines(ax, out_dir)
    ax.set_ylabel("PA-MPJPE (mm)")
    ax.set_title("Ablation on SynthOcc (synthetic) test: mean, bootstrap 95% CI over seeds")
    paths = [save_figure(fig, "ablation_pa_mpjpe", figures_dir)]
    plt.close(fig)
    fig = ev.plot_vs_occlusion(per_sample, "pa_mpjpe", hue="variant")
    fig.axes[0].set_title(
        "pa_mpjpe vs occlusion, SynthOcc (synthetic) test: mean, 95% CI over samples x seeds"
    )
    paths.append(save_figure(fig, "ablation_vs_occlusion", figures_dir))
    plt.close(fig)
    return paths
