"""`handoccnet-lite eval`: score a trained model per sample, by occlusion, against baselines."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from handoccnet_lite.cli.common import (
    BUNDLED,
    PROG,
    add_device_flag,
    add_progress_flag,
    load_trained,
    subparser,
    synthocc_split,
)


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "eval",
        "evaluate a trained model: per-sample metrics, summary, accuracy vs occlusion",
        "Score a trained model on a SynthOcc split. Predictions (root-relative) are moved to the\n"
        "ground-truth root, as HandOccNet's own evaluation does; PA metrics use similarity\n"
        "Procrustes without reflection. Writes one row per sample (index, occlusion fraction,\n"
        "visible joints, metrics in mm) to --csv, and prints the summary and a table by occlusion\n"
        "level. --baseline adds two constant references fitted on the train split: the mean\n"
        "pose (mean root-relative hand in the camera frame) and the mean hand (the average hand\n"
        "in its own frame, stronger for PA metrics when orientations vary). pred_spread: how the\n"
        "predictions vary between images (mm after rigid alignment; gt_spread: the truth's);\n"
        "near 0 means one constant hand, whatever its PA-MPJPE.",
        f"  {PROG} eval --run runs/quick\n"
        f"  {PROG} eval --run runs/quick/model.pt --data {BUNDLED} --split test --baseline\n"
        f"  {PROG} eval --run runs/quick --figure figures/eval_vs_occlusion.png\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--data", default=BUNDLED, help="SynthOcc root")
    p.add_argument("--split", default="test", help="split to score")
    p.add_argument("--batch-size", type=int, default=32, help="evaluation batch")
    p.add_argument("--csv", default=None, help="per-sample CSV (default RUN/eval_<split>.csv)")
    p.add_argument("--baseline", action="store_true", help="also score the constant baselines")
    p.add_argument("--figure", default=None, help="write a PA-MPJPE vs occlusion plot here (.png)")
    add_device_flag(p)
    add_progress_flag(p)
    p.set_defaults(func=cmd_eval)


def cmd_eval(a: argparse.Namespace) -> int:
    import pandas as pd

    from handoccnet_lite.engine import evaluate as ev

    model, cfg = load_trained(a.run)
    data = synthocc_split(a.data, a.split, cfg.input_size, feature_stride=cfg.feature_stride)
    df = ev.evaluate_model(model, data, a.batch_size, a.device, not a.no_progress).assign(
        method="model"
    )
    if a.baseline:
        train = synthocc_split(a.data, "train", cfg.input_size)
        for frame in ev.BASELINE_FRAMES:
            base = ev.MeanPoseBaseline.fit(train, frame=frame)
            df = pd.concat([df, ev.evaluate_baseline(base, data).assign(method=base.name)])
    run_dir = Path(a.run) if Path(a.run).is_dir() else Path(a.run).parent
    out = Path(a.csv) if a.csv else run_dir / f"eval_{a.split}.csv"
    df.to_csv(out, index=False)
    cols = ["method", "n", "pa_mpjpe", "mpjpe", "pa_mpvpe", "f5", "f15", "pred_spread", "gt_spread"]
    print(f"SynthOcc {a.split} ({len(data)} samples; errors in mm):")
    print(ev.summary_table(df, "method")[cols].round(3).to_string(index=False))
    print_occlusion_table(df)
    if a.figure:
        from handoccnet_lite.utils import save_figure

        fig = ev.plot_vs_occlusion(df, "pa_mpjpe", hue="method")
        print(f"figure: {save_figure(fig, Path(a.figure).name, Path(a.figure).parent)}")
    print(f"per-sample records: {out}")
    return 0


def print_occlusion_table(df: Any) -> None:
    """PA-MPJPE per occlusion bin and method: bins merged until each holds enough images, the
    mean with its 95% t-interval over images (occlusion.occlusion_table, as notebook 09)."""
    from handoccnet_lite import occlusion

    table = occlusion.occlusion_table(df, "pa_mpjpe", by="method")
    if table.empty:
        print("\nPA-MPJPE by occlusion level: no image with a known occlusion fraction.")
        return
    cells = table.assign(
        cell=[
            f"{m:.2f} [{lo:.2f}, {hi:.2f}]"
            for m, lo, hi in zip(table["mean"], table["ci_low"], table["ci_high"], strict=True)
        ]
    )
    wide = cells.pivot(index="occlusion_bin", columns="method", values="cell")
    wide.insert(
        0, "images", table.drop_duplicates("occlusion_bin").set_index("occlusion_bin")["n_images"]
    )
    print(f"\nPA-MPJPE by occlusion level (mm; {occlusion.interval_note(table)}):")
    print(wide.to_string())
