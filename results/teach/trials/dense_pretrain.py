"""Trial T6: does a backbone pre-trained on a dense task learn the 2D joints faster?

The teaching ablation found that fresh heads (gate, FIT, SET, regressor) on the trained model's
features come within 0.4 mm of the full model in 300 steps: what learns slowly is the backbone.
The release starts its backbone from ImageNet; we cannot download that, but the renderer gives a
dense task for free. Hypothesis: a backbone trained first on that task through a *short* path
(a 1x1 convolution on the feature F, 16 x 16: 21 joint heatmaps, amodal, and one hand-mask
channel, visible + hidden hand fraction per cell) and then given to the full model learns the 2D
joints faster than the recipe from random weights, per image and per CPU-second.

Phase A (pretrain): the teaching model's backbone (trunk + FPN, its BatchNorm) and the 1x1 head,
Adam 1e-3, batch 32, the teaching runs' images with augmentation; loss = heatmap cross-entropy
(the recipe's Gaussian, 0.5 cells) + hand-mask binary cross-entropy. Its own 2D error (soft-argmax
of its heatmaps) on the 300 test images every `--every` images: this is also a diagnostic of the
short path itself against the full model (`batch_size.txt`, the recipe at equal images).
Phase B (finetune): the teaching recipe (official variant), the backbone initialised from phase A
(`TrainConfig.init_from`; gate, FIT, SET and regressor start as in the recipe), 2D error every
`--every` images. Process CPU seconds of both phases are recorded in `<out>/curve.csv`.
Resumable: rerun the same command.

    python results/teach/trials/dense_pretrain.py --out runs/teach_trials/dense
    python results/teach/trials/dense_pretrain.py --pretrain-size 64 --pretrain-images 64000 \
        --pretrain-every 16000 --out runs/teach_trials/dense64

The second command is trial T8 (one knob changed from T6, phase A's input size): 64-px images
cost about a quarter of 128-px ones, so the same CPU-seconds pre-train on four times the images.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from batch_size import append_row  # the sibling trial's curve writer (same folder)
from diag_train_test import rms_2d  # the sibling diagnostic's 2D error (same folder)
from torch import nn

from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine.builders import build_model, build_train_dataset
from handoccnet_lite.engine.checkpoint import has_checkpoint
from handoccnet_lite.engine.teach import TeachPlan, teach_train_config
from handoccnet_lite.engine.trainer import train
from handoccnet_lite.losses import heatmap_cross_entropy
from handoccnet_lite.utils import DATA_SAMPLES_DIR, atomic_torch_save

JOINTS = 21


class DenseNet(nn.Module):
    """The full model's backbone (same parameter names) + a 1x1 head: 21 heatmaps + 1 mask."""

    def __init__(self, model_cfg) -> None:
        super().__init__()
        self.backbone = build_model(model_cfg).backbone
        self.head = nn.Conv2d(model_cfg.feat_dim, JOINTS + 1, kernel_size=1)
        g = model_cfg.grid
        self.register_buffer("centres", torch.stack(torch.meshgrid(
            (torch.arange(g) + 0.5) / g, (torch.arange(g) + 0.5) / g, indexing="xy"
        ), -1).reshape(-1, 2))  # (G*G, 2) cell centres (x, y), as the soft-argmax's  # fmt: skip

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.head(self.backbone.features(image))  # (B, 22, G, G)
        prob = logits[:, :JOINTS].flatten(2).softmax(-1)  # (B, J, G*G)
        joints = prob @ self.centres  # (B, J, 2) soft-argmax in [0, 1]
        return prob.view_as(logits[:, :JOINTS]), joints, logits[:, JOINTS]


def dense_loss(net: DenseNet, batch: dict, sigma: float) -> torch.Tensor:
    heat, _, mask_logit = net(batch["image"])
    hand = (batch["visible_mask"] + batch["occluded_mask"]).clamp(0, 1)  # (B, G, G) amodal hand
    ce = heatmap_cross_entropy(heat, batch["joints_img"], sigma)
    return ce + F.binary_cross_entropy_with_logits(mask_logit, hand)


def rms_2d_dense(net: DenseNet, ds, n: int = 300, batch: int = 50) -> float:
    sq = []
    with torch.no_grad():
        for i in range(0, n, batch):
            b = torch.utils.data.default_collate([ds[j] for j in range(i, min(i + batch, n))])
            sq.append((net(b["image"])[1] - b["joints_img"]).square().numpy())
    return float(np.sqrt(np.concatenate(sq).mean()))


def pretrain(cfg, out: Path, images: int, every: int, test, curve: Path) -> float:
    """Phase A to `images` images; returns its CPU seconds. Writes out/pretrain.pt (resumable)."""
    state_path = out / "pretrain_state.pt"
    net = DenseNet(cfg.model)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.base_lr)
    seen, cpu = 0, 0.0
    if state_path.is_file():
        st = torch.load(state_path, weights_only=False)
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        seen, cpu = st["images"], st["cpu"]
    data = build_train_dataset(cfg)
    sigma = cfg.model.loss.heatmap_sigma
    while seen < images:
        start = time.process_time()
        net.train()
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seen))
        for k in range(0, every, cfg.batch_size):
            idx = order[k : k + cfg.batch_size].tolist()
            batch = torch.utils.data.default_collate([data[i] for i in idx])
            loss = dense_loss(net, batch, sigma)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seen += every
        net.eval()
        cpu += time.process_time() - start
        err = rms_2d_dense(net, test)
        row = {"phase": "pretrain", "images": seen, "cpu_seconds": round(cpu, 1),
               "loss": round(loss.item(), 4), "rms_2d": round(err, 4)}  # fmt: skip
        print(row, flush=True)
        append_row(curve, row)
        atomic_torch_save({"net": net.state_dict(), "opt": opt.state_dict(), "images": seen,
                           "cpu": cpu}, state_path)  # fmt: skip
    backbone = {f"backbone.{k}": v for k, v in net.backbone.state_dict().items()}
    atomic_torch_save({"model": backbone}, out / "pretrain.pt")  # what init_from reads
    return cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pretrain-images", type=int, default=16000)
    p.add_argument("--images", type=int, default=16000, help="full-model images after phase A")
    p.add_argument("--every", type=int, default=4000, help="images between evaluations")
    p.add_argument("--pretrain-every", type=int, default=0, help="phase A's (0: --every)")
    p.add_argument(
        "--pretrain-size", type=int, default=128, help="phase A's input size (phase B: 128)"
    )
    p.add_argument("--out", default="runs/teach_trials/dense")
    a = p.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    curve = out / "curve.csv"
    done = list(csv.DictReader(curve.open())) if curve.is_file() else []
    cfg = teach_train_config(TeachPlan()).replace(progress=False)
    depth = min(cfg.model.hourglass_depth, (a.pretrain_size // 8).bit_length() - 1)
    pre_model = cfg.model.replace(hourglass_depth=depth).resized(a.pretrain_size)  # backbone only
    pre = cfg.replace(model=pre_model)
    pre_test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", a.pretrain_size)
    cpu0 = pretrain(pre, out, a.pretrain_images, a.pretrain_every or a.every, pre_test, curve)
    test = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", cfg.model.input_size)
    tuned = [r for r in done if r["phase"] == "finetune"]
    cpu0 = float(tuned[-1]["cpu_seconds"]) if tuned else cpu0
    for images in range(a.every, a.images + 1, a.every):
        if any(int(r["images"]) == images for r in tuned):
            continue
        steps = images // cfg.batch_size
        run_cfg = cfg.replace(max_steps=steps, init_from=str(out / "pretrain.pt"))
        start = time.process_time()
        model = train(run_cfg, out / "run", resume=has_checkpoint(out / "run")).model.eval()
        cpu0 += time.process_time() - start
        row = {"phase": "finetune", "images": images, "cpu_seconds": round(cpu0, 1),
               "loss": "", "rms_2d": round(rms_2d(model, test, 300), 4)}  # fmt: skip
        print(row, flush=True)
        append_row(curve, row)


if __name__ == "__main__":
    main()
