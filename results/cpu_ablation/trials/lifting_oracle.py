"""How far can the cpu budget get from 2D joints alone? A lifting oracle on SynthOcc (synthetic).

An MLP sees the ground-truth 2D joints of each training image (crop-normalised exactly as the
model's 2D target: the 1.5x square crop around the hand box, units of the crop side), optionally
with Gaussian noise of std `noise` (the 2D error a real 2D branch would make), and predicts the
21 root-relative 3D joints. Its PA-MPJPE on the test split bounds what a model whose 2D branch
is that accurate can expect from lifting those 2D joints, at a given number of training samples.
With `--checkpoint` the script also measures that model's own 2D error on the test split (RMS
per coordinate, crop units), so the two can be compared.

    python results/cpu_ablation/trials/lifting_oracle.py --train runs/synthocc_cpu \
        --checkpoint runs/cpu_ablation64/backbone/model.pt

Not a result of the ablation: a feasibility check of its cpu-profile target (trials/recipe.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from handoccnet_lite.data.dataset import AugmentConfig, crop_square
from handoccnet_lite.data.shards import read_shard
from handoccnet_lite.metrics import pa_mpjpe


def load_split(folder: Path, expand: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 42) crop-normalised 2D joints (centred), (N, 63) root-relative 3D joints in metres."""
    shards = sorted(folder.glob("shard_*.npz"))
    if not shards:
        raise SystemExit(
            f"no SynthOcc shards under {folder}; generate them with `handoccnet-lite data`"
        )
    xs, ys = [], []
    for path in shards:
        a = read_shard(path)
        for box, j2d, j3d in zip(a["hand_box"], a["joints_2d"], a["joints_cam"], strict=True):
            centre, side = crop_square(box.astype(np.float64), expand)
            xs.append(((j2d - centre) / side).reshape(-1))  # (42,)
            ys.append((j3d - j3d[0]).reshape(-1))  # (63,)
    return torch.tensor(np.array(xs), dtype=torch.float32), torch.tensor(
        np.array(ys), dtype=torch.float32
    )


def lifting_pa_mpjpe(xtr, ytr, xte, yte, noise: float, steps: int, batch: int, seed: int) -> float:
    """Train a 2-hidden-layer MLP (42 -> 512 -> 512 -> 63) for `steps` x `batch` samples on noisy
    2D inputs; PA-MPJPE (mm) on the test inputs with the same noise."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(42, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 63),
    )
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(xtr), (batch,), generator=gen)
        x = xtr[idx] + noise * torch.randn(batch, 42, generator=gen)  # (b, 42)
        loss = (net(x) - 10.0 * ytr[idx]).square().mean()  # targets in cm: a better-scaled MSE
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net(xte + noise * torch.randn(xte.shape, generator=gen)) / 10.0  # (n, 63) metres
    return float(pa_mpjpe(pred.view(-1, 21, 3), yte.view(-1, 21, 3)))


def model_2d_rms(checkpoint: str, data: Path) -> float:
    """RMS 2D error per coordinate (crop units) of a trained model on `data`'s test split."""
    from handoccnet_lite.cli import load_trained
    from handoccnet_lite.data.dataset import SynthOccDataset
    from handoccnet_lite.engine.features import forward_batch

    model, cfg = load_trained(checkpoint)
    ds = SynthOccDataset(data, "test", cfg.input_size, augment=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=32)
    sq, n = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            err = (
                forward_batch(model, batch, "image")["joints_img"] - batch["joints_img"]
            )  # (B, 21, 2)
            sq += float(err.square().sum())
            n += err.numel()
    return (sq / n) ** 0.5


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--train", type=Path, required=True, help="SynthOcc root with a train split")
    p.add_argument(
        "--test", type=Path, default=Path("data_samples/synthocc"), help="root with a test split"
    )
    p.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.06, 0.09, 0.12])
    p.add_argument(
        "--budget",
        nargs="*",
        default=["1875x32", "4000x256"],
        help="STEPSxBATCH training budgets; 1875x32 is the cpu profile's stage 1 (none: only "
        "measure --checkpoint's 2D error)",
    )
    p.add_argument("--checkpoint", help="also measure this model's 2D error on the test split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    expand = AugmentConfig().expand
    xtr, ytr = load_split(a.train / "train", expand)
    xte, yte = load_split(a.test / "test", expand)
    print(
        f"SynthOcc (synthetic): {len(xtr)} training, {len(xte)} test hands; "
        f"2D std per coordinate {float(xte.std(0).mean()):.3f} crop units"
    )
    if a.checkpoint:
        rms = model_2d_rms(a.checkpoint, a.test)
        print(f"model {a.checkpoint}: 2D RMS error {rms:.3f} crop units")
    if not a.budget:
        return
    print("\n| budget (steps x batch) | 2D noise std (crop units) | PA-MPJPE mm |\n|---|---|---|")
    for budget in a.budget:
        steps, batch = (int(v) for v in budget.lower().split("x"))
        for noise in a.noise:
            e = lifting_pa_mpjpe(xtr, ytr, xte, yte, noise, steps, batch, a.seed)
            print(f"| {steps} x {batch} | {noise:.2f} | {e:.2f} |", flush=True)


if __name__ == "__main__":
    main()
