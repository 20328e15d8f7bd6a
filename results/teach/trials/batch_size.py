"""Trial T5: does a smaller batch learn more per image (and per CPU-second) from random weights?

D5 found fitting itself slow: 400 steps of 32 leave even 512 images unlearned. On one CPU thread
the cost of a step grows about linearly with its batch, so the images seen per CPU-second are
nearly fixed; what the batch size changes is how many updates those images buy. Hypothesis:
early in training, batch 8 (4 updates per 32 images) lowers the 2D error faster per image than
batch 32 at the same lr (Adam 1e-3). One knob: the batch size; everything else is the teaching
recipe (official variant, augmentation on, the teaching runs' 24000 images). The 2D error
(crop sides, RMS) on the bundled 300 test images is recorded every `--every` images, with the
process CPU seconds spent so far, in `<out>/curve.csv`. Resumable: rerun the same command.

    python results/teach/trials/batch_size.py --batch 8 --out runs/teach_trials/batch8
    python results/teach/trials/batch_size.py --batch 32 --out runs/teach_trials/batch32
    python results/teach/trials/batch_size.py --batch 8 --lr 5e-4 \
        --out runs/teach_trials/batch8_lr5e-4
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch
from diag_train_test import rms_2d  # the sibling diagnostic's 2D error (same folder)

from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine.checkpoint import has_checkpoint
from handoccnet_lite.engine.pretrain import append_row  # noqa: F401 (the siblings import it from here)
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.engine.trainer import train
from handoccnet_lite.utils import DATA_SAMPLES_DIR


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--images", type=int, default=16000, help="images to train on in all")
    p.add_argument("--every", type=int, default=4000, help="images between evaluations")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam lr (the teaching recipe: 1e-3)")
    p.add_argument("--out", default="runs/teach_trials/batch8")
    a = p.parse_args()
    torch.set_num_threads(1)
    base = teach_train_config(TeachPlan()).replace(batch_size=a.batch, base_lr=a.lr)
    run_curve(base, Path(a.out), a.images, a.every, {"batch": a.batch, "lr": a.lr})


def run_curve(base, out: Path, images: int, every: int, labels: dict) -> None:
    """Train `base` (a TrainConfig) from random weights to `images` images, resumably, and append
    the 2D test error and the process CPU seconds so far every `every` images to out/curve.csv."""
    curve = out / "curve.csv"
    done = list(csv.DictReader(curve.open())) if curve.is_file() else []
    cpu0 = float(done[-1]["cpu_seconds"]) if done else 0.0
    test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", base.model.input_size)
    for seen in range(every, images + 1, every):
        if any(int(r["images"]) == seen for r in done):
            continue
        steps = seen // base.batch_size
        cfg = base.replace(max_steps=steps, progress=False)
        start = time.process_time()
        model = train(cfg, out / "run", resume=has_checkpoint(out / "run")).model.eval()
        cpu0 += time.process_time() - start
        row = labels | {"images": seen, "steps": steps, "cpu_seconds": round(cpu0, 1),
                        "rms_2d": round(rms_2d(model, test, 300), 4)}  # fmt: skip
        print(row, flush=True)
        append_row(curve, row)


if __name__ == "__main__":
    main()
