"""`handoccnet-lite attention`: where a trained model's attention goes, per block and head."""

from __future__ import annotations

import argparse
from typing import Any

from handoccnet_lite.cli.common import PROG, subparser


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "attention",
        "measure where a trained model's attention goes (gate AUC, FIT ratio, gate saturation)",
        "Run a trained model over a SynthOcc split and measure, per block and head: the spatial\n"
        "gate's ROC AUC against the visible hand of each feature cell; for occluded-hand queries,\n"
        "FIT's softmax mass on visible-hand keys over their token share (1 = no preference; the\n"
        "same for background queries as the control); the share of FIT gate values inside\n"
        "(0.05, 0.95). Definitions: handoccnet_lite.evaluation.attention_stats. Writes\n"
        "attention_stats.csv, .json and .txt to --out and prints the summary.",
        f"  {PROG} attention --run data_samples/checkpoints/lite_synthocc.pt --out runs/attn\n"
        f"  {PROG} attention --run results/teach/official/model.pt --out runs/attn_teach\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--data", default="data_samples/synthocc", help="SynthOcc root")
    p.add_argument("--split", default="test", help="split to measure (default: test)")
    p.add_argument("--out", required=True, help="folder for attention_stats.{csv,json,txt}")
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass")
    p.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    p.add_argument("--threshold", type=float, default=0.5, help="cell class threshold")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_attention)


def cmd_attention(a: argparse.Namespace) -> int:
    import torch

    from handoccnet_lite.cli.common import load_trained, synthocc_split
    from handoccnet_lite.evaluation.attention_report import (
        summarize_attention_stats,
        write_attention_stats,
    )
    from handoccnet_lite.evaluation.attention_stats import attention_stats

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    model, cfg = load_trained(a.run)
    data = synthocc_split(a.data, a.split, cfg.input_size, feature_stride=cfg.feature_stride)
    df = attention_stats(
        model, data, a.device, a.max_batches, a.batch_size, a.threshold, progress=not a.no_progress
    )
    paths = write_attention_stats(df, a.out)
    print(summarize_attention_stats(df))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
