"""`handoccnet-lite teach`: the long, resumable training of the explorer's teaching models."""

from __future__ import annotations

import argparse
from typing import Any

from handoccnet_lite.cli.common import PROG, subparser


def register(sub: Any) -> None:
    from handoccnet_lite.engine.teach import INPUTS, STARTS, TEACH_VARIANTS, VIEWPOINTS, TeachPlan

    p = subparser(
        sub,
        "teach",
        "train a teaching model for hours, in resumable chunks, with committed snapshots",
        "Train the model the notebooks and the attention explorer show (lite preset, 16 x 16\n"
        "tokens, the cpu recipe; 128 px, or --input 64 --start dense as the bundled models) in\n"
        "chunks; after each chunk evaluate it on the held-out SynthOcc test split (PA-MPJPE, 2D\n"
        "error, spatial-gate AUC, FIT attention ratio, gate saturation), append the learning\n"
        "curve and write a float16 snapshot with its log and config to results/teach/<run>/\n"
        "(small: commit it). Stop it any time: the next call resumes from\n"
        "runs/teach/<run>/checkpoint.pt, or, on a fresh clone, from the committed snapshot (new\n"
        "optimizer, same curve). The lr is constant within a phase: a call with another --lr than\n"
        "the last segment's starts a new phase from the latest weights with a fresh Adam (a\n"
        "schedule as phases). Results are synthetic (SynthOcc).",
        f"  {PROG} data --out runs/synthocc_teach --n-train 24000 --n-test 1 --seed 7\n"
        f"  {PROG} teach --variant official --hours 2      # ~14 img/s on one free core\n"
        f"  {PROG} teach --variant supplement --hours 2\n"
        f"  {PROG} teach --variant official --hours 1 --lr 1e-4  # a decay phase\n"
        f"  {PROG} teach --variant official --viewpoint upright --hours 1  # fingers-up crops\n"
        f"  {PROG} teach --variant official --start dense --hours 2  # pre-trained backbone\n"
        f"  {PROG} teach --variant official --input 64 --start dense --hours 2  # 64 px, stride 4\n"
        f"  {PROG} teach --variant official --input 64 --start dense --bundle  # -> data_samples/\n"
        f"  {PROG} teach --plot                            # results/teach/curves.png\n",
    )
    p.add_argument("--variant", default="official", choices=TEACH_VARIANTS)
    p.add_argument("--hours", type=float, default=0.0, help="wall-time budget of this call")
    p.add_argument("--max-steps", type=int, default=0, help="stop at this total step count")
    p.add_argument(
        "--chunk-steps", type=int, default=TeachPlan.chunk_steps, help="steps between snapshots"
    )
    p.add_argument(
        "--lr", type=float, default=TeachPlan.lr,
        help="constant Adam lr of this phase; another lr than the last segment's starts a new "
        "phase (default: the last phase's lr, 1e-3 for a new run)",
    )  # fmt: skip
    p.add_argument(
        "--viewpoint", default=TeachPlan.viewpoint, choices=list(VIEWPOINTS),
        help="uniform: SynthOcc's orientations; upright: crops turned fingers-up +- N(0, 30 deg) "
        "(own folders, results/teach/<variant>-upright; also scored on the upright test view)",
    )  # fmt: skip
    p.add_argument(
        "--start", default=TeachPlan.start, choices=list(STARTS),
        help="a new run's backbone: random weights (the recipe) or dense: first pre-trained at "
        "64 px on the renderer's 2D heatmaps and hand masks (engine.pretrain, about 11 min on "
        "one core; own folders, results/teach/<variant>-dense)",
    )  # fmt: skip
    p.add_argument(
        "--pretrain-images", type=int, default=TeachPlan.pretrain_images,
        help="with --start dense: images of the 64-px pre-training",
    )  # fmt: skip
    p.add_argument(
        "--input", type=int, default=TeachPlan.input_size, choices=list(INPUTS),
        help="input size; 16 x 16 tokens either way: 128 px with the release's feature stride 8, "
        "or 64 px with stride 4 (the FPN's P2 unpooled: about 0.6x the CPU per image; own "
        "folders, results/teach/<variant>-64px)",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=TeachPlan.threads, help="torch CPU threads")
    p.add_argument("--data", default=TeachPlan.data_root, help="SynthOcc root with a train split")
    p.add_argument("--plot", action="store_true", help="only draw results/teach/curves.png")
    p.add_argument(
        "--bundle", action="store_true",
        help="only copy the run's snapshot (the run that --variant, --input and --start name; or "
        "--source) to the checkpoint the notebooks load",
    )  # fmt: skip
    p.add_argument("--source", default="", help="with --bundle: the snapshot to bundle")
    p.add_argument(
        "--why", default="", help="with --bundle: why this step (kept in the bundled .json)"
    )
    p.set_defaults(func=cmd_teach)


def cmd_teach(a: argparse.Namespace) -> int:
    from pathlib import Path

    from handoccnet_lite.engine.teach import TeachPlan, teach
    from handoccnet_lite.engine.teach_report import bundle, plot_curves

    plan = TeachPlan(
        variant=a.variant,
        chunk_steps=a.chunk_steps,
        threads=a.threads,
        data_root=a.data,
        lr=a.lr,
        viewpoint=a.viewpoint,
        start=a.start,
        pretrain_images=a.pretrain_images,
        input_size=a.input,
    )
    if a.bundle:
        print(bundle(a.variant, a.source or None, plan, a.why))
        return 0
    if a.plot:
        print(plot_curves(plan.snapshot_root, Path(plan.snapshot_root) / "curves.png"))
        return 0
    teach(plan, hours=a.hours, max_steps=a.max_steps)
    return 0
