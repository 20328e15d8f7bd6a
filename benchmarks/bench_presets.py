"""Measure train-step throughput and size of the model presets (and the candidates for `lite`).

A train step = forward + HandOccNet loss + backward + Adam step on random images and random
targets of the right shapes, batch `--batch`, with `--threads` CPU threads (2: the target laptop /
CI budget). Prints a table and optionally writes JSON.

    .venv/bin/python benchmarks/bench_presets.py                       # paper, lite, tiny
    .venv/bin/python benchmarks/bench_presets.py --candidates --json out.json

Timings on a shared machine are noisy: compare numbers taken in one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from handoccnet_lite.config import ModelConfig, TransformerConfig, preset
from handoccnet_lite.losses import compute_losses
from handoccnet_lite.model.handoccnet import HandOccNet


def _variant(
    backbone: str, size: int, dim: int, heads: int, depth: int, hidden: tuple[int, int]
) -> ModelConfig:
    """A lite candidate: ResNet `backbone` at `size` px, C = `dim`, FIT/SET `heads` x `depth`."""
    grid = size // 8
    t = TransformerConfig(variant="official", dim=dim, heads=heads, depth=depth, grid=grid)
    return ModelConfig(
        backbone=backbone, input_size=size, feat_dim=dim, grid=grid, hourglass_channels=dim,
        mano_hidden=hidden, fit=t, set=dataclasses.replace(t), hand_model="synth",
    )  # fmt: skip


def candidates() -> dict[str, ModelConfig]:
    """Configurations considered for `lite` (all hourglass depth 4, official FIT/SET)."""
    return {
        "r18-128px-C64-h2": _variant("resnet18", 128, 64, 2, 2, (512, 256)),
        "r18-128px-C128-h2": _variant("resnet18", 128, 128, 2, 2, (512, 256)),
        "r18-128px-C128-h4": _variant("resnet18", 128, 128, 4, 2, (1024, 512)),
        "r34-128px-C128-h2": _variant("resnet34", 128, 128, 2, 2, (512, 256)),
        "r50-128px-C256-h4": _variant("resnet50", 128, 256, 4, 2, (1024, 512)),
        "r18-256px-C128-h2": _variant("resnet18", 256, 128, 2, 2, (512, 256)),
    }


def random_batch(cfg: ModelConfig, num_vertices: int, batch: int) -> dict[str, torch.Tensor]:
    """Random inputs/targets with the data sample's keys and shapes (INTERFACES.md)."""
    g = torch.Generator().manual_seed(0)
    return {
        "image": torch.rand(batch, 3, cfg.input_size, cfg.input_size, generator=g),
        "joints_img": torch.rand(batch, 21, 2, generator=g),
        "joints_cam": 0.05 * torch.randn(batch, 21, 3, generator=g),
        "verts_cam": 0.05 * torch.randn(batch, num_vertices, 3, generator=g),
        "mano_pose": 0.3 * torch.randn(batch, 48, generator=g),
        "mano_shape": torch.randn(batch, 10, generator=g),
        "has_mano": torch.ones(batch),
    }


def train_step(model: HandOccNet, opt: torch.optim.Optimizer, batch: dict) -> float:
    """One optimisation step; returns the total loss."""
    opt.zero_grad(set_to_none=True)
    losses = compute_losses(model(batch["image"]), batch, model.cfg.loss)
    losses["total"].backward()
    opt.step()
    return float(losses["total"].detach())


def measure(cfg: ModelConfig, batch: int, steps: int) -> dict[str, float]:
    """Params (millions) and train images/s (median over `steps` after one warm-up step)."""
    torch.manual_seed(0)
    model = HandOccNet(cfg.replace(hand_model="synth")).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = random_batch(cfg, model.hand.num_vertices, batch)
    train_step(model, opt, data)  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        train_step(model, opt, data)
        times.append(time.perf_counter() - t0)
    step = sorted(times)[len(times) // 2]
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return {"params_M": round(params, 2), "step_s": round(step, 3), "img_per_s": batch / step}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=["paper", "lite", "tiny"])
    parser.add_argument("--candidates", action="store_true", help="also the lite candidates")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = {name: preset(name) for name in args.presets}
    configs.update(candidates() if args.candidates else {})
    results = {}
    for name, cfg in configs.items():
        results[name] = measure(cfg, args.batch, args.steps)
        r = results[name]
        print(f"{name:22s} params {r['params_M']:7.2f} M  step {r['step_s']:7.3f} s  "
              f"{r['img_per_s']:7.2f} img/s", flush=True)  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
