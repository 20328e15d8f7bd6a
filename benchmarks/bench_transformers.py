"""FIT + SET at the paper's sizes: explicit vs fused attention, time, memory, where time goes.

Usage: python benchmarks/bench_transformers.py [--grids 16 32 64] [--batch 8] [--batch-large 2]
       [--threads N] [--repeats 5] [--quick] [--no-memory] [--no-convs]

Model: official FIT then SET, C = 256, 4 heads, depth 2, float32, CPU (CUDA if --device cuda).
Batch: --batch (default 8) at grids <= 32; --batch-large (default 2) at 64 x 64, because the
explicit path stores several (B, 4, 4096, 4096) float32 maps (537 MB each at B = 2) for backward.

What is measured, and how:
- time: median wall-clock of --repeats calls after one warm-up, forward under no_grad ("fwd")
  and forward + backward of sum(out^2) ("fwd+bwd"). Explicit and fused calls alternate, so the
  ratios explicit / fused compare calls made under the same load of a shared machine.
- memory: each (grid, path, fwd | fwd+bwd) runs in a fresh subprocess: after a batch-1 warm-up,
  the peak resident set (VmHWM, reset through /proc/self/clear_refs) minus the resident set just
  before the pass, i.e. the extra memory the pass needed (model and inputs excluded); glibc is
  told to mmap every buffer > 64 KiB so freed tensors leave the resident set. Linux only.
  Also printed: the size of ONE (B, H, N, N) float32 map, 4 B H N^2 bytes. The explicit path
  holds several such maps (FIT: softmax, product, transient logits; SET: softmax, logits), the
  fused path none (its attention tensors are O(B H N D)).
- share: torch.profiler on one forward, inclusive times: "attention" = the
  ``record_function("attention")`` ranges in the blocks (maps or fused kernel, gate, A v);
  "fusion convs" = FIT's ``record_function("fusion_convs")`` (3x3, ReLU, 3x3, 1x1 skip);
  "linear" = every aten::linear (the 1x1 q/k/v projections, run as Linear on tokens, and the
  MLPs). The rest is LayerNorm, GELU, residual adds, reshapes and positional embeddings.
- --no-convs skips the next-bottleneck study of FIT's fusion convs (channels_last, oneDNN off).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial

import torch

from handoccnet_lite.config import TransformerConfig
from handoccnet_lite.model import FIT, SET

DIM, HEADS, DEPTH = 256, 4, 2
PATHS = ("explicit", "fused")


# --------------------------------------------------------------------------- building blocks
def build(grid: int, batch: int, path: str, device: str = "cpu", channels_last: bool = False):
    """Official FIT and SET at the paper's width, and random (B, C, G, G) inputs."""
    torch.manual_seed(0)
    cfg = TransformerConfig(
        variant="official", dim=DIM, heads=HEADS, depth=DEPTH, grid=grid, path=path
    )
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    fit = FIT(cfg).to(device, memory_format=fmt)
    st = SET(cfg).to(device, memory_format=fmt)
    f_s, f_p = (torch.randn(batch, DIM, grid, grid, device=device) for _ in range(2))
    return fit, st, f_s.to(memory_format=fmt), f_p.to(memory_format=fmt)


def step(fit: FIT, st: SET, f_s: torch.Tensor, f_p: torch.Tensor, backward: bool) -> None:
    """One FIT -> SET pass; with backward, also the gradients of sum(out^2)."""
    if not backward:
        with torch.no_grad():
            st(fit(f_s, f_p)[0])
        return
    st(fit(f_s, f_p)[0])[0].square().sum().backward()
    for p in (*fit.parameters(), *st.parameters()):
        p.grad = None


def seconds(fn: Callable[[], None], device: str) -> float:
    """Wall time of one call."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def interleave(calls: dict, repeats: int, device: str) -> dict:
    """Median seconds per call; calls alternate one by one (after one warm-up each) so that
    all of them see the same load on a shared machine."""
    for fn in calls.values():
        fn()
    times: dict = {key: [] for key in calls}
    for _ in range(repeats):
        for key, fn in calls.items():
            times[key].append(seconds(fn, device))
    return {key: statistics.median(ts) for key, ts in times.items()}


def interleaved_medians(parts: dict, repeats: int, device: str) -> dict[tuple, float]:
    """Median seconds per (key of parts, backward) of `step`, interleaved."""
    calls = {(p, b): partial(step, *parts[p], b) for p in parts for b in (False, True)}
    return interleave(calls, repeats, device)


# --------------------------------------------------------------------------- memory
def proc_status_bytes(field: str) -> int:
    """A /proc/self/status memory field (VmRSS: resident now, VmHWM: resident peak) in bytes."""
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    return kb * 1024


def reset_peak_rss() -> None:
    """Make VmHWM restart from the current RSS (Linux >= 4.0; harmless where refused)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def measure_peak(grid: int, batch: int, path: str, backward: bool, threads: int) -> int:
    """Child process body: extra resident bytes one pass needs (VmHWM - VmRSS before).

    A batch-1 warm-up first maps the code pages and starts the thread pools, which would
    otherwise count as hundreds of MiB; the parent sets MALLOC_MMAP_THRESHOLD_ so that every
    tensor buffer above 64 KiB is its own mmap, returned to the system when freed, and the
    resident set follows the live tensors.
    """
    torch.set_num_threads(threads)
    fit, st, f_s, f_p = build(grid, batch, path)
    step(fit, st, f_s[:1], f_p[:1], backward)
    reset_peak_rss()
    before = proc_status_bytes("VmRSS")
    step(fit, st, f_s, f_p, backward)
    return proc_status_bytes("VmHWM") - before


def peak_in_subprocess(grid: int, batch: int, path: str, backward: bool, threads: int) -> int:
    """Run `measure_peak` in a fresh interpreter so earlier peaks do not hide this one."""
    args = [sys.executable, __file__, "--_peak", str(grid), str(batch), path, str(int(backward))]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    done = subprocess.run(
        [*args, "--threads", str(threads)], capture_output=True, text=True, env=env
    )
    if done.returncode:
        raise RuntimeError(f"memory subprocess failed: {done.stderr[-2000:]}")
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak"])


def map_bytes(grid: int, batch: int) -> int:
    """Bytes of one (B, H, N, N) float32 attention map."""
    n = grid * grid
    return 4 * batch * HEADS * n * n


# --------------------------------------------------------------------------- profile
def time_shares(fit: FIT, st: SET, f_s: torch.Tensor, f_p: torch.Tensor) -> dict[str, float]:
    """Fractions of one no-grad forward: attention, FIT's fusion convs, Linear layers."""
    from torch.profiler import ProfilerActivity, profile, record_function

    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("total"):
            st(fit(f_s, f_p)[0])
    totals = {e.key: e.cpu_time_total for e in prof.key_averages()}
    keys = {"attention": "attention", "convs": "fusion_convs", "linear": "aten::linear"}
    return {name: totals.get(key, 0.0) / totals["total"] for name, key in keys.items()}


# --------------------------------------------------------------------------- tables
def mib(x: float) -> str:
    return f"{x / 2**20:,.0f}"


def run_grid(grid: int, batch: int, args: argparse.Namespace) -> list[str]:
    """Markdown rows (one per path) plus a ratio row for one token grid."""
    parts = {path: build(grid, batch, path, args.device) for path in PATHS}
    med = interleaved_medians(parts, args.repeats, args.device)
    rows = []
    for path in PATHS:
        shares = "-"
        if args.device == "cpu":
            share = time_shares(*parts[path])
            shares = " / ".join(f"{share[k]:.0%}" for k in ("attention", "convs", "linear"))
        peaks = ["-", "-"]
        if args.memory and args.device == "cpu":
            peaks = [mib(peak_in_subprocess(grid, batch, path, b, args.threads)) for b in (0, 1)]
        rows.append(
            f"| {grid}x{grid} | {batch} | {path} | {med[path, False] * 1e3:,.0f} | "
            f"{med[path, True] * 1e3:,.0f} | {peaks[0]} | {peaks[1]} | {shares} | "
            f"{mib(map_bytes(grid, batch))} |"
        )
        print(rows[-1], flush=True)
    speed = [med["explicit", b] / med["fused", b] for b in (False, True)]
    rows.append(f"| {grid}x{grid} | | **explicit / fused** | {speed[0]:.2f}x | {speed[1]:.2f}x |")
    print(rows[-1], flush=True)
    return rows


# --------------------------------------------------------------------------- next bottleneck
def fusion_convs(fit: FIT, x: torch.Tensor, onednn: bool = True) -> None:
    """FIT's fusion convs alone on x (B, 2C, G, G), no grad."""
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=onednn):
        fit.fuse(x) + fit.fuse_skip(x)


def fusion_convs_row(grid: int, batch: int, args: argparse.Namespace) -> str:
    """FIT's fusion convs: default, channels_last, oneDNN disabled (median ms, interleaved)."""
    fit = build(grid, batch, "fused")[0]
    fit_last = build(grid, batch, "fused", channels_last=True)[0]
    x = torch.randn(batch, 2 * DIM, grid, grid)
    calls = {
        "base": partial(fusion_convs, fit, x),
        "last": partial(fusion_convs, fit_last, x.to(memory_format=torch.channels_last)),
        "no_onednn": partial(fusion_convs, fit, x, False),
    }
    med = interleave(calls, args.repeats, "cpu")
    base, last, no_onednn = med["base"], med["last"], med["no_onednn"]
    return (
        f"| {grid}x{grid} | {batch} | {base * 1e3:,.0f} | {last * 1e3:,.0f} ({base / last:.2f}x) | "
        f"{no_onednn * 1e3:,.0f} ({base / no_onednn:.2f}x) |"
    )


def whole_channels_last_row(grid: int, batch: int, args: argparse.Namespace) -> str:
    """Fused FIT + SET forward with every parameter and input in channels_last (interleaved)."""
    parts = {last: build(grid, batch, "fused", channels_last=last) for last in (False, True)}
    med = interleaved_medians(parts, args.repeats, "cpu")
    res = [med[last, False] for last in (False, True)]
    speed = res[0] / res[1]
    return f"| {grid}x{grid} | {batch} | {res[0] * 1e3:,.0f} | {res[1] * 1e3:,.0f} ({speed:.2f}x) |"


# --------------------------------------------------------------------------- main
def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--grids", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--batch", type=int, default=8, help="batch at grids <= 32")
    ap.add_argument("--batch-large", type=int, default=2, help="batch at grids > 32")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--quick", action="store_true", help="grids 16 32, batch 2, 1 repeat")
    ap.add_argument("--no-memory", dest="memory", action="store_false")
    ap.add_argument("--no-convs", dest="convs", action="store_false")
    ap.add_argument("--_peak", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.grids, args.batch, args.batch_large, args.repeats = [16, 32], 2, 1, 1
    return args


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    if args._peak:
        grid, batch, path, backward = args._peak
        peak = measure_peak(int(grid), int(batch), path, bool(int(backward)), args.threads)
        print(json.dumps({"peak": peak}))
        return
    print(
        f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads, "
        f"C={DIM}, heads={HEADS}, depth={DEPTH}, official FIT + SET, float32\n"
    )
    print(
        "| tokens | batch | path | fwd ms | fwd+bwd ms | fwd peak MiB | fwd+bwd peak MiB | "
        "fwd share: attention / fusion convs / linear | one NxN map MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for grid in args.grids:
        run_grid(grid, args.batch if grid <= 32 else args.batch_large, args)
    if args.convs and args.device == "cpu":
        print("\nFIT fusion convs alone (fwd ms; speed-up vs default in brackets)\n")
        print("| tokens | batch | default (oneDNN, NCHW) | channels_last | oneDNN disabled |")
        print("|---|---|---|---|---|")
        for grid in args.grids:
            print(fusion_convs_row(grid, args.batch if grid <= 32 else args.batch_large, args))
        print("\nFused FIT + SET forward, all tensors channels_last (ms)\n")
        print("| tokens | batch | NCHW | channels_last |")
        print("|---|---|---|---|")
        for grid in args.grids:
            print(
                whole_channels_last_row(grid, args.batch if grid <= 32 else args.batch_large, args)
            )


if __name__ == "__main__":
    main()
