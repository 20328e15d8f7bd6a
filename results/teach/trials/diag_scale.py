"""Diagnostic D6: are the pre-trained backbone's features tied to the input size they learned at?

T8's 64-px pre-training scores 0.114 (2D, crop sides RMS) through its 1x1 head, yet the 128-px
full model started from it scores 0.140 after 4000 images, no better than T6's 128-px
pre-training. If the features are scale-specific (a hand twice as large in pixels meets filters
tuned to the smaller one), the same backbone and 1x1 head score far worse at 128 px than at 64 px.
Each phase-A state of T6 (128 px) and T8 (64 px), scored at both sizes; BatchNorm with its
running statistics (eval) and with the test batch's own (so a mismatch of running statistics
alone cannot explain the result).

    python results/teach/trials/diag_scale.py
"""

from __future__ import annotations

import numpy as np
import torch

from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine.pretrain import DenseHead, backbone_config, dense_rms_2d
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT

STATES = {"T6 (pre-trained at 128 px)": "dense", "T8 (pre-trained at 64 px)": "dense64"}


def batch_stat_rms(net: DenseHead, test, n: int = 300) -> float:
    net.train()  # BatchNorm normalises with each test batch's statistics (nothing is updated)
    sq = []
    with torch.no_grad():
        for i in range(0, n, 50):
            b = torch.utils.data.default_collate([test[j] for j in range(i, i + 50)])
            sq.append((net(b["image"])[1] - b["joints_img"]).square().numpy())
    return float(np.sqrt(np.concatenate(sq).mean()))


def main() -> None:
    torch.set_num_threads(1)
    cfg = teach_train_config(TeachPlan()).model
    print("2D error (crop sides, RMS) of the phase-A backbone + 1x1 head, 300 test images")
    for label, name in STATES.items():
        state = torch.load(REPO_ROOT / "runs/teach_trials" / name / "pretrain_state.pt")["net"]
        for size in (64, 128):
            net = DenseHead(backbone_config(cfg, size))
            net.load_state_dict({k: v for k, v in state.items() if k != "centres"}, strict=False)
            test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", size)
            running = dense_rms_2d(net, test, 300)
            print(f"  {label} scored at {size:3d} px: {running:.4f} (running BN statistics), "
                  f"{batch_stat_rms(net, test):.4f} (batch statistics)")  # fmt: skip


if __name__ == "__main__":
    main()
