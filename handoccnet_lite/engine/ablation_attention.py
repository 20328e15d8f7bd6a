"""Where each ablation run's attention goes: the measures of evaluation.attention_stats per run
(``<variant>/seed<k>/attention.csv``), one row per run (``attention_runs.csv``) and their mean
over seeds per variant (``attention_summary.csv``, a section of report.md).

A difference in where attention goes can show even where the accuracy differences stay within
the seeds' noise, so the report puts these beside PA-MPJPE. Per run, the headline columns are:

=====================  ======================================================================
column                 what (one number per run; evaluation.attention_stats for the measures)
=====================  ======================================================================
gate_auc               (a) ROC AUC of the spatial gate s, visible hand vs no visible hand
fit_ratio              (b) FIT, occluded-hand queries: softmax mass on visible-hand keys / their
                       token share, head mean, in FIT's block where it is largest
fit_ratio_background   the same block's background queries (the control)
set_ratio              (b) for SET (its best block)
gate_graded_hand       (c) FIT gate values g in (0.05, 0.95) over hand queries (mean over blocks)
gate_graded_background (c) the same over background queries
=====================  ======================================================================

A variant without the piece a measure needs leaves it empty (no_fit: no FIT columns; fit_softmax:
no gate g; fit_sigmoid: its softmax map is uniform, so its fit_ratio is 1 by construction).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn
from torch.utils.data import Dataset

from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine.profiles import VARIANTS
from handoccnet_lite.evaluation.attention_stats import HEAD_MEAN, attention_stats
from handoccnet_lite.utils import resolve_device

ATTENTION_NAME = "attention.csv"  # of a run folder: evaluation.attention_stats' rows
#: attention_runs.csv's measure columns, in report order, with their labels.
ATTENTION_COLUMNS: dict[str, str] = {
    "gate_auc": "(a) gate AUC",
    "fit_ratio": "(b) FIT ratio, occluded queries",
    "fit_ratio_background": "FIT ratio, background queries (control)",
    "set_ratio": "(b) SET ratio, occluded queries",
    "gate_graded_hand": "(c) FIT gate graded, hand queries",
    "gate_graded_background": "(c) FIT gate graded, background queries",
}


def write_run_attention(
    model: nn.Module, test_set: Dataset, run_dir: Path, batch_size: int, device: str
) -> Path:
    """Measure a trained run's attention on the test set (images or cached features) and write
    run_dir/attention.csv."""
    net = ckpt.unwrap(model)  # the HandOccNet inside FeatureHead / DDP / compile wrappers
    df = attention_stats(
        net, test_set, device=resolve_device(device), batch_size=batch_size, progress=False
    )
    path = Path(run_dir) / ATTENTION_NAME
    df.to_csv(path, index=False)
    return path


def run_attention_row(df: pd.DataFrame) -> dict[str, float]:
    """The headline columns (module docstring) of one run's attention_stats rows."""
    mean = df[(df["head"] == HEAD_MEAN) | df["head"].isna() | (df["head"] == "")]
    row: dict[str, float] = dict.fromkeys(ATTENTION_COLUMNS, np.nan)
    auc = mean[mean["measure"] == "gate_auc"]["value"]
    if len(auc):
        row["gate_auc"] = float(auc.iloc[0])
    for module in ("fit", "set"):
        ratios = mean[(mean["measure"] == "visible_attention_ratio") & (mean["module"] == module)]
        if len(ratios) and ratios["value"].notna().any():
            best = ratios.loc[ratios["value"].idxmax()]
            row[f"{module}_ratio"] = float(best["value"])
            if module == "fit":
                control = mean[
                    (mean["measure"] == "visible_attention_ratio_background")
                    & (mean["module"] == "fit")
                    & (mean["block"] == best["block"])
                ]["value"]
                row["fit_ratio_background"] = float(control.iloc[0]) if len(control) else np.nan
    for kind in ("hand", "background"):
        graded = mean[mean["measure"] == f"gate_unsaturated_{kind}"]["value"]
        if len(graded):
            row[f"gate_graded_{kind}"] = float(graded.mean())
    return row


def attention_runs(out_dir: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run with an attention.csv: variant, seed and the headline columns."""
    rows = []
    for variant, seed in runs[["variant", "seed"]].itertuples(index=False):
        path = Path(out_dir) / variant / f"seed{seed}" / ATTENTION_NAME
        if path.is_file():
            df = pd.read_csv(path, dtype={"head": str})
            rows.append({"variant": variant, "seed": seed, **run_attention_row(df)})
    return pd.DataFrame(rows, columns=["variant", "seed", *ATTENTION_COLUMNS])


def attention_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per variant and measure: mean, std, n and 95% t-interval over seeds (stats.summarize)."""
    from handoccnet_lite.stats import summarize

    parts = [
        summarize(table, "variant", col).assign(measure=col)
        for col in ATTENTION_COLUMNS
        if table[col].notna().any()
    ]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out = out[out["n"] > 0].reset_index(drop=True)  # a variant without that piece: no row
    return out[["variant", "measure", *[c for c in out if c not in ("variant", "measure")]]]


def attention_report_lines(table: pd.DataFrame) -> list[str]:
    """report.md's attention section: one line per variant, mean ± std over seeds per measure."""
    if table.empty:
        return []
    lines = [
        "## Where attention goes (mean ± std over seeds; test split)",
        "",
        "| variant | n | " + " | ".join(ATTENTION_COLUMNS.values()) + " |",
        "|---|---|" + "---|" * len(ATTENTION_COLUMNS),
    ]
    known = [v for v in VARIANTS if v in set(table["variant"])]  # the grid's order
    order = known + [v for v in table["variant"].unique() if v not in known]
    for variant in order:
        rows = table[table["variant"] == variant]
        cells = [mean_std(rows[col]) for col in ATTENTION_COLUMNS]
        lines.append(f"| {variant} | {len(rows)} | " + " | ".join(cells) + " |")
    return [
        *lines,
        "",
        "(a) spatial-gate ROC AUC against the visible hand; (b) softmax mass of occluded-hand "
        "queries on visible-hand keys over their token share (1: no preference), best block; "
        "(c) share of FIT gate values in (0.05, 0.95). Empty: the variant lacks that piece. "
        "Definitions: evaluation.attention_stats.",
        "",
    ]


def mean_std(values: pd.Series, digits: int = 3) -> str:
    v = values.dropna()
    if v.empty:
        return ""
    return f"{v.mean():.{digits}f}" + (f" ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else "")
