"""`handoccnet-lite data`: generate SynthOcc or regenerate the bundled samples."""

from __future__ import annotations

import argparse
import os
from typing import Any

from handoccnet_lite.cli.common import PROG, UserError, add_progress_flag, subparser


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "data",
        "generate SynthOcc (rendered occluded hands) or regenerate the bundled samples",
        "Render a SynthOcc set: hands in MANO's parameterisation, posed, lit and partly hidden by\n"
        "objects, with exact per-joint visibility and occlusion fractions. Every sample is\n"
        "deterministic from (seed, split, index).\n"
        "Writes <out>/<split>/shard_*.npz + manifest.json, both splits into a temp folder beside\n"
        "<out> that replaces <out> at the end: a failure leaves the earlier set as it was.",
        f"  {PROG} data --out data/synthocc --n-train 3000 --n-test 500\n"
        f"  {PROG} data --samples            # rebuild data_samples/synthocc bit for bit\n",
    )
    p.add_argument("--out", default="data/synthocc", help="output root folder")
    p.add_argument("--n-train", type=int, default=3000, help="training images")
    p.add_argument("--n-test", type=int, default=500, help="test images")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--resolution", type=int, default=128, help="rendered image side (pixels)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="render processes")
    p.add_argument(
        "--samples",
        action="store_true",
        help="regenerate the committed data_samples/synthocc (ignores the size flags)",
    )
    add_progress_flag(p)
    p.set_defaults(func=cmd_data)


def cmd_data(a: argparse.Namespace) -> int:
    from handoccnet_lite.data.synthocc import generate_synthocc_set, make_data_samples

    if a.samples:
        print(
            "bundled samples regenerated in "
            f"{make_data_samples(workers=a.workers, progress=not a.no_progress)}"
        )
        return 0
    if a.n_train < 1 or a.n_test < 1:
        raise UserError(f"--n-train and --n-test must be >= 1 (got {a.n_train}, {a.n_test}).")
    sizes = {"train": a.n_train, "test": a.n_test}
    root = generate_synthocc_set(  # both splits in a temp folder, swapped in at the end
        a.out, sizes, seed=a.seed, resolution=a.resolution, workers=a.workers,
        progress=not a.no_progress,
    )  # fmt: skip
    for split, n in sizes.items():
        print(f"{split}: {n} samples in {root / split}")
    return 0
