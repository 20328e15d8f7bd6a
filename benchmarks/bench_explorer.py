"""Notebook 08's explorer: seconds per occluder change (re-render + forward + figure + PNG).

    .venv/bin/python benchmarks/bench_explorer.py [--checkpoint PATH] [--changes 8] [--threads 2]

Moves the placed disc across the hand `--changes` times, as a student dragging the x slider,
and prints per change the wall time and this process's CPU time (the wall time on an idle
machine with as many cores as threads; on a loaded machine the wall time is much larger), split
into scene + model and drawing. The target is < 1 s per change on 2 cores. A benchmark, not a
test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="", help="model; empty: the bundled checkpoint")
    p.add_argument("--changes", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import torch

    from handoccnet_lite import viz
    from handoccnet_lite.cli import load_trained
    from handoccnet_lite.data.dataset import SynthOccDataset
    from handoccnet_lite.utils import DATA_SAMPLES_DIR

    torch.set_num_threads(args.threads)
    ckpt = args.checkpoint or DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc.pt"
    model, cfg = load_trained(ckpt)
    data = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", input_size=cfg.input_size)
    ex = viz.attention_explorer(model, data, n_images=3)
    ex.controls["shape"].value = "disc"  # warm-up: first render of this image
    ex.timings.clear()
    for x in np.linspace(0.25, 0.75, args.changes):
        ex.controls["x"].value = round(float(x), 2)
    keys = ("scene_and_model_s", "draw_s", "total_s", "cpu_s")
    print(f"{args.changes} occluder changes, {args.threads} torch thread(s), {cfg.input_size} px")
    for k in keys:
        v = np.array([t[k] for t in ex.timings])
        print(f"  {k:18s} median {np.median(v):.3f} s, max {v.max():.3f} s")


if __name__ == "__main__":
    main()
