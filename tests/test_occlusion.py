"""Accuracy by occlusion (`handoccnet_lite.occlusion`): merged sparse bins, image counts, and
intervals over images with seeds averaged per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from handoccnet_lite import occlusion

ROOT = Path(__file__).resolve().parent.parent
PER_SAMPLE = ROOT / "results" / "cpu_ablation" / "per_sample.csv"


def test_sparse_bins_are_merged_like_the_test_split() -> None:
    # the bundled test split's counts per fine bin: 103 45 51 3 35 62 1
    counts = [103, 45, 51, 3, 35, 62, 1]
    edges = occlusion.FINE_EDGES
    values = np.concatenate(
        [np.full(c, (lo + hi) / 2) for c, lo, hi in zip(counts, edges[:-1], edges[1:], strict=True)]
    )
    merged = occlusion.merge_sparse_bins(values, edges, 20)
    assert merged == (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
    hist, _ = np.histogram(values, bins=merged)
    assert hist.min() >= 20 and hist.sum() == len(values)


def test_merge_edge_cases() -> None:
    assert occlusion.merge_sparse_bins([0.05, 0.15], (0.0, 0.1, 0.2), 5) == (0.0, 0.2)
    assert occlusion.merge_sparse_bins([0.05] * 5 + [0.15], (0.0, 0.1, 0.2), 5) == (0.0, 0.2)
    assert occlusion.merge_sparse_bins([0.05] * 5 + [0.15] * 5, (0.0, 0.1, 0.2), 5) == (
        0.0,
        0.1,
        0.2,
    )
    with pytest.raises(ValueError, match="increase"):
        occlusion.merge_sparse_bins([0.1], (0.0, 0.5, 0.2), 1)
    with pytest.raises(ValueError, match="outside the edges"):
        occlusion.merge_sparse_bins([1.5], (0.0, 1.0), 1)


def test_seeds_are_averaged_per_image_before_the_interval() -> None:
    # 4 images x 3 seeds; image errors 10, 12, 14, 16 mm, seeds add -1, 0, +1
    rows = [
        {"index": i, "occlusion": 0.05, "seed": s, "pa_mpjpe": 10 + 2 * i + (s - 1)}
        for i in range(4)
        for s in range(3)
    ]
    table = occlusion.occlusion_table(pd.DataFrame(rows), "pa_mpjpe", min_images=2)
    row = table.iloc[0]
    assert row["n_images"] == 4 and row["runs_per_image"] == 3  # not 12 observations
    images = np.array([10.0, 12.0, 14.0, 16.0])  # per-image means
    half = 3.182446305284263 * images.std(ddof=1) / 2  # t(0.975, 3) * sd / sqrt(4)
    assert row["mean"] == pytest.approx(13.0)
    assert row["ci_high"] - row["mean"] == pytest.approx(half)


def test_committed_ablation_bins_hold_enough_images() -> None:
    df = pd.read_csv(PER_SAMPLE)
    table = occlusion.occlusion_table(df, "pa_mpjpe", by="variant")
    assert table["n_images"].min() >= occlusion.MIN_IMAGES_PER_BIN
    assert (table.groupby("variant")["n_images"].sum() == 300).all()
    assert (table["runs_per_image"] == 3).all()
    assert list(table["occlusion_bin"].cat.categories)[-1] == "50-100%"


def test_plot_labels_counts_and_legend_title() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handoccnet_lite.engine import evaluate as ev

    df = pd.read_csv(PER_SAMPLE)
    fig = ev.plot_vs_occlusion(df[df["variant"].isin(["official", "no_set"])], hue="variant")
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == "0-10%\nn = 103" and all("n = " in t for t in ticks)
    assert ax.get_ylabel() == "PA-MPJPE (mm)"
    assert ax.get_legend().get_title().get_text() == "variant"
    assert "over images" in ax.get_title() and "3 seeds" in ax.get_title()
    plt.close(fig)


def test_missing_columns_are_named() -> None:
    with pytest.raises(KeyError, match="occlusion"):
        occlusion.occlusion_table(pd.DataFrame({"index": [0], "pa_mpjpe": [1.0]}))


def test_unknown_occlusion_gives_an_empty_table_and_a_note() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handoccnet_lite.engine import evaluate as ev

    df = pd.DataFrame({"index": [0, 1], "occlusion": [np.nan, np.nan], "pa_mpjpe": [1.0, 2.0]})
    assert occlusion.occlusion_table(df).empty
    fig = ev.plot_vs_occlusion(df)
    assert "no image with a known occlusion" in fig.axes[0].texts[0].get_text()
    plt.close(fig)
