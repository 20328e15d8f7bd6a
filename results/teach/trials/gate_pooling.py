"""Why the release's FIT gate saturates: its pooling sums over the N keys.

The gate is g_i = sigmoid(pool_j(q_i . k_j / sqrt(d_k))). With the supplement's mean,
pool = (1/N) sum_j; the release sums, so its logit is exactly N times the mean logit: with
N = 16 x 16 = 256 tokens, g lies in (0.05, 0.95) (|logit| < 2.94) only when the *mean* logit
is within +-2.94 / 256 = +-0.0115. This script records, for a trained model's FIT blocks on the
SynthOcc test split (synthetic), the mean logit of every query and head and reports which
share of gates would be unsaturated under each pooling, from the same q and k.

    python results/teach/trials/gate_pooling.py --model results/teach/official/model.pt
"""

from __future__ import annotations

import argparse
import math

import torch

import handoccnet_lite.model.attention as attention
from handoccnet_lite.cli import load_trained
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.utils import DATA_SAMPLES_DIR

BAND = math.log(0.95 / 0.05)  # |logit| below this: sigmoid inside (0.05, 0.95)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--images", type=int, default=64)
    a = p.parse_args()
    torch.set_num_threads(1)
    model, cfg = load_trained(a.model)
    data = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", cfg.input_size)
    batch = torch.utils.data.default_collate([data[i] for i in range(a.images)])
    means: list[torch.Tensor] = []  # per FIT block: (B, H, N) mean logits
    real = attention.sigmoid_gate

    def recording(q, k, scale, pool):
        means.append((q @ k.transpose(-2, -1) * scale).mean(-1))  # (B, H, N)
        return real(q, k, scale, pool)

    attention.sigmoid_gate = recording
    try:
        with torch.no_grad():
            model(batch["image"], return_maps=True)
    finally:
        attention.sigmoid_gate = real
    n = cfg.grid**2
    print(f"model {a.model}: FIT pool = {cfg.fit.pool!r}, N = {n} tokens, {a.images} test images")
    for block, m in enumerate(means):
        inside_mean = (m.abs() < BAND).float().mean().item()
        inside_sum = ((m * n).abs() < BAND).float().mean().item()
        q = torch.quantile(m.abs().flatten(), torch.tensor([0.5, 0.9]))
        print(
            f"block {block}: |mean logit| median {q[0]:.4f}, 90% {q[1]:.4f}; gates inside "
            f"(0.05, 0.95): {inside_mean:.1%} with mean pooling, {inside_sum:.1%} with sum pooling"
        )


if __name__ == "__main__":
    main()
