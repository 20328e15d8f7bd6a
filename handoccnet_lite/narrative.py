"""Sentences computed from results, so the notebooks' and README's text cannot contradict them.

Each function takes numbers (or rows of `stats` tables) and returns one sentence; the notebooks
print them and the tests check them on small inputs. Conventions: errors in mm (lower is
better), F-scores and AUCs as fractions (higher is better); an interval "excludes" a value when
the value lies outside [low, high].
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Metrics where a higher value is better (the others are errors in mm).
HIGHER_IS_BETTER: tuple[str, ...] = ("f5", "f15", "auc_j", "auc_v")
#: The constant baselines' result files in an ablation folder, and their names in reports.
BASELINE_FILES: dict[str, str] = {"mean pose": "mean_pose.json", "mean hand": "mean_hand.json"}
_REPORT_LINE = {"mean pose": "Mean-pose baseline", "mean hand": "Mean-hand baseline"}
_LABELS = {
    "pa_mpjpe": "PA-MPJPE",
    "mpjpe": "MPJPE",
    "pa_mpvpe": "PA-MPVPE",
    "mpvpe": "MPVPE",
    "f5": "F@5",
    "f15": "F@15",
    "gate_auc": "(a) gate AUC",
    "fit_ratio": "(b) FIT ratio",
    "fit_ratio_background": "FIT ratio of background queries",
    "set_ratio": "(b) SET ratio",
    "gate_graded_hand": "(c) graded FIT gates (hand)",
    "gate_graded_background": "(c) graded FIT gates (background)",
}
#: Unitless measures of where attention goes (engine.ablation_attention): neither higher nor
#: lower is "better"; a paired difference says only that the variants route attention differently.
ATTENTION_MEASURES: tuple[str, ...] = (
    "gate_auc",
    "fit_ratio",
    "fit_ratio_background",
    "set_ratio",
    "gate_graded_hand",
    "gate_graded_background",
)


def metric_name(metric: str) -> str:
    """'pa_mpjpe' -> 'PA-MPJPE' (the column name itself when unknown)."""
    return _LABELS.get(metric, metric)


def _unit(metric: str) -> str:
    return "" if metric in HIGHER_IS_BETTER or metric in ATTENTION_MEASURES else " mm"


def excludes(low: float, high: float, value: float = 0.0) -> bool:
    """True when `value` lies outside the interval [low, high]."""
    return value < low or value > high


# --------------------------------------------------------------------------------------------
# the constant baselines
# --------------------------------------------------------------------------------------------
def read_baseline(folder: str | Path, name: str = "mean pose") -> dict[str, float] | None:
    """A constant baseline's metrics from an ablation folder, or None when not recorded.

    Reads `mean_pose.json` / `mean_hand.json`; older folders have only `report.md`, whose line
    "Mean-pose baseline (...): PA-MPJPE 21.53 mm, MPJPE 103.03 mm." is parsed instead."""
    if name not in BASELINE_FILES:
        raise ValueError(f"name must be one of {list(BASELINE_FILES)}; got {name!r}.")
    folder = Path(folder)
    path = folder / BASELINE_FILES[name]
    if path.is_file():
        record = json.loads(path.read_text())  # metrics, and e.g. the "alignment" protocol
        return {k: float(v) for k, v in record.items() if isinstance(v, int | float)}
    report = folder / "report.md"
    return parse_baseline_line(report.read_text(), name) if report.is_file() else None


def parse_baseline_line(report: str, name: str = "mean pose") -> dict[str, float] | None:
    """PA-MPJPE and MPJPE of the baseline `name` from a report.md text, or None."""
    line = re.search(rf"^{_REPORT_LINE[name]}[^:\n]*:(.*)$", report, flags=re.MULTILINE)
    if line is None:
        return None
    found = {
        key: re.search(rf"(?<![A-Z-]){label} ([0-9.]+) mm", line.group(1))
        for key, label in (("pa_mpjpe", "PA-MPJPE"), ("mpjpe", "MPJPE"))
    }
    return {k: float(m.group(1)) for k, m in found.items() if m} or None


def baseline_label(name: str, fitted_on: str, scored_on: str) -> str:
    """'mean pose (fitted on ..., scored on ...)': a baseline number always says what it is."""
    return f"{name} (fitted on {fitted_on}; scored on {scored_on})"


def versus_baseline(
    what: str, value: float, baseline: float, baseline_name: str, metric: str = "pa_mpjpe"
) -> str:
    """'<what> beats / does NOT beat the <baseline> on <metric> (x vs y mm, z% better).'"""
    lower = metric not in HIGHER_IS_BETTER
    gain = (baseline - value) / baseline if lower else (value - baseline) / baseline
    verdict = "beats" if gain > 0 else "does NOT beat"
    digits = 3 if metric in HIGHER_IS_BETTER else 2  # fractions need one more digit than mm
    return (
        f"{what} {verdict} the {baseline_name} on {metric_name(metric)} ({value:.{digits}f} vs "
        f"{baseline:.{digits}f}{_unit(metric)}, {gain:+.1%})."
    )


def interval_versus_constant(
    variant: str, mean: float, low: float, high: float, constant: float, metric: str
) -> str:
    """Where a variant's interval over seeds lies relative to a constant baseline's value:
    'better', 'worse', or 'not distinguishable' (the interval contains it)."""
    lower = metric not in HIGHER_IS_BETTER
    if not excludes(low, high, constant):
        where = "not distinguishable from it (its interval contains it)"
    elif (high < constant) == lower:
        where = "better (its whole interval is on the better side)"
    else:
        where = "worse (its whole interval is on the worse side)"
    return f"{variant} {mean:.2f}{_unit(metric)} [{low:.2f}, {high:.2f}]: {where}"


def baseline_verdicts(
    summary: Any, constant: float, baseline_name: str, metric: str
) -> tuple[str, list[str]]:
    """A headline and one line per variant comparing `summary` (stats.summarize rows: variant,
    mean, ci_low, ci_high) with a constant baseline's value of `metric`."""
    lines, better = [], []
    for _, r in summary.iterrows():
        line = interval_versus_constant(
            r["variant"], r["mean"], r["ci_low"], r["ci_high"], constant, metric
        )
        lines.append(line)
        better += [r["variant"]] if ": better" in line else []
    head = (
        f"{metric_name(metric)}: {len(better)} of {len(lines)} variants are better than the "
        f"{baseline_name} ({constant:.2f}{_unit(metric)}) with their 95% interval over seeds "
        "on the better side" + (f" ({', '.join(better)})." if better else ".")
    )
    return head, lines


# --------------------------------------------------------------------------------------------
# paired differences
# --------------------------------------------------------------------------------------------
def paired_sentence(row: Mapping[str, Any], baseline: str = "official") -> str:
    """One line for a paired result (stats.PairedResult.as_dict() or a paired.csv row):
    difference, interval, and whether the interval excludes 0."""
    metric = row["value"]
    head = (
        f"{row['a']} vs {baseline}, {metric_name(metric)}: {row['mean_diff']:+.3f}{_unit(metric)} "
    )
    ci = f"(95% CI {row['ci_low']:+.3f} to {row['ci_high']:+.3f}, {int(row['n'])} seeds)"
    if not excludes(row["ci_low"], row["ci_high"]):
        return head + ci + ": the interval includes 0, no detectable difference."
    winner = baseline if row["better"] == "b" else row["a"]
    return head + ci + f": the interval excludes 0, {winner} is better."


def attention_sentence(row: Mapping[str, Any], baseline: str = "official") -> str:
    """One line for a paired difference of an attention measure (a - baseline): its interval and,
    when the interval excludes 0, which variant's value is higher (not "better": these measures
    say where attention goes, not how accurate the hand is)."""
    metric = row["value"]
    head = f"{row['a']} vs {baseline}, {metric_name(metric)}: {row['mean_diff']:+.3f} "
    ci = f"(95% CI {row['ci_low']:+.3f} to {row['ci_high']:+.3f}, {int(row['n'])} seeds)"
    if not excludes(row["ci_low"], row["ci_high"]):
        return head + ci + ": the interval includes 0, no detectable difference."
    higher = row["a"] if row["mean_diff"] > 0 else baseline
    return head + ci + f": the interval excludes 0, higher for {higher}."


def paired_headline(rows: Sequence[Mapping[str, Any]], metric: str) -> str:
    """How many paired intervals of `metric` exclude 0, and which."""
    mine = [r for r in rows if r["value"] == metric]
    hits = [r["a"] for r in mine if excludes(r["ci_low"], r["ci_high"])]
    return (
        f"{metric_name(metric)}: {len(hits)} of {len(mine)} paired differences to official have "
        "a 95% interval that excludes 0" + (f" ({', '.join(hits)})." if hits else ".")
    )


def chance_of_false_alarm(n_tests: int, level: float = 0.95) -> str:
    """The chance that at least one of `n_tests` independent intervals excludes 0 by chance."""
    if n_tests < 1:
        raise ValueError(f"n_tests must be at least 1; got {n_tests}.")
    p = 1 - level**n_tests
    return (
        f"{n_tests} comparisons, each at {level:.0%}: even with no real effect anywhere, the "
        f"chance that at least one interval excludes 0 is 1 - {level}^{n_tests} = {p:.0%} "
        "(if independent)."
    )


def gate_answer(
    row: Mapping[str, Any] | None, have_results: bool, beats_baseline: bool | None
) -> str:
    """The answer to 'does the sigmoid scaling help?' from the paired row fit_softmax - official
    on PA-MPJPE (> 0: removing the gate costs accuracy)."""
    if row is None:
        return "not answered: the grid has no fit_softmax variant."
    if not have_results:
        return "not answered: only the smoke test ran (no committed results)."
    if beats_baseline is False:
        return "not answered at this budget: no variant beats the mean pose (see above)."
    if not excludes(row["ci_low"], row["ci_high"]):
        return (
            "not detectable at this budget: the softmax-only FIT and the softmax x sigmoid FIT "
            "are within each other's noise on PA-MPJPE."
        )
    if row["mean_diff"] > 0:
        return (
            f"yes at this budget: removing the gate costs {row['mean_diff']:.2f} mm PA-MPJPE, "
            "and the interval excludes 0."
        )
    return (
        f"no, the opposite at this budget: the softmax-only FIT is {-row['mean_diff']:.2f} mm "
        "better, and the interval excludes 0."
    )
