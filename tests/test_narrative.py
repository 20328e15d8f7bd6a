"""The computed sentences of notebooks 07, 09 and 10 (`handoccnet_lite.narrative`), on small
inputs and on the committed CPU ablation."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from handoccnet_lite import narrative

ROOT = Path(__file__).resolve().parent.parent
ABLATION = ROOT / "results" / "cpu_ablation"
REPORT_LINE = (
    "Mean-pose baseline (mean root-relative hand in the camera frame): PA-MPJPE 21.53 mm, "
    "MPJPE 103.03 mm.\n\nMean-hand baseline (average hand in its own frame): PA-MPJPE 16.93 mm, "
    "MPJPE 137.03 mm.\n"
)


def test_report_line_is_parsed_where_the_old_pattern_failed() -> None:
    old_pattern = r"Mean-pose baseline: PA-MPJPE ([0-9.]+) mm"  # notebook 10 before the fix
    assert re.search(old_pattern, REPORT_LINE) is None
    assert narrative.parse_baseline_line(REPORT_LINE) == {"pa_mpjpe": 21.53, "mpjpe": 103.03}
    hand = narrative.parse_baseline_line(REPORT_LINE, "mean hand")
    assert hand == {"pa_mpjpe": 16.93, "mpjpe": 137.03}
    assert narrative.parse_baseline_line("no such line") is None


def test_read_baseline_prefers_json_then_report(tmp_path: Path) -> None:
    committed = narrative.read_baseline(ABLATION)
    assert committed is not None and committed["pa_mpjpe"] == pytest.approx(21.5276, abs=1e-3)
    (tmp_path / "report.md").write_text("# Ablation\n\n" + REPORT_LINE)
    assert narrative.read_baseline(tmp_path)["mpjpe"] == pytest.approx(103.03)
    assert narrative.read_baseline(tmp_path / "missing") is None
    # a record with the alignment protocol beside its metrics (every results file has one)
    teach = narrative.read_baseline(ABLATION.parent / "teach_ablation", "mean hand")
    assert teach["pa_mpjpe"] > 0 and "alignment" not in teach
    with pytest.raises(ValueError, match="mean pose"):
        narrative.read_baseline(tmp_path, "median pose")


def test_committed_report_line_matches_its_json() -> None:
    parsed = narrative.parse_baseline_line((ABLATION / "report.md").read_text())
    assert parsed["pa_mpjpe"] == pytest.approx(narrative.read_baseline(ABLATION)["pa_mpjpe"], 0.01)


def test_versus_baseline_direction_and_gain() -> None:
    text = narrative.versus_baseline("our row", 15.51, 21.53, "mean pose")
    assert text.startswith("our row beats the mean pose on PA-MPJPE") and "+28.0%" in text
    assert "does NOT beat" in narrative.versus_baseline("x", 30.0, 21.53, "mean pose")
    f15 = narrative.versus_baseline("x", 0.618, 0.607, "mean pose", "f15")  # higher wins
    assert f15 == "x beats the mean pose on F@15 (0.618 vs 0.607, +1.8%)."
    assert "does NOT beat" in narrative.versus_baseline("x", 0.7, 0.8, "mean pose", "f15")


def test_baseline_label_says_fit_and_test_sets() -> None:
    label = narrative.baseline_label("mean pose", "1000 train images", "150 test images")
    assert label == "mean pose (fitted on 1000 train images; scored on 150 test images)"


@pytest.mark.parametrize(
    ("low", "high", "metric", "expected"),
    [
        (10.0, 12.0, "pa_mpjpe", "better"),
        (25.0, 30.0, "pa_mpjpe", "worse"),
        (20.0, 23.0, "pa_mpjpe", "not distinguishable"),
        (0.9, 0.95, "f15", "better"),
        (0.5, 0.6, "f15", "worse"),
    ],
)
def test_interval_versus_constant(low: float, high: float, metric: str, expected: str) -> None:
    constant = 21.53 if metric == "pa_mpjpe" else 0.75
    text = narrative.interval_versus_constant("v", (low + high) / 2, low, high, constant, metric)
    assert text.split(": ", 1)[1].startswith(expected)


def test_mpjpe_conclusion_of_the_committed_ablation() -> None:
    """What notebook 09 concludes on MPJPE: no head beats the mean pose; official is worse."""
    summary = pd.read_csv(ABLATION / "summary.csv")
    mpjpe = summary[summary["metric"] == "mpjpe"]
    base = narrative.read_baseline(ABLATION)["mpjpe"]
    head, lines = narrative.baseline_verdicts(mpjpe, base, "mean pose", "mpjpe")
    assert head.startswith("MPJPE: 0 of 6 variants are better than the mean pose (103.03 mm)")
    official = next(line for line in lines if line.startswith("official"))
    assert "worse" in official
    pa = summary[summary["metric"] == "pa_mpjpe"]
    head, _ = narrative.baseline_verdicts(pa, narrative.read_baseline(ABLATION)["pa_mpjpe"],
                                          "mean pose", "pa_mpjpe")  # fmt: skip
    assert head.startswith("PA-MPJPE: 6 of 6 variants are better")


def test_paired_sentences_of_the_committed_ablation() -> None:
    rows = pd.read_csv(ABLATION / "paired.csv").to_dict("records")
    assert narrative.paired_headline(rows, "pa_mpjpe").startswith("PA-MPJPE: 0 of 5 paired")
    assert narrative.paired_headline(rows, "mpjpe").endswith("excludes 0 (no_set).")
    no_set = next(r for r in rows if r["a"] == "no_set" and r["value"] == "mpjpe")
    assert narrative.paired_sentence(no_set).endswith("the interval excludes 0, no_set is better.")
    fit_softmax = next(r for r in rows if r["a"] == "fit_softmax" and r["value"] == "pa_mpjpe")
    assert "includes 0" in narrative.paired_sentence(fit_softmax)


def test_gate_answer_cases() -> None:
    row = {"mean_diff": 0.4, "ci_low": 0.1, "ci_high": 0.7}
    assert narrative.gate_answer(row, True, True).startswith("yes at this budget: removing")
    assert narrative.gate_answer({**row, "mean_diff": -0.4, "ci_low": -0.7, "ci_high": -0.1},
                                 True, True).startswith("no, the opposite")  # fmt: skip
    assert narrative.gate_answer({**row, "ci_low": -0.1}, True, True).startswith("not detectable")
    assert narrative.gate_answer(row, False, True).startswith("not answered: only the smoke")
    assert narrative.gate_answer(row, True, False).startswith("not answered at this budget")
    assert narrative.gate_answer(None, True, True).startswith("not answered: the grid")


def test_chance_of_false_alarm() -> None:
    assert "= 40%" in narrative.chance_of_false_alarm(10)
    with pytest.raises(ValueError, match="at least 1"):
        narrative.chance_of_false_alarm(0)


def test_attention_sentence_says_higher_not_better() -> None:
    row = {"a": "fit_softmax", "value": "fit_ratio", "mean_diff": -0.8, "ci_low": -1.2,
           "ci_high": -0.4, "n": 5}  # fmt: skip
    line = narrative.attention_sentence(row)
    assert line.startswith("fit_softmax vs official, (b) FIT ratio: -0.800 (95% CI -1.200")
    assert line.endswith("the interval excludes 0, higher for official.") and " mm" not in line
    up = narrative.attention_sentence({**row, "mean_diff": 0.8, "ci_low": 0.4, "ci_high": 1.2})
    assert up.endswith("higher for fit_softmax.")
    assert "includes 0" in narrative.attention_sentence({**row, "ci_high": 0.1})
