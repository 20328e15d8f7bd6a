"""Measure train-step throughput and size of the model presets (and the candidates for `lite`).

A train step = forward + HandOccNet loss + backward + Adam step on random images and random
targets of the right shapes, batch `--batch`, with `--threads` CPU threads (2: the target laptop /
CI budget). Prints a table and optionally writes JSON.

    .venv/bin/python benchmarks/bench_presets.py                       # paper, lite, tiny
    .venv/bin/python benchmarks/bench_presets.py --candidates --json out.json
    .venv/bin/python benchmarks/bench_presets.py --protocol --presets lite --candidates

`--protocol` also times the two halves of the CPU budget protocol: feature extraction
(`extract_features`, no grad, eval mode) and a head train step on cached features
(`forward_features` + loss + backward + Adam over the parameters after the FPN), batch
`--head-batch`.

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
    backbone: str,
    size: int,
    dim: int,
    heads: int,
    depth: int,
    hidden: tuple[int, int],
    stages: int = 4,
    hourglass: int = 0,
) -> ModelConfig:
    """A lite candidate: ResNet `backbone` (`stages` stages into the FPN) at `size` px,
    C = `dim`, FIT/SET `heads` x `depth`, hourglass width `hourglass` (0: C)."""
    grid = size // 8
    t = TransformerConfig(variant="official", dim=dim, heads=heads, depth=depth, grid=grid)
    return ModelConfig(
        backbone=backbone, backbone_stages=stages, input_size=size, feat_dim=dim, grid=grid,
        hourglass_channels=hourglass or dim, mano_hidden=hidden, fit=t, set=dataclasses.replace(t),
        hand_model="synth",
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
        "r18s3-128px-C128-h2": _variant("resnet18", 128, 128, 2, 2, (512, 256), stages=3),
        "r18s3-128px-C128-h2-hg64": _variant(
            "resnet18", 128, 128, 2, 2, (512, 256), stages=3, hourglass=64
        ),
        "r18s3-128px-C64-h2": _variant("resnet18", 128, 64, 2, 2, (512, 256), stages=3),
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


def measure_protocol(cfg: ModelConfig, batch: int, head_batch: int, steps: int) -> dict[str, float]:
    """images/s of feature extraction (no grad) and of a head train step on cached features."""
    torch.manual_seed(0)
    model = HandOccNet(cfg.replace(hand_model="synth"))
    data = random_batch(cfg, model.hand.num_vertices, max(batch, head_batch))
    model.eval()
    with torch.no_grad():
        feat = model.extract_features(data["image"][:head_batch])  # (B, C, G, G)
        times = []
        for _ in range(steps + 1):
            t0 = time.perf_counter()
            model.extract_features(data["image"][:batch])
            times.append(time.perf_counter() - t0)
    extract = sorted(times[1:])[steps // 2]
    model.train()
    prefixes = tuple(p + "." for p in model.feature_modules)
    head = [p for n, p in model.named_parameters() if not n.startswith(prefixes)]
    opt = torch.optim.Adam(head, lr=1e-4)
    hb = {k: v[:head_batch] for k, v in data.items()}
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        compute_losses(model.forward_features(feat), hb, model.cfg.loss)["total"].backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    head_step = sorted(times[1:])[steps // 2]
    n_head = sum(p.numel() for p in head) / 1e6
    return {
        "head_params_M": round(n_head, 2),
        "extract_img_per_s": batch / extract,
        "head_img_per_s": head_batch / head_step,
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=["paper", "lite", "tiny"])
    parser.add_argument("--candidates", action="store_true", help="also the lite candidates")
    parser.add_argument("--only", nargs="*", default=None, help="candidates to time (default all)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--protocol", action="store_true", help="also extract / head timings")
    parser.add_argument("--head-batch", type=int, default=64)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = {name: preset(name) for name in args.presets}
    if args.candidates:
        configs.update(
            {k: v for k, v in candidates().items() if args.only is None or k in args.only}
        )
    results = {}
    for name, cfg in configs.items():
        results[name] = measure(cfg, args.batch, args.steps)
        if args.protocol:
            results[name] |= measure_protocol(cfg, args.batch, args.head_batch, args.steps)
        r = results[name]
        extra = (
            f"  extract {r['extract_img_per_s']:7.1f} img/s  head {r['head_img_per_s']:7.1f} "
            f"img/s ({r['head_params_M']:.2f} M)"
            if args.protocol
            else ""
        )
        print(f"{name:26s} params {r['params_M']:7.2f} M  step {r['step_s']:7.3f} s  "
              f"{r['img_per_s']:7.2f} img/s{extra}", flush=True)  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
