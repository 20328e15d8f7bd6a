"""SynthOcc render speed: z-buffer vs painter rasteriser, and generation throughput.

    .venv/bin/python benchmarks/bench_render.py [--n 600] [--workers 2] [--resolution 128]

Timings on a shared machine are noisy: compare numbers taken on the same idle machine.
The project's target is >= 200 images/s at 128 px with 2 workers.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from handoccnet_lite.data import render as R
from handoccnet_lite.data import shards
from handoccnet_lite.data import synthocc as so
from handoccnet_lite.data.scene import SceneConfig
from handoccnet_lite.hand import SynthHand, sample_poses


def time_call(fn, repeat: int) -> float:
    """Median seconds per call over `repeat` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_rasterisers(resolution: int, repeat: int = 30) -> dict[str, float]:
    """ms per hand mesh for both rasterisers at one resolution."""
    model = SynthHand().double()
    pose = sample_poses(1, torch.Generator().manual_seed(0), mode="grasp").double()
    v = model(pose).vertices[0].numpy()
    v = v - v.mean(0) + [0, 0, 0.45]
    f = model.faces.numpy()
    K = np.array([[1.4 * resolution, 0, resolution / 2], [0, 1.4 * resolution, resolution / 2],
                  [0, 0, 1.0]])  # fmt: skip
    out = {}
    for name, fn in (("zbuffer", R.rasterize), ("painter", R.rasterize_painter)):
        out[name] = 1e3 * time_call(lambda fn=fn: fn(v, f, K, resolution, resolution), repeat)
    return out


def bench_single_core(resolution: int, n: int = 96) -> float:
    """images/s of render + PNG encode in this process (one core)."""
    scene = dataclasses.asdict(dataclasses.replace(SceneConfig(), resolution=resolution))
    spec = {"seed": 0, "split": "train", "hand_model": "synth", "scene": scene,
            "occlusion_mix": so.normalise_mix(so.DEFAULT_MIX)}  # fmt: skip
    torch.set_num_threads(1)
    shards.encode_records(so.render_indices(range(8), spec))  # warm-up
    t0 = time.perf_counter()
    for start in range(0, n, so.CHUNK):
        shards.encode_records(so.render_indices(range(start, min(start + so.CHUNK, n)), spec))
    return n / (time.perf_counter() - t0)


def bench_generate(n: int, workers: int, resolution: int) -> tuple[float, float, float]:
    """generate_synthocc's pipeline (chunks rendered by a worker pool): images/s end to end
    (incl. the pool's start-up: each spawned worker imports torch), images/s in steady state
    (after the first chunk arrives), and the total seconds."""
    scene = dataclasses.asdict(dataclasses.replace(SceneConfig(), resolution=resolution))
    spec = {"seed": 0, "split": "train", "hand_model": "synth", "scene": scene,
            "occlusion_mix": so.normalise_mix(so.DEFAULT_MIX), "png_level": 3}  # fmt: skip
    chunks = [list(range(s, min(s + so.CHUNK, n))) for s in range(0, n, so.CHUNK)]
    t0 = time.perf_counter()
    t_first, done_after_first = None, 0
    for packed in so._run_chunks(chunks, spec, workers):
        if t_first is None:
            t_first = time.perf_counter()
        else:
            done_after_first += len(packed["index"])
    dt = time.perf_counter() - t0
    return n / dt, done_after_first / (time.perf_counter() - t_first), dt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--resolution", type=int, default=128)
    a = p.parse_args()
    print("NOTE: timings on a shared machine are noisy.")
    for res in (128, 256):
        r = bench_rasterisers(res)
        print(f"rasterise SynthHand at {res} px: z-buffer {r['zbuffer']:.2f} ms, "
              f"painter (cv2.fillPoly) {r['painter']:.2f} ms")  # fmt: skip
    one = bench_single_core(a.resolution)
    print(f"render + encode, 1 core, {a.resolution} px: {one:.0f} images/s")
    rate, steady, dt = bench_generate(a.n, a.workers, a.resolution)
    print(f"generation, n={a.n}, {a.workers} workers, {a.resolution} px: {steady:.0f} images/s "
          f"steady state, {rate:.0f} images/s end to end ({dt:.1f} s incl. worker start-up); "
          "target >= 200 images/s")  # fmt: skip


if __name__ == "__main__":
    main()
