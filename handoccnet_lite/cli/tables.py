"""`handoccnet-lite tables`: the paper's tables, optionally with our numbers beside them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from handoccnet_lite.cli.common import PROG, UserError, subparser


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "tables",
        "print the paper's tables, optionally with our numbers beside them",
        "Published numbers (with sources) as Markdown or CSV. With --ours, our measured means\n"
        "are appended, labelled with the dataset they were measured on (SynthOcc unless said),\n"
        "so they can never pass for HO-3D or Dex-YCB numbers. --ablation prints an ablation\n"
        "folder's report (the paper's ablation tables are not available here).",
        f"  {PROG} tables --list\n"
        f"  {PROG} tables table5\n"
        f"  {PROG} tables table5 --ours runs/quick/eval_test.csv --seeds 0\n"
        f"  {PROG} tables --ablation runs/ablation/quick\n",
    )
    p.add_argument("name", nargs="?", default=None, help="table5, S1, S2 or wilor")
    p.add_argument("--list", action="store_true", help="list the tables held here")
    p.add_argument("--ours", default=None, help="per-sample eval CSV (from `eval`) to put beside")
    p.add_argument("--dataset", default="SynthOcc (synthetic)", help="what --ours was measured on")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds behind --ours")
    p.add_argument("--ablation", default=None, help="ablation folder: print its report.md")
    p.add_argument(
        "--format", choices=("markdown", "csv"), default="markdown", help="output format"
    )
    p.set_defaults(func=cmd_tables)


def cmd_tables(a: argparse.Namespace) -> int:
    from handoccnet_lite import table_format, tables

    if a.list or (a.name is None and a.ablation is None):
        for key, title in tables.available_tables().items():
            print(f"{key:10} {title}")
        return 0
    if a.ablation:
        report = Path(a.ablation) / "report.md"
        if not report.is_file():
            raise UserError(
                f"No report.md in {a.ablation}; run `{PROG} ablate --out {a.ablation}` first."
            )
        print(report.read_text())
        if a.name is None:
            return 0
    try:
        df = tables.paper_table(a.name)
        if a.ours:
            metrics = tables.table_info(a.name).metrics
            df = tables.side_by_side(a.name, _ours_means(a.ours, metrics), a.dataset, a.seeds)
    except tables.TableNotAvailableError as e:
        raise UserError(str(e)) from e
    print(df.to_csv(index=False) if a.format == "csv" else table_format.to_markdown(df))
    return 0


def _ours_means(path: str, metrics: Any) -> dict[str, float]:
    import pandas as pd

    if not Path(path).is_file():
        raise UserError(f"--ours {path}: no such file; write one with `{PROG} eval --csv {path}`.")
    df = pd.read_csv(path)
    if "method" in df:
        df = df[df["method"] == "model"]
    cols = [c for c in metrics if c in df]
    if not cols:
        raise UserError(f"--ours {path} has none of this table's metrics {list(metrics)}.")
    return {c: float(df[c].mean()) for c in cols}
