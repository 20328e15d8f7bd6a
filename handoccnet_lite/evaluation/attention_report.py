"""Reporting the attention measures (evaluation.attention_stats): a printable summary and the
files written to a results folder. The command line is `handoccnet-lite attention`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from handoccnet_lite.evaluation.attention_stats import (
    HEAD_MEAN,
    RATIO_QUERIES,
)


# --------------------------------------------------------------------------- reporting
def summarize_attention_stats(df: pd.DataFrame) -> str:
    """A few lines for printing: the gate AUCs, ratios and unsaturated fractions per block."""
    a = df.attrs
    lines = [
        f"Attention statistics over {a.get('images', '?')} images "
        f"({a.get('images_with_masks', '?')} with masks); cell threshold {a.get('threshold')}, "
        f"gate band {tuple(a.get('band', ()))}"
    ]
    lines += _gate_lines(df) + _ratio_lines(df) + _unsaturated_lines(df)
    lines += [f"note: {n}" for n in a.get("notes", [])]
    return "\n".join(lines)


def _rows(df: pd.DataFrame, **match: Any) -> pd.Series:
    sel = np.logical_and.reduce([df[k] == v for k, v in match.items()])
    return df[sel]


def _gate_lines(df: pd.DataFrame) -> list[str]:
    out = []
    for measure, what in (
        ("gate_auc", "no visible hand"),
        ("gate_auc_vs_occluded", "occluded hand"),
    ):
        row = _rows(df, measure=measure)
        if len(row):
            out.append(
                f"spatial gate s, AUC visible hand vs {what}: {row['value'].iloc[0]:.3f} "
                f"({row['n'].iloc[0]} cells)"
            )
    return out


def _per_block(df: pd.DataFrame, fmt: str) -> list[str]:
    """'  block b: mean X (heads x y ...), n queries' for each block of df (one measure)."""
    out = []
    for block, rows in df.groupby("block"):
        mean = rows[rows["head"] == HEAD_MEAN]
        heads = " ".join(format(v, fmt) for v in rows[rows["head"] != HEAD_MEAN]["value"])
        out.append(
            f"  block {block}: mean {format(mean['value'].iloc[0], fmt)} (heads {heads}), "
            f"n {mean['n'].iloc[0]}"
        )
    return out


def _ratio_lines(df: pd.DataFrame) -> list[str]:
    out = []
    for module in ("fit", "set"):
        for measure, queries in RATIO_QUERIES.items():
            rows = _rows(df, measure=measure, module=module)
            if len(rows):
                out.append(
                    f"{module.upper()} softmax, {queries} queries on visible-hand keys, "
                    "mass / token share (1 = no preference):"
                )
                out += _per_block(rows, ".3f")
    return out


def _unsaturated_lines(df: pd.DataFrame) -> list[str]:
    out = []
    for kind in ("hand", "background"):
        rows = _rows(df, measure=f"gate_unsaturated_{kind}")
        if len(rows):
            out.append(f"FIT gate g inside the band, {kind} queries (fraction):")
            out += _per_block(rows, ".3f")
    return out


def write_attention_stats(
    df: pd.DataFrame, out_dir: str | Path, stem: str = "attention_stats"
) -> dict[str, Path]:
    """Write STEM.csv (the rows), STEM.json (attrs + rows, NaN as null) and STEM.txt (summary)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {ext: out / f"{stem}.{ext}" for ext in ("csv", "json", "txt")}
    df.to_csv(paths["csv"], index=False)
    rows = json.loads(df.to_json(orient="records"))
    paths["json"].write_text(json.dumps({"meta": df.attrs, "rows": rows}, indent=1) + "\n")
    paths["txt"].write_text(summarize_attention_stats(df) + "\n")
    return paths
