"""Trial T7: does a deeper backbone learn the 2D joints faster per image from random weights?

D5 found that the teaching architecture fits even 512 images slowly, and the teaching ablation
that the backbone is the part that learns slowly. The lite backbone is ResNet-18's C2..C4
(2 + 2 + 2 basic blocks, 2.8 M parameters in the trunk). Hypothesis: the trunk's capacity limits
how fast it learns; ResNet-34's C2..C4 (3 + 4 + 6 blocks, the same widths, so the FPN, gate,
FIT, SET and regressor are unchanged) lowers the 2D error faster per image. One knob: the
backbone; everything else is the teaching recipe (official variant, batch 32, lr 1e-3,
augmentation on, the teaching runs' images). Scored as trial T5 (2D error on the 300 test images
every `--every` images, process CPU seconds), against the recipe's arm in `batch_size.txt`.
Resumable: rerun the same command.

    python results/teach/trials/capacity.py --backbone resnet34 --out runs/teach_trials/resnet34
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from batch_size import run_curve  # the sibling trial's resumable curve (same folder)

from handoccnet_lite.engine.teach import TeachPlan, teach_train_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="resnet34", choices=("resnet18", "resnet34"))
    p.add_argument("--images", type=int, default=16000, help="images to train on in all")
    p.add_argument("--every", type=int, default=4000, help="images between evaluations")
    p.add_argument("--out", default="runs/teach_trials/resnet34")
    a = p.parse_args()
    torch.set_num_threads(1)
    base = teach_train_config(TeachPlan())
    base = base.replace(model=base.model.replace(backbone=a.backbone))
    run_curve(base, Path(a.out), a.images, a.every, {"backbone": a.backbone})


if __name__ == "__main__":
    main()
