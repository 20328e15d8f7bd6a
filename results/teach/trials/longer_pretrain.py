"""Trial T13: does a longer dense pre-training give the 64-px model a better start? One knob
against T12 (0.132 / 0.121 / 0.118 / 0.112 at 4000-16000 full-model images): the pre-training's
length, 128000 images instead of 64000 (its own curve was still falling at 64000: 0.119 at
48000, 0.113 at 64000). The pre-training continues a copy of the teaching runs' 64000-image state
(`teach --start dense`, engine.pretrain); the full model is the package's 64-px recipe
(`TeachPlan(input_size=64)`: feature stride 4) from those weights, scored like T5-T12.

    python results/teach/trials/longer_pretrain.py --out runs/teach_trials/longer_pretrain
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from batch_size import run_curve  # the sibling trial's resumable curve (same folder)

from handoccnet_lite.engine.pretrain import PretrainPlan, pretrain_backbone
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pretrain-images", type=int, default=128_000)
    p.add_argument("--start-state", default="runs/teach/official-dense-64px.pretrain")
    p.add_argument("--images", type=int, default=16000, help="full-model images in all")
    p.add_argument("--every", type=int, default=4000, help="images between evaluations")
    p.add_argument("--out", default="runs/teach_trials/longer_pretrain")
    a = p.parse_args()
    torch.set_num_threads(1)
    plan = TeachPlan(input_size=64, start="dense")
    base = teach_train_config(plan)  # 64 px, stride 4, the teaching recipe
    folder = Path(a.out) / "pretrain"
    if not folder.exists():
        shutil.copytree(a.start_state, folder)
    weights = pretrain_backbone(
        base.model, PretrainPlan(images=a.pretrain_images), plan.data_root, plan.test_root, folder
    )
    labels = {"input": 64, "stride": 4, "start": f"dense {a.pretrain_images}"}
    run_curve(base.replace(init_from=str(weights)), Path(a.out), a.images, a.every, labels)


if __name__ == "__main__":
    main()
