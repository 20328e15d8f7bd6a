"""Tests for handoccnet_lite.stats against scipy.stats on known data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from handoccnet_lite import stats as S


@pytest.fixture
def runs() -> pd.DataFrame:
    """Two variants x 5 seeds; 'fit' is 0.5 mm better on every seed, plus seed noise."""
    seed_effect = np.array([0.0, 0.8, -0.3, 0.4, 1.1])
    noise = np.array([0.05, -0.1, 0.02, 0.08, -0.04])
    base = 10.0 + seed_effect
    rows = [
        {"variant": "baseline", "seed": s, "pa_mpjpe": b, "f5": 0.5} for s, b in enumerate(base)
    ] + [
        {"variant": "fit", "seed": s, "pa_mpjpe": b - 0.5 + n, "f5": 0.6}
        for s, (b, n) in enumerate(zip(base, noise, strict=True))
    ]
    return pd.DataFrame(rows)


def test_summarize_matches_scipy(runs: pd.DataFrame) -> None:
    out = S.summarize(runs, by=["variant"], value="pa_mpjpe")
    assert list(out["variant"]) == ["baseline", "fit"]
    for _, row in out.iterrows():
        vals = runs.loc[runs["variant"] == row["variant"], "pa_mpjpe"].to_numpy()
        low, high = sps.t.interval(0.95, len(vals) - 1, loc=vals.mean(), scale=sps.sem(vals))
        assert row["mean"] == pytest.approx(vals.mean())
        assert row["std"] == pytest.approx(vals.std(ddof=1))
        assert row["n"] == 5
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
        assert row["ci_halfwidth"] == pytest.approx((high - low) / 2)


def test_summarize_known_numbers() -> None:
    df = pd.DataFrame({"g": ["x"] * 3, "v": [1.0, 2.0, 3.0]})
    row = S.summarize(df, by="g", value="v").iloc[0]
    half = sps.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # std = 1
    assert row["mean"] == 2.0 and row["std"] == pytest.approx(1.0)
    assert row["ci_halfwidth"] == pytest.approx(half) and half == pytest.approx(2.4841, abs=1e-4)


def test_summarize_single_run_has_no_interval() -> None:
    df = pd.DataFrame({"g": ["x", "y", "y"], "v": [1.0, 2.0, np.nan]})
    out = S.summarize(df, by="g", value="v").set_index("g")
    assert out.loc["x", "n"] == 1 and np.isnan(out.loc["x", "ci_low"])
    assert out.loc["y", "n"] == 1  # the NaN run is dropped, not counted


def test_summarize_bad_column() -> None:
    with pytest.raises(KeyError, match="available columns"):
        S.summarize(pd.DataFrame({"a": [1]}), by="a", value="pa_mpjpe")


def test_paired_comparison_matches_ttest_rel(runs: pd.DataFrame) -> None:
    res = S.paired_comparison(runs, "fit", "baseline", pair_on="seed", value="pa_mpjpe")
    a = runs[runs.variant == "fit"].sort_values("seed")["pa_mpjpe"].to_numpy()
    b = runs[runs.variant == "baseline"].sort_values("seed")["pa_mpjpe"].to_numpy()
    ref = sps.ttest_rel(a, b)
    d = a - b
    low, high = sps.t.interval(0.95, 4, loc=d.mean(), scale=sps.sem(d))
    assert res.n == 5
    assert res.mean_diff == pytest.approx(d.mean())
    assert res.t_statistic == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue)
    assert (res.ci_low, res.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert res.better == "a" and res.significant
    # the paired test sees the effect that an unpaired test on these few seeds would miss
    assert res.p_value < sps.ttest_ind(a, b).pvalue
    swapped = S.paired_comparison(runs, "baseline", "fit")
    assert swapped.better == "b" and swapped.mean_diff == pytest.approx(-res.mean_diff)


def test_paired_comparison_higher_is_better(runs: pd.DataFrame) -> None:
    res = S.paired_comparison(runs, "fit", "baseline", value="f5", lower_is_better=False)
    assert res.better == "a" and res.mean_diff == pytest.approx(0.1)
    assert res.p_value == 0.0 and res.t_statistic == np.inf  # constant difference, zero spread
    assert res.ci_low == res.ci_high == pytest.approx(0.1)
    tie = S.paired_comparison(runs.assign(f5=0.5), "fit", "baseline", value="f5")
    assert tie.better == "tie" and tie.p_value == 1.0 and not tie.significant


def test_paired_comparison_drops_unpaired_and_rejects_duplicates(runs: pd.DataFrame) -> None:
    res = S.paired_comparison(runs[runs.seed != 3].iloc[1:], "fit", "baseline")
    assert res.n == 3  # seed 0 lost its baseline, seed 3 removed
    with pytest.raises(ValueError, match="one value per seed"):
        S.paired_comparison(pd.concat([runs, runs.iloc[:1]]), "fit", "baseline")
    with pytest.raises(ValueError, match="no rows with variant == 'nope'"):
        S.paired_comparison(runs, "fit", "nope")


def test_bootstrap_ci_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    vals = rng.gamma(2.0, 3.0, size=40)
    low, high = S.bootstrap_ci(vals, n_boot=2000, seed=7)
    ref = sps.bootstrap((vals,), np.mean, n_resamples=2000, rng=np.random.default_rng(7))
    assert (low, high) == (
        pytest.approx(ref.confidence_interval.low),
        pytest.approx(ref.confidence_interval.high),
    )
    assert low < vals.mean() < high
    assert S.bootstrap_ci(vals, n_boot=2000, seed=7) == (low, high)  # reproducible
    p_low, p_high = S.bootstrap_ci(vals, n_boot=2000, seed=7, method="percentile")
    assert p_low < vals.mean() < p_high


def test_bootstrap_ci_edge_cases() -> None:
    assert S.bootstrap_ci([2.5, 2.5, 2.5], n_boot=1000) == (2.5, 2.5)
    with pytest.raises(ValueError, match="at least 2 finite"):
        S.bootstrap_ci([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="n_boot"):
        S.bootstrap_ci([1.0, 2.0], n_boot=10)
    with pytest.raises(ValueError, match="confidence"):
        S.bootstrap_ci([1.0, 2.0], confidence=95)
