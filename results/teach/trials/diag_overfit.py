"""Diagnostic D5: can the teaching architecture fit a small training set precisely?

D4 found the model under-fitting (training error = test error). If it cannot even memorise 512
images (2D error on those same images), the limit is the architecture or the optimisation at
this resolution (capacity, 16 x 16 heatmaps, loss balance); if it can, the limit is how many
distinct images it takes to learn the task (data and time). The teaching recipe and variant,
random initialisation, no augmentation, lr 1e-3, batch 32, on the first 512 training images.

    python results/teach/trials/diag_overfit.py --steps 400 --out runs/teach_trials/overfit512
"""

from __future__ import annotations

import argparse

import torch
from diag_train_test import rms_2d  # the sibling diagnostic's 2D error (same folder)

from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.engine.trainer import train
from handoccnet_lite.utils import DATA_SAMPLES_DIR


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--out", default="runs/teach_trials/overfit512")
    a = p.parse_args()
    torch.set_num_threads(1)
    plan = TeachPlan()
    cfg = teach_train_config(plan).replace(
        max_samples=a.n, augment=False, max_steps=a.steps, progress=False
    )
    model = train(cfg, a.out).model.eval()
    size = model.cfg.input_size
    seen = SynthOccDataset(plan.data_root, "train", size)
    test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", size)
    epochs = a.steps * cfg.batch_size / a.n
    print(f"{a.steps} steps ({epochs:.0f} epochs of {a.n} images), 2D error, crop sides RMS:")
    print(f"  on the {a.n} training images: {rms_2d(model, seen, a.n):.4f}")
    print(f"  on the 300 test images:       {rms_2d(model, test, 300):.4f}")


if __name__ == "__main__":
    main()
