"""Trial T9: does a curriculum from unoccluded to occluded images learn the 2D joints faster?

The issue's own early 2D-only trial found a model trained on unoccluded images learning faster
(on unoccluded test items). Hypothesis: occlusion makes the first images less informative (the
backbone must find the hand before it can learn hidden joints), so showing the recipe only
images with little occlusion first, then the usual mix, lowers the 2D error on the whole
(occluded) test split faster per image than the usual mix from the start. One knob: what the
first `--easy-images` images are drawn from (the training images whose visible-hand occlusion
is below `--max-occlusion`: 8068 of the teaching runs' 24000 at 0.1); everything else is the
teaching recipe (official variant, batch 32, lr 1e-3, augmentation, one Adam throughout).
Scored as trial T5 (2D error on the 300 test images every `--every` images, process CPU
seconds), against the recipe's arm in `batch_size.txt`. Resumable: rerun the same command.

    python results/teach/trials/curriculum.py --out runs/teach_trials/curriculum
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from batch_size import append_row  # the sibling trial's curve writer (same folder)
from diag_train_test import rms_2d  # the sibling diagnostic's 2D error (same folder)
from torch.utils.data import Dataset

from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine.builders import build_train_dataset
from handoccnet_lite.engine.checkpoint import has_checkpoint
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.engine.trainer import train
from handoccnet_lite.utils import DATA_SAMPLES_DIR


class EasyView(Dataset):
    """The training set's length (so the sampler and resume see the same epoch), every index
    mapped onto the easy subset: item i is base[easy[i % len(easy)]]."""

    def __init__(self, base: Dataset, easy: np.ndarray) -> None:
        self.base, self.easy = base, easy

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict:
        return self.base[int(self.easy[i % len(self.easy)])]


def occlusion_levels(root: Path) -> np.ndarray:
    """Each training image's visible-hand occlusion, from the shards (no decoding)."""
    shards = sorted((root / "train").glob("shard_*.npz"))
    return np.concatenate([np.load(f)["occlusion"] for f in shards])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--easy-images", type=int, default=8000, help="images of the first phase")
    p.add_argument("--max-occlusion", type=float, default=0.1)
    p.add_argument("--images", type=int, default=16000, help="images to train on in all")
    p.add_argument("--every", type=int, default=4000, help="images between evaluations")
    p.add_argument("--out", default="runs/teach_trials/curriculum")
    a = p.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    base = teach_train_config(TeachPlan()).replace(progress=False)
    full = build_train_dataset(base)
    easy = np.flatnonzero(occlusion_levels(Path(base.data_root)) < a.max_occlusion)
    print(f"{len(easy)} of {len(full)} training images have occlusion < {a.max_occlusion}")
    test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", base.model.input_size)
    curve = out / "curve.csv"
    done = list(csv.DictReader(curve.open())) if curve.is_file() else []
    cpu0 = float(done[-1]["cpu_seconds"]) if done else 0.0
    for seen in range(a.every, a.images + 1, a.every):
        if any(int(r["images"]) == seen for r in done):
            continue
        data = EasyView(full, easy) if seen <= a.easy_images else full
        cfg = base.replace(max_steps=seen // base.batch_size)
        start = time.process_time()
        run = train(cfg, out / "run", resume=has_checkpoint(out / "run"), dataset=data)
        cpu0 += time.process_time() - start
        err = rms_2d(run.model.eval(), test)
        row = {"arm": f"easy first {a.easy_images}", "images": seen, "steps": cfg.max_steps,
               "cpu_seconds": round(cpu0, 1), "rms_2d": round(err, 4)}  # fmt: skip
        print(row, flush=True)
        append_row(curve, row)


if __name__ == "__main__":
    main()
