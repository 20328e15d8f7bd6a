"""Trial T10: does training the heads on the frozen pre-trained backbone first keep its head start?

T6 and T8 found a gap: through its 1x1 head the 64-px pre-trained backbone scores 0.114 (2D,
crop sides RMS), but the full model started from it scores 0.140 after 4000 images and 0.134
after 8000, barely ahead of T6's 128-px pre-training, while the heads (gate, FIT, SET, hourglass,
regressor) start from random weights and the backbone trains with them at lr 1e-3. Hypothesis
(feature distortion, as in linear-probe-then-fine-tune): gradients through random heads disturb
the pre-trained features; training the heads first on the frozen backbone (`inputs="features"`,
the features computed on the fly from each augmented image) and then fine-tuning everything
keeps more of the head start. One knob against T8's phase B: the heads' frozen warm-up of
`--probe-images` images; then the teaching recipe, as T8. 2D error on the 300 test images after
the warm-up and every `--every` images of fine-tuning; process CPU seconds (without T8's
pre-training, 671 s) in `<out>/curve.csv`. Resumable at its evaluation points.

    python results/teach/trials/probe_finetune.py --backbone runs/teach_trials/dense64/pretrain.pt \
        --out runs/teach_trials/probe_finetune
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch
from batch_size import append_row  # the sibling trial's curve writer (same folder)
from diag_train_test import rms_2d  # the sibling diagnostic's 2D error (same folder)
from torch.utils.data import Dataset

from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine.builders import build_model, build_train_dataset, load_init_weights
from handoccnet_lite.engine.checkpoint import has_checkpoint
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.engine.trainer import train
from handoccnet_lite.utils import DATA_SAMPLES_DIR


class FrozenFeatures(Dataset):
    """Each training item with its image replaced by the frozen backbone's feature F (C, G, G)."""

    def __init__(self, base: Dataset, backbone: torch.nn.Module) -> None:
        self.base, self.backbone = base, backbone.eval()

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict:
        item = dict(self.base[i])
        with torch.no_grad():
            item["feat"] = self.backbone.features(item.pop("image")[None])[0]  # (C, G, G)
        return item


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="runs/teach_trials/dense64/pretrain.pt")
    p.add_argument("--probe-images", type=int, default=9600, help="heads-only images (300 x 32)")
    p.add_argument("--images", type=int, default=16000, help="fine-tuning images after the probe")
    p.add_argument("--every", type=int, default=4000, help="images between evaluations")
    p.add_argument("--out", default="runs/teach_trials/probe_finetune")
    a = p.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    base = teach_train_config(TeachPlan()).replace(progress=False)
    test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", base.model.input_size)
    curve = out / "curve.csv"
    done = list(csv.DictReader(curve.open())) if curve.is_file() else []
    cpu0 = float(done[-1]["cpu_seconds"]) if done else 0.0
    if not any(r["phase"] == "probe" for r in done):
        frozen = build_model(base.model)
        load_init_weights(frozen, a.backbone)
        data = FrozenFeatures(build_train_dataset(base), frozen.backbone)
        cfg = base.replace(
            inputs="features", init_from=a.backbone, max_steps=a.probe_images // base.batch_size
        )
        start = time.process_time()
        model = train(cfg, out / "probe", dataset=data).model.eval()
        cpu0 += time.process_time() - start
        row = {"phase": "probe", "images": a.probe_images, "cpu_seconds": round(cpu0, 1),
               "rms_2d": round(rms_2d(model, test), 4)}  # fmt: skip
        print(row, flush=True)
        append_row(curve, row)
    for seen in range(a.every, a.images + 1, a.every):
        if any(r["phase"] == "finetune" and int(r["images"]) == seen for r in done):
            continue
        cfg = base.replace(max_steps=seen // base.batch_size, init_from=str(out / "probe"))
        start = time.process_time()
        model = train(cfg, out / "run", resume=has_checkpoint(out / "run")).model.eval()
        cpu0 += time.process_time() - start
        row = {"phase": "finetune", "images": seen, "cpu_seconds": round(cpu0, 1),
               "rms_2d": round(rms_2d(model, test), 4)}  # fmt: skip
        print(row, flush=True)
        append_row(curve, row)


if __name__ == "__main__":
    main()
