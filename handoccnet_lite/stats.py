"""Honest statistics for ablations: means with t confidence intervals, paired comparisons over
seeds, bootstrap intervals.

Ablations here are usually run over a handful of seeds (3-5). With so few runs the Student t
interval is wide, and that width is the honest answer: report it. Pair runs that share a seed
(same data order and initialisation) with :func:`paired_comparison`, which removes the
seed-to-seed variation both variants share. All computations go through ``scipy.stats``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps


def _check_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(
            f"column(s) {missing} not in the DataFrame; available columns: {list(df.columns)}."
        )


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """(mean, std (ddof=1), ci_low, ci_high) of a 1-D sample; CI is NaN when n < 2."""
    n = values.size
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return mean, float("nan"), float("nan"), float("nan")
    std = float(values.std(ddof=1))
    if std == 0.0:
        return mean, 0.0, mean, mean
    low, high = sps.t.interval(confidence, n - 1, loc=mean, scale=std / np.sqrt(n))
    return mean, std, float(low), float(high)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}.")


def summarize(
    df: pd.DataFrame,
    by: Sequence[str] | str,
    value: str = "pa_mpjpe",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean, standard deviation, count and Student-t confidence interval per group.

    Args:
        df: one row per run (e.g. per seed), with the ``by`` columns and a numeric ``value``.
        by: grouping column(s), e.g. ``["variant"]``.
        value: the metric column (e.g. "pa_mpjpe", mm).
        confidence: CI level (0.95 -> 95 %).

    Returns:
        One row per group: the ``by`` columns, then ``mean``, ``std`` (ddof=1), ``n``,
        ``ci_low``, ``ci_high``, ``ci_halfwidth``. With n = 1 the std and CI are NaN (one run says
        nothing about spread); NaN values in ``value`` are dropped and not counted.
    """
    by = [by] if isinstance(by, str) else list(by)
    _check_columns(df, [*by, value])
    _check_confidence(confidence)
    rows = []
    for key, group in df.groupby(by, sort=True, dropna=False):
        vals = pd.to_numeric(group[value], errors="raise").dropna().to_numpy(dtype=float)
        mean, std, low, high = _t_interval(vals, confidence)
        keys = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "mean": mean,
                "std": std,
                "n": vals.size,
                "ci_low": low,
                "ci_high": high,
                "ci_halfwidth": (high - low) / 2,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PairedResult:
    """Outcome of :func:`paired_comparison` (differences are ``a - b``, in the metric's units)."""

    a: str
    b: str
    value: str
    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    t_statistic: float
    p_value: float
    better: str  # "a", "b" or "tie" (by the sign of mean_diff and lower_is_better)
    significant: bool  # p_value < alpha
    alpha: float

    def as_dict(self) -> dict[str, object]:
        """Plain dict, e.g. for a one-row DataFrame."""
        return asdict(self)


def _paired_values(
    df: pd.DataFrame, a: str, b: str, column: str, pair_on: str, value: str
) -> pd.DataFrame:
    """Wide table indexed by ``pair_on`` with columns a, b; only complete pairs kept."""
    sub = df[df[column].isin([a, b])]
    dup = sub.duplicated(subset=[column, pair_on], keep=False)
    if dup.any():
        raise ValueError(
            f"several rows share the same ({column}, {pair_on}); each variant needs one value per "
            f"{pair_on}. Aggregate first, e.g. df.groupby([{column!r}, {pair_on!r}]).mean()."
        )
    wide = sub.pivot(index=pair_on, columns=column, values=value)
    for name in (a, b):
        if name not in wide.columns:
            raise ValueError(f"no rows with {column} == {name!r}; found {sorted(sub[column])}.")
    return wide[[a, b]].apply(pd.to_numeric).dropna()


def paired_comparison(
    df: pd.DataFrame,
    a: str,
    b: str,
    pair_on: str = "seed",
    value: str = "pa_mpjpe",
    column: str = "variant",
    confidence: float = 0.95,
    lower_is_better: bool = True,
    alpha: float = 0.05,
) -> PairedResult:
    """Paired comparison of variants ``a`` and ``b`` over runs sharing ``pair_on`` (seeds).

    Args:
        df: one row per run with columns ``column`` (variant name), ``pair_on`` and ``value``.
        a, b: the two values of ``column`` to compare; differences are ``a - b``.
        lower_is_better: True for errors (mm), False for F-scores / AUC.
        alpha: significance level for the ``significant`` flag.

    Returns:
        :class:`PairedResult` with the mean difference, its Student-t CI, the paired t-test
        (``scipy.stats.ttest_rel``) statistic and two-sided p-value, and which variant is better.
        Seeds present for only one variant are dropped (``n`` counts complete pairs). With n < 2
        the CI and p-value are NaN and ``significant`` is False.
    """
    _check_columns(df, [column, pair_on, value])
    _check_confidence(confidence)
    wide = _paired_values(df, a, b, column, pair_on, value)  # (n_pairs, 2)
    if wide.empty:
        raise ValueError(f"{a!r} and {b!r} share no {pair_on}; nothing to pair.")
    va, vb = wide[a].to_numpy(float), wide[b].to_numpy(float)
    mean_diff, _, low, high = _t_interval(va - vb, confidence)
    t_stat, p_val = _ttest_rel(va, vb)
    return PairedResult(
        a=a,
        b=b,
        value=value,
        n=int(va.size),
        mean_diff=mean_diff,
        ci_low=low,
        ci_high=high,
        t_statistic=t_stat,
        p_value=p_val,
        better=_better(mean_diff, lower_is_better),
        significant=bool(np.isfinite(p_val) and p_val < alpha),
        alpha=alpha,
    )


def _ttest_rel(va: np.ndarray, vb: np.ndarray) -> tuple[float, float]:
    """scipy's paired t-test. Degenerate cases scipy would warn about are answered directly:
    (nan, nan) for n < 2, (0, 1) when all differences are zero, (+-inf, 0) when they are all the
    same non-zero number (zero spread: the difference is certain)."""
    diff = va - vb
    if diff.size < 2:
        return float("nan"), float("nan")
    if np.all(diff == diff[0]):
        return (0.0, 1.0) if diff[0] == 0 else (float(np.copysign(np.inf, diff[0])), 0.0)
    res = sps.ttest_rel(va, vb)
    return float(res.statistic), float(res.pvalue)


def _better(mean_diff: float, lower_is_better: bool) -> str:
    if not np.isfinite(mean_diff) or mean_diff == 0:
        return "tie"
    a_lower = mean_diff < 0
    return "a" if a_lower == lower_is_better else "b"


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    statistic: Callable[..., np.ndarray] = np.mean,
    method: str = "BCa",
) -> tuple[float, float]:
    """Bootstrap confidence interval of ``statistic`` (default: the mean) of 1-D ``values``.

    Thin wrapper over ``scipy.stats.bootstrap`` (``method`` "BCa", "percentile" or "basic";
    ``rng`` seeded with ``seed`` so results are reproducible). Prefer it over the t interval for
    per-sample metric values (many, skewed) rather than for 3 seeds (too few to resample).

    Returns:
        (low, high). All-equal values give (v, v).
    """
    _check_confidence(confidence)
    arr = np.asarray(values, dtype=float).ravel()  # (n,)
    if arr.size < 2 or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"bootstrap_ci needs at least 2 finite values, got {arr.size} value(s) "
            f"with {int((~np.isfinite(arr)).sum())} NaN/inf; drop invalid entries first."
        )
    if n_boot < 100:
        raise ValueError(f"n_boot={n_boot} is too small for a stable interval; use >= 1000.")
    if np.all(arr == arr[0]):
        v = float(statistic(arr))
        return v, v
    res = sps.bootstrap(
        (arr,),
        statistic,
        n_resamples=n_boot,
        confidence_level=confidence,
        method=method,
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
