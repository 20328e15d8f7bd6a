"""Reporting the attention measures (evaluation.attention_stats): a printable summary, the files
written to a results folder, and the command line entry:

    python -m handoccnet_lite.evaluation.attention_report \\
        --checkpoint data_samples/checkpoints/lite_synthocc.pt --data data_samples/synthocc \\
        --split test --out results/attention_stats
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from handoccnet_lite.evaluation.attention_stats import (
    HEAD_MEAN,
    RATIO_QUERIES,
    THRESHOLD,
    attention_stats,
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


# --------------------------------------------------------------------------- entry point
def load_model(path: str | Path) -> nn.Module:
    """A HandOccNet in eval mode, on the CPU, from a run folder, model.pt or checkpoint.pt."""
    from handoccnet_lite.engine import checkpoint as ckpt
    from handoccnet_lite.model import HandOccNet

    state = ckpt.load_checkpoint(ckpt.find_weights(path), map_location="cpu")
    model = HandOccNet(ckpt.trained_model_config(state))
    model.load_state_dict(ckpt.float_weights(state["model"]))  # exported files store float16
    return model.eval()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m handoccnet_lite.evaluation.attention_stats",
        description="Attention statistics of a trained model on a SynthOcc split (see the "
        "module docstring for the definitions).",
    )
    p.add_argument("--checkpoint", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--data", default="data_samples/synthocc", help="SynthOcc root")
    p.add_argument("--split", default="test", help="split to measure")
    p.add_argument("--out", required=True, help="folder for attention_stats.{csv,json,txt}")
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass")
    p.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="cell class threshold")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv: Iterable[str] | None = None) -> int:
    from handoccnet_lite.data.dataset import SynthOccDataset

    a = parse_args(None if argv is None else list(argv))
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_model(a.checkpoint)
    data = SynthOccDataset(a.data, a.split, model.cfg.input_size, augment=False)
    df = attention_stats(
        model, data, a.device, a.max_batches, a.batch_size, a.threshold, progress=not a.no_progress
    )
    paths = write_attention_stats(df, a.out)
    print(summarize_attention_stats(df))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
