"""Diagnostic D4: under- or over-fitting? The 2D error of a teaching snapshot on 300 of its own
training images (no augmentation) against the 300 held-out test images (SynthOcc, synthetic).
Equal errors: the model has not yet fit its training set (optimisation, capacity or time), so
more data alone will not help; a much lower training error: it memorises (more data would).

    python results/teach/trials/diag_train_test.py --model results/teach/official/model.pt
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from handoccnet_lite.cli import load_trained
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT


def rms_2d(model, ds, n: int = 300, batch: int = 50) -> float:
    sq = []
    with torch.no_grad():
        for i in range(0, n, batch):
            b = torch.utils.data.default_collate([ds[j] for j in range(i, min(i + batch, n))])
            sq.append((model(b["image"])["joints_img"].float() - b["joints_img"]).square().numpy())
    return float(np.sqrt(np.concatenate(sq).mean()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="results/teach/official/model.pt")
    p.add_argument("--train", default=str(REPO_ROOT / "runs" / "synthocc_teach"))
    a = p.parse_args()
    torch.set_num_threads(1)
    model, cfg = load_trained(a.model)
    model.eval()
    train = SynthOccDataset(a.train, "train", cfg.input_size, augment=False)
    test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", cfg.input_size)
    print(f"model: {a.model}; 2D error, crop sides RMS")
    print(f"300 training images: {rms_2d(model, train):.4f}")
    print(f"300 test images:     {rms_2d(model, test):.4f}")


if __name__ == "__main__":
    main()
