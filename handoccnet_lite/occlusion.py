"""Accuracy by occlusion level, with bins that hold enough images and intervals over images.

The SynthOcc test split has few images at some occlusion levels (one image above 70 %, three
between 30 and 40 %), so a mean per fixed bin can rest on one image. Here:

- bins that hold fewer than `min_images` test images are merged with their neighbours
  (`merge_sparse_bins`), and every bin is reported with its number of images;
- the unit of the interval is the **image**: when the records hold several seeds (or runs) of
  the same model, each image's error is first averaged over them, so 3 seeds of one image count
  as one observation, not three; the interval is then the 95 % Student-t interval over the
  images of the bin (`stats.summarize`). It says how well the bin's images pin down the mean; it
  does not include seed-to-seed variation (the per-variant tables over seeds do).

Columns used: `index` (the test image), `occlusion` (fraction of hand pixels hidden, NaN when
unknown: such images are left out) and the metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from handoccnet_lite import stats

#: The fine bin edges (fraction of hand pixels hidden) that sparse bins are merged from.
FINE_EDGES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
#: A bin holds at least this many distinct test images (fewer: merged with a neighbour).
MIN_IMAGES_PER_BIN = 20
#: Metric columns in words, with units, for axis labels and tables.
METRIC_LABELS: dict[str, str] = {
    "pa_mpjpe": "PA-MPJPE (mm)",
    "mpjpe": "MPJPE (mm)",
    "pa_mpvpe": "PA-MPVPE (mm)",
    "mpvpe": "MPVPE (mm)",
    "f5": "F-score at 5 mm",
    "f15": "F-score at 15 mm",
    "auc_j": "AUC of joint PCK (0-50 mm)",
    "auc_v": "AUC of vertex PCK (0-50 mm)",
}


def metric_label(metric: str) -> str:
    """`metric` in words with its unit (the column name itself when unknown)."""
    return METRIC_LABELS.get(metric, metric)


def merge_sparse_bins(
    occlusion: Sequence[float] | np.ndarray,
    edges: Sequence[float] = FINE_EDGES,
    min_images: int = MIN_IMAGES_PER_BIN,
) -> tuple[float, ...]:
    """Edges of bins that each hold at least `min_images` of the values `occlusion`.

    Walks the fine bins from low to high occlusion, closing a bin once it holds `min_images`
    values; a last remainder with fewer is merged into the bin before it. With fewer values
    than `min_images` in all, one bin spans all edges. Values outside the edges are an error.
    """
    values = np.asarray(occlusion, dtype=float)
    values = values[np.isfinite(values)]
    edges = tuple(float(e) for e in edges)
    if len(edges) < 2 or any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
        raise ValueError(f"edges must increase and hold at least two values; got {edges}.")
    if min_images < 1:
        raise ValueError(f"min_images must be at least 1; got {min_images}.")
    if values.size and (values.min() < edges[0] or values.max() > edges[-1]):
        raise ValueError(
            f"occlusion values span [{values.min():.3f}, {values.max():.3f}], outside the edges "
            f"[{edges[0]}, {edges[-1]}]: pass edges that cover them."
        )
    counts, _ = np.histogram(values, bins=edges)  # last bin closed on the right
    merged, running = [edges[0]], 0
    for count, right in zip(counts, edges[1:], strict=True):
        running += int(count)
        if running >= min_images:
            merged.append(right)
            running = 0
    if merged[-1] != edges[-1]:  # a remainder under min_images: extend the last bin
        merged[-1:] = [edges[-1]] if len(merged) > 1 else [edges[0], edges[-1]]
    return tuple(merged)


def bin_labels(edges: Sequence[float]) -> list[str]:
    """'0-10%', '10-20%', ... for consecutive edges."""
    return [f"{lo * 100:.0f}-{hi * 100:.0f}%" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def per_image_means(df: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    """One row per (group, image): the metric averaged over the image's seeds/runs, its
    occlusion, and `n_runs`, how many records were averaged."""
    missing = [c for c in (*by, "index", "occlusion", metric) if c not in df]
    if missing:
        raise KeyError(f"columns {missing} are missing; available: {list(df.columns)}.")
    g = df.dropna(subset=["occlusion"]).groupby([*by, "index"], sort=True)
    return g.agg(
        value=(metric, "mean"), occlusion=("occlusion", "first"), n_runs=(metric, "size")
    ).reset_index()


def occlusion_table(
    df: pd.DataFrame,
    metric: str = "pa_mpjpe",
    by: str | Sequence[str] | None = None,
    edges: Sequence[float] = FINE_EDGES,
    min_images: int = MIN_IMAGES_PER_BIN,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per occlusion bin (and `by` group): mean of `metric`, Student-t interval over images.

    Each image's records are first averaged over seeds (`per_image_means`); the bins are merged
    so each holds at least `min_images` images (`merge_sparse_bins`, computed once over all
    images so every group shares them). Columns: the `by` columns, `occlusion_bin` (ordered
    categorical), `n_images`, `runs_per_image`, `mean`, `ci_low`, `ci_high` (NaN with 1 image).
    """
    by = [by] if isinstance(by, str) else list(by or [])
    cols = [*by, "occlusion_bin", "n_images", "runs_per_image", "mean", "ci_low", "ci_high"]
    images = per_image_means(df, metric, by)
    if images.empty:  # no image with a known occlusion (real datasets): nothing to bin
        return pd.DataFrame(columns=cols)
    merged = merge_sparse_bins(images.drop_duplicates("index")["occlusion"], edges, min_images)
    labels = bin_labels(merged)
    binned = pd.cut(images["occlusion"], bins=list(merged), labels=labels, include_lowest=True)
    images["occlusion_bin"] = binned.astype(str)  # plain labels: no empty categorical groups
    table = stats.summarize(images, [*by, "occlusion_bin"], "value", confidence)
    runs = images.groupby([*by, "occlusion_bin"])["n_runs"].median()
    table = table.merge(runs.rename("runs_per_image").reset_index(), on=[*by, "occlusion_bin"])
    table = table.rename(columns={"n": "n_images"}).drop(columns=["std", "ci_halfwidth"])
    table["occlusion_bin"] = pd.Categorical(table["occlusion_bin"], categories=labels, ordered=True)
    table = table[table["n_images"] > 0].sort_values([*by, "occlusion_bin"], kind="stable")
    return table[cols].reset_index(drop=True)


def interval_note(table: pd.DataFrame, min_images: int = MIN_IMAGES_PER_BIN) -> str:
    """A caption saying what the intervals of an `occlusion_table` are over."""
    runs = int(table["runs_per_image"].max()) if len(table) else 1
    seeds = f" (each image first averaged over its {runs} seeds)" if runs > 1 else ""
    return f"mean, 95% t-interval over images{seeds}; bins of >= {min_images} images"


def draw_occlusion_table(table: pd.DataFrame, metric: str, hue: str | None, ax: Any) -> None:
    """Error bars of an `occlusion_table` on `ax`, one series per `hue` value, with the number
    of images under each bin label (a note instead when no image has a known occlusion)."""
    if table.empty:
        ax.text(0.5, 0.5, "no image with a known occlusion fraction", ha="center",
                transform=ax.transAxes)  # fmt: skip
        ax.set_ylabel(metric_label(metric))
        return
    labels = list(table["occlusion_bin"].cat.categories)
    groups = list(dict.fromkeys(table[hue])) if hue else [None]
    width = 0.5 / max(len(groups), 1)
    for i, group in enumerate(groups):
        part = table if group is None else table[table[hue] == group]
        x = part["occlusion_bin"].cat.codes.to_numpy() + (i - (len(groups) - 1) / 2) * width
        err = np.stack([part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]])  # (2, K)
        ax.errorbar(x, part["mean"], yerr=np.nan_to_num(err), fmt="o-", ms=4, lw=1.2,
                    capsize=3, label=None if group is None else str(group))  # fmt: skip
    counts = table.drop_duplicates("occlusion_bin").set_index("occlusion_bin")["n_images"]
    ticks = [f"{lab}\nn = {int(counts.get(lab, 0))}" for lab in labels]
    ax.set_xticks(range(len(labels)), ticks, fontsize=8)
    ax.set_xlabel("fraction of hand pixels occluded (n: test images in the bin)")
    ax.set_ylabel(metric_label(metric))
    if hue:
        ax.legend(title=hue, fontsize=8, title_fontsize=8)
