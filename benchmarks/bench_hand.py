"""Time a forward pass of 64 poses through the hand models on CPU (and CUDA if present).

Usage: python benchmarks/bench_hand.py [--batch 64] [--repeats 50] [--threads N]
Prints the median and 90th-percentile wall time per forward. Target on CPU: well under 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from handoccnet_lite.hand import MANOHand, SynthHand, sample_poses
from handoccnet_lite.hand.joints import MANO_PARENTS


def random_mano_arrays(seed: int = 0) -> dict:
    """Random arrays of MANO_RIGHT's shapes (timing only; no real MANO data needed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    v = 778
    w = rng.random((v, 16))
    return {
        "v_template": rng.normal(scale=0.04, size=(v, 3)),
        "shapedirs": rng.normal(scale=1e-3, size=(v, 3, 10)),
        "posedirs": rng.normal(scale=1e-3, size=(v, 3, 135)),
        "J_regressor": rng.random((16, v)) / v,
        "weights": w / w.sum(1, keepdims=True),
        "kintree_table": np.array([[-1, *MANO_PARENTS[1:]], list(range(16))]),
        "f": rng.integers(0, v, size=(1538, 3)),
        "hands_components": rng.normal(size=(45, 45)),
        "hands_mean": np.zeros(45),
    }


def time_forward(model, pose, shape, repeats: int) -> list[float]:
    """Wall-clock milliseconds of `repeats` no-grad forwards after 3 warm-up calls."""
    sync = torch.cuda.synchronize if pose.is_cuda else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(repeats + 3):
            sync()
            t0 = time.perf_counter()
            model(pose, shape)
            sync()
            if i >= 3:
                times.append(1000 * (time.perf_counter() - t0))
    return times


def report(name: str, times: list[float]) -> None:
    q90 = sorted(times)[int(0.9 * (len(times) - 1))]
    print(f"{name:28s} median {statistics.median(times):7.2f} ms   p90 {q90:7.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    pose = sample_poses(args.batch, gen)
    shape = torch.randn(args.batch, 10, generator=gen)
    t0 = time.perf_counter()
    model = SynthHand()
    build_ms = 1000 * (time.perf_counter() - t0)
    sizes = f"V={model.num_vertices}, F={model.faces.shape[0]}"
    print(f"SynthHand construction {build_ms:.1f} ms ({sizes}), threads={torch.get_num_threads()}")
    report(f"SynthHand cpu B={args.batch}", time_forward(model, pose, shape, args.repeats))
    with torch.enable_grad():
        p = pose.clone().requires_grad_()
        t0 = time.perf_counter()
        model(p, shape).vertices.sum().backward()
        print(
            f"SynthHand cpu forward+backward (one call) {1000 * (time.perf_counter() - t0):.2f} ms"
        )
    mano = MANOHand(arrays=random_mano_arrays())
    report(f"MANOHand(shapes) cpu B={args.batch}", time_forward(mano, pose, shape, args.repeats))
    if torch.cuda.is_available():
        cuda = SynthHand().to("cuda")
        report(f"SynthHand cuda B={args.batch}",
               time_forward(cuda, pose.cuda(), shape.cuda(), args.repeats))  # fmt: skip


if __name__ == "__main__":
    main()
