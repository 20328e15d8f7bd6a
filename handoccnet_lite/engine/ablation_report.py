"""The ablation's results: every finished run gathered into runs.csv, per_sample.csv,
summary.csv (mean, std, 95% t-interval over seeds), paired.csv (each variant vs the official
one, paired over seeds), the attention measures of every run (attention_runs.csv,
attention_summary.csv; engine.ablation_attention) and report.md."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from handoccnet_lite.engine import evaluate as ev
from handoccnet_lite.engine.ablation_attention import (
    ATTENTION_NAME,
    attention_report_lines,
    attention_runs,
    attention_summary,
    mean_std,
    run_attention_row,
)
from handoccnet_lite.engine.profiles import BASELINE_VARIANT, VARIANTS, Profile
from handoccnet_lite.utils import atomic_write_bytes

METRICS_NAME = "metrics.json"
FAILED_NAME = "failed.json"  # a run whose last attempt failed (retried on the next invocation)


STAGE1_METRICS = "test_metrics.json"  # of backbone/: the stage-1 full model on the test set
HEADLINE = ("pa_mpjpe", "mpjpe", "pa_mpvpe", "f5", "f15")
#: Constant baselines (evaluate.MeanPoseBaseline frames) and their result files.
BASELINE_FILES = {"camera": "mean_pose.json", "hand": "mean_hand.json"}
BASELINE_LABELS = {
    "camera": "Mean-pose baseline (mean root-relative hand in the camera frame)",
    "hand": "Mean-hand baseline (average hand in its own frame, the stronger constant for "
    "PA-MPJPE when orientations vary)",
}
HIGHER_IS_BETTER = {"f5", "f15", "auc_j", "auc_v"}


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
def run_done(run_dir: Path) -> bool:
    """A run folder with metrics.json is finished (the runner skips it)."""
    return (run_dir / METRICS_NAME).is_file()


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, default=float).encode())


@contextlib.contextmanager
def timed_stage(path: Path, stage: str) -> Iterator[None]:
    """Add the wall time of the block to the JSON file `path` (timings.json) under `stage`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        times = json.loads(path.read_text()) if path.is_file() else {}
        times[stage] = round(times.get(stage, 0.0) + time.perf_counter() - start, 1)
        _write_json(path, times)


def finish_run(run_dir: Path, per_sample: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Any]:
    """Write per_sample.csv then metrics.json (last: it marks the run as done)."""
    per_sample.to_csv(run_dir / "per_sample.csv", index=False)
    metrics = {**meta, **ev.results_record(per_sample)}  # means + "alignment" protocol
    _write_json(run_dir / METRICS_NAME, metrics)
    return metrics


def record_failure(run_dir: Path, variant: str, seed: int, err: BaseException) -> None:
    """Write run_dir/failed.json: the run, the error and its message. Rerunning the grid retries
    the run (from its last checkpoint when one was written)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    reason = f"{type(err).__name__}: {err}"
    _write_json(run_dir / FAILED_NAME, {"variant": variant, "seed": seed, "reason": reason})


def failed_runs(out_dir: Path) -> pd.DataFrame:
    """One row (variant, seed, reason) per run whose last attempt failed and that is not done."""
    rows = [
        json.loads(p.read_text())
        for p in sorted(out_dir.glob(f"*/seed*/{FAILED_NAME}"))
        if not run_done(p.parent)
    ]
    return pd.DataFrame(rows, columns=["variant", "seed", "reason"])


def collect(out_dir: str | Path, profile: Profile | None = None) -> pd.DataFrame:
    """Gather every finished run into runs.csv, per_sample.csv, summary.csv, paired.csv,
    report.md (+ parquet when pyarrow is installed); returns the runs table."""
    out_dir = Path(out_dir)
    rows, samples = [], []
    for metrics_path in sorted(out_dir.glob(f"*/seed*/{METRICS_NAME}")):
        m = json.loads(metrics_path.read_text())
        rows.append(m)
        ps = pd.read_csv(metrics_path.parent / "per_sample.csv")
        samples.append(ps.assign(variant=m["variant"], seed=m["seed"]))
    failed = failed_runs(out_dir)
    failed.to_csv(out_dir / "failed_runs.csv", index=False)
    if not rows:
        reasons = "; ".join(f"{r.variant} seed {r.seed}: {r.reason}" for r in failed.itertuples())
        raise FileNotFoundError(
            f"No finished runs (*/seed*/{METRICS_NAME}) under {out_dir}."
            + (f" Failed runs: {reasons}" if reasons else "")
        )
    runs = pd.json_normalize(rows, sep="_")  # "alignment": {...} -> alignment_protocol, ...
    per_sample = pd.concat(samples, ignore_index=True)
    summary = summary_long(runs)
    paired = paired_table(runs)
    _save_table(runs, out_dir / "runs.csv")
    _save_table(per_sample, out_dir / "per_sample.csv")
    summary.to_csv(out_dir / "summary.csv", index=False)
    paired.to_csv(out_dir / "paired.csv", index=False)
    attention = attention_runs(out_dir, runs)
    if not attention.empty:
        attention.to_csv(out_dir / "attention_runs.csv", index=False)
        attention_summary(attention).to_csv(out_dir / "attention_summary.csv", index=False)
    write_report(out_dir, summary, paired, profile, attention)
    return runs


def _save_table(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    df.to_parquet(path.with_suffix(".parquet"), index=False)


def summary_long(runs: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE) -> pd.DataFrame:
    """Per variant and metric: mean, std, n and 95% Student-t interval over seeds."""
    from handoccnet_lite.stats import summarize

    parts = [summarize(runs, "variant", m).assign(metric=m) for m in metrics if m in runs]
    out = pd.concat(parts, ignore_index=True)
    return out[["variant", "metric", *[c for c in out if c not in ("variant", "metric")]]]


def paired_table(runs: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE) -> pd.DataFrame:
    """Every variant vs the official one, paired over seeds (difference = variant - official)."""
    from handoccnet_lite.stats import paired_comparison

    variants = [v for v in runs["variant"].unique() if v != BASELINE_VARIANT]
    if BASELINE_VARIANT not in set(runs["variant"]):
        return pd.DataFrame()
    rows = []
    for v in variants:
        for m in metrics:
            if m in runs:
                res = paired_comparison(
                    runs, v, BASELINE_VARIANT, "seed", m, lower_is_better=m not in HIGHER_IS_BETTER
                )
                rows.append(res.as_dict())
    return pd.DataFrame(rows)


def _markdown(df: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table (no tabulate dependency)."""
    cols = list(df.columns)

    def fmt(x: Any) -> str:
        return f"{x:.{digits}g}" if isinstance(x, float | np.floating) else str(x)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _relative(value: float, reference: float) -> str:
    """'12.3% better than' or '4.5% worse than' (errors: lower is better)."""
    gain = 1 - value / reference
    return f"{abs(gain):.1%} {'better' if gain >= 0 else 'worse'} than"


def _spread_line(what: str, m: dict[str, Any]) -> str:
    return (
        f"Prediction spread of the {what}: {m['pred_spread']:.2f} mm (ground truth "
        f"{m['gt_spread']:.2f} mm; near 0 = a constant hand whatever the image)."
    )


def _spread_by_variant(out_dir: Path) -> dict[str, float]:
    """Mean pred_spread per variant over its runs (+ '_gt'), from runs.csv when recorded."""
    path = out_dir / "runs.csv"
    if not path.is_file():
        return {}
    runs = pd.read_csv(path)
    if "pred_spread" not in runs:
        return {}
    means = runs.groupby("variant", sort=False)["pred_spread"].mean()
    out = {v: float(means[v]) for v in VARIANTS if v in means}
    out["_gt"] = float(runs["gt_spread"].mean())
    return out


def write_report(
    out_dir: Path,
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    profile: Profile | None,
    attention: pd.DataFrame | None = None,
) -> Path:
    """report.md: protocol statement, mean-pose reference, summary and paired tables."""
    lines = [
        "# Ablation results (SynthOcc (synthetic) test split; our measurements, not the paper's)",
        "",
    ]
    if profile is not None:
        lines += [
            f"Profile `{profile.name}` (preset {profile.preset}), {profile.protocol} "
            "protocol. "
            + (
                (
                    "CPU budget protocol: one backbone + FPN trained once (official variant)"
                    if not profile.stage1
                    else "CPU budget protocol: one backbone + FPN, adopted from a trained "
                    f"full model (official variant, `{Path(profile.stage1).name}`; "
                    "backbone/adopted_from.json)"
                )
                + "; each variant's gate, FIT, SET and regressor trained on its cached "
                "pre-gate features."
                if profile.protocol == "cached"
                else "Full protocol: every variant trained end to end."
            ),
            "",
        ]
    refs: dict[str, dict[str, float]] = {}  # frame -> the baseline's metrics, when recorded
    for frame, name in BASELINE_FILES.items():
        path = out_dir / name
        if path.is_file():
            refs[frame] = m = json.loads(path.read_text())
            lines += [
                f"{BASELINE_LABELS[frame]}: PA-MPJPE {m['pa_mpjpe']:.2f} mm, "
                f"MPJPE {m['mpjpe']:.2f} mm.",
                "",
            ]
    stage1 = out_dir / "backbone" / STAGE1_METRICS
    if stage1.is_file() and "camera" in refs:
        s1m = json.loads(stage1.read_text())
        s1 = s1m["pa_mpjpe"]
        vs = [f"{_relative(s1, refs[f]['pa_mpjpe'])} the {ev.BASELINE_NAMES[f]}" for f in refs]
        lines += [
            f"Stage-1 full model (backbone + FPN + official head, trained on images): PA-MPJPE "
            f"{s1:.2f} mm, {', '.join(vs)}.",
            "",
        ]
        if "pred_spread" in s1m:
            lines += [_spread_line("stage-1 model", s1m), ""]
    spread = _spread_by_variant(out_dir)
    if spread:
        lines += [
            "Prediction spread (rigidly aligned distance of each predicted hand to the average "
            "predicted hand, mm; near 0 = one constant hand whatever the image; ground truth: "
            f"{spread.pop('_gt'):.2f} mm): "
            + ", ".join(f"{v} {x:.2f}" for v, x in spread.items())
            + ".",
            "",
        ]
    failed = failed_runs(out_dir)
    if not failed.empty:
        lines += [
            f"## Failed runs ({len(failed)}; not in the tables below, retried on the next run)",
            "",
            _markdown(failed),
            "",
        ]
    lines += ["## Mean over seeds with 95% t-interval", "", _markdown(summary), ""]
    if not paired.empty:
        cols = ["a", "b", "value", "n", "mean_diff", "ci_low", "ci_high", "p_value", "better"]
        lines += ["## Paired over seeds (a - b)", "", _markdown(paired[cols]), ""]
    if attention is not None:
        lines += attention_report_lines(attention)
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


# --------------------------------------------------------------------------------------------
# the overview (README)
# --------------------------------------------------------------------------------------------
OVERVIEW_HEADER = (
    "| model | PA-MPJPE mm (mean ± std over seeds) | 95% CI | (a) gate AUC "
    "| (b) FIT ratio, occluded queries (background: control) | (b) SET ratio "
    "| (c) FIT gate graded, hand queries |"
)


def overview_table(out_dir: str | Path) -> str:
    """One Markdown table of a finished ablation folder: the constant baselines, the stage-1
    model and every variant, with PA-MPJPE (mean ± std and 95% t-interval over seeds) and the
    attention measures (mean ± std over seeds; engine.ablation_attention). What
    `handoccnet-lite ablate --out DIR --overview` prints and the README shows."""
    out_dir = Path(out_dir)
    lines = [OVERVIEW_HEADER, "|---|---|---|---|---|---|---|"]
    for frame, name in BASELINE_FILES.items():
        if (out_dir / name).is_file():
            pa = json.loads((out_dir / name).read_text())["pa_mpjpe"]
            lines.append(f"| {ev.BASELINE_NAMES[frame]} (constant) | {pa:.2f} | | | | | |")
    stage1 = out_dir / "backbone"
    if (stage1 / STAGE1_METRICS).is_file():
        pa = json.loads((stage1 / STAGE1_METRICS).read_text())["pa_mpjpe"]
        att = _overview_attention(pd.DataFrame([_stage1_attention(stage1)]))
        lines.append(f"| stage 1 (full model, official head) | {pa:.2f} | | {att} |")
    summary = pd.read_csv(out_dir / "summary.csv")
    pa = summary[summary["metric"] == "pa_mpjpe"].set_index("variant")
    att_path = out_dir / "attention_runs.csv"
    attention = pd.read_csv(att_path) if att_path.is_file() else pd.DataFrame()
    for variant in [v for v in VARIANTS if v in pa.index]:
        r = pa.loc[variant]
        rows = attention[attention["variant"] == variant] if len(attention) else attention
        lines.append(
            f"| {variant} (heads, n = {int(r['n'])}) | {r['mean']:.2f} ± {r['std']:.2f} "
            f"| [{r['ci_low']:.2f}, {r['ci_high']:.2f}] | {_overview_attention(rows)} |"
        )
    return "\n".join(lines)


def _stage1_attention(folder: Path) -> dict[str, float]:
    path = folder / ATTENTION_NAME
    if not path.is_file():
        return {}
    return run_attention_row(pd.read_csv(path, dtype={"head": str}))


def _overview_attention(rows: pd.DataFrame) -> str:
    """The four attention cells of the overview ('' where a variant lacks the piece)."""
    if rows.empty:
        return " |  |  | "

    def cell(col: str) -> str:
        return mean_std(rows[col], 2) if col in rows else ""

    fit = cell("fit_ratio")
    if fit and cell("fit_ratio_background"):
        fit += f" ({cell('fit_ratio_background')})"
    return " | ".join([cell("gate_auc"), fit, cell("set_ratio"), cell("gate_graded_hand")])
