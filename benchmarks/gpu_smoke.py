"""GPU smoke test: everything a first hour on one CUDA machine should check, in under 5 minutes.

Usage:
    PYTHONPATH=$PWD python benchmarks/gpu_smoke.py                 # on a CUDA machine
    PYTHONPATH=$PWD python benchmarks/gpu_smoke.py --device cpu --quick --out /tmp/smoke
                                                                    # dry run of the plumbing

Checks (each isolated: one failure is recorded and the others still run):
environment; the CUDA tests (`pytest -k cuda`); a few bf16 training steps of the tiny and paper
presets, eager and torch.compile'd; resume from a checkpoint written on the device; evaluation on
the device; bf16-vs-fp32 parity of the bundled model (data_samples/checkpoints/lite_synthocc.pt);
paper-preset training images/s and peak memory; the SynthOcc loader's images/s; a 2-process NCCL
all-reduce when two GPUs exist. Prints one summary table and writes it (summary.md,
summary.json) under --out (default results/gpu_smoke/<date>_<gpu>/).

Exit status: 0 all checks passed or skipped, 1 a check failed, 2 no CUDA (without --device cpu).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT, cuda_unusable_reason

SYNTHOCC = DATA_SAMPLES_DIR / "synthocc"
BUNDLED_MODEL = DATA_SAMPLES_DIR / "checkpoints" / "lite_synthocc.pt"
NO_CUDA_EXIT = 2


@dataclass
class Check:
    """One row of the summary table."""

    name: str
    status: str  # "ok" | "FAIL" | "skip"
    detail: str
    seconds: float


@dataclass(frozen=True)
class Options:
    """What the checks run on and how much of them."""

    device: torch.device
    quick: bool  # dry run: tiny sizes, no compile, no subprocess test run
    work: Path  # scratch folder for runs


# --------------------------------------------------------------------------- helpers
def _train(opts: Options, preset_name: str, out: Path, **changes: Any) -> dict[str, Any]:
    """A short bf16 run of the trainer on the bundled SynthOcc train split; its summary."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine import trainer

    batch = changes.pop("batch_size", 2 if opts.quick else 16)
    steps = changes.pop("max_steps", 2 if opts.quick else 6)
    cfg = trainer.TrainConfig(
        model=preset(preset_name),
        data_root=str(SYNTHOCC),
        max_samples=batch * steps,
        epochs=1,
        max_steps=steps,
        batch_size=batch,
        amp="bf16",
        device=str(opts.device),
        ckpt_every=10**6,
        progress=False,
        tensorboard=False,
    ).replace(**changes)
    summary = trainer.train(cfg, out).summary
    losses = summary["final_losses"]
    if not all(torch.isfinite(torch.tensor(v)) for v in losses.values()):
        raise RuntimeError(f"non-finite losses {losses}")
    return summary


def _peak_memory_gib(device: torch.device) -> str:
    if device.type != "cuda":
        return "n/a (cpu)"
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"


def _test_items(n: int, input_size: int) -> Any:
    """The first n items of the bundled SynthOcc test split at the model's input size."""
    from torch.utils.data import Subset

    from handoccnet_lite.data.dataset import SynthOccDataset

    data = SynthOccDataset(SYNTHOCC, "test", input_size)
    return Subset(data, range(min(n, len(data))))


# --------------------------------------------------------------------------- checks
def check_environment(opts: Options) -> str:
    """torch, CUDA, GPU name and count, bf16 support."""
    parts = [f"torch {torch.__version__}", f"CUDA build {torch.version.cuda}"]
    if opts.device.type == "cuda":
        props = torch.cuda.get_device_properties(opts.device)
        parts += [
            f"{props.name} ({props.total_memory / 2**30:.0f} GiB, sm_{props.major}{props.minor})",
            f"{torch.cuda.device_count()} GPU(s)",
            f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'NO'}",
            f"cuDNN {torch.backends.cudnn.version()}",
        ]
    else:
        parts.append(f"device {opts.device} ({os.cpu_count()} CPUs)")
    return ", ".join(parts)


def check_cuda_tests(opts: Options) -> str:
    """The test suite's CUDA tests (`pytest -k cuda`) in a subprocess."""
    if opts.quick or opts.device.type != "cuda":
        raise _Skip("needs CUDA and a full run (not --quick)")
    cmd = [sys.executable, "-m", "pytest", "-q", "-k", "cuda", "-p", "no:cacheprovider", "tests"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode != 0:
        raise RuntimeError(last)
    return last


def check_steps(opts: Options, preset_name: str, compiled: bool) -> str:
    """A few bf16 steps of a preset, eager or compiled."""
    if opts.quick and (compiled or preset_name != "tiny"):
        raise _Skip("--quick: tiny preset, eager only (compile and paper take minutes on a CPU)")
    out = opts.work / f"steps_{preset_name}_{'compiled' if compiled else 'eager'}"
    summary = _train(opts, preset_name, out, compile=compiled)
    return f"{summary['steps']} steps, loss {summary['final_losses']['total']:.4g}"


def check_resume(opts: Options) -> str:
    """Train, checkpoint on the device, resume in a new call: the RNG states must restore."""
    out = opts.work / "resume"
    _train(opts, "tiny", out, max_steps=2, batch_size=4, epochs=3, ckpt_every=1)
    from handoccnet_lite.engine import trainer

    cfg = trainer.TrainConfig.load(out / "config.json").replace(max_steps=4)
    summary = trainer.train(cfg, out, resume=True).summary
    if summary["steps"] != 4:
        raise RuntimeError(f"resumed run ended at step {summary['steps']}, expected 4")
    return "2 steps, checkpoint, resumed to step 4"


def check_eval(opts: Options) -> str:
    """evaluate_model on the device with the resumed run's weights (or a fresh tiny model)."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine.evaluate import evaluate_model
    from handoccnet_lite.model import HandOccNet

    cfg = preset("tiny")
    model = HandOccNet(cfg)
    df = evaluate_model(model, _test_items(16, cfg.input_size), 8, opts.device, progress=False)
    return f"{len(df)} test samples, PA-MPJPE {df['pa_mpjpe'].mean():.2f} mm (untrained tiny)"


def check_bf16_parity(opts: Options) -> str:
    """The bundled model in fp32 and under bf16 autocast on the same test images."""
    from handoccnet_lite.config import ModelConfig
    from handoccnet_lite.engine import checkpoint as ckpt
    from handoccnet_lite.model import HandOccNet

    state = ckpt.load_checkpoint(BUNDLED_MODEL)
    cfg = ModelConfig.from_dict(ckpt.model_config_of(state))
    model = HandOccNet(cfg)
    model.load_state_dict(ckpt.float_weights(state["model"]))
    model = model.to(opts.device).eval()
    items = _test_items(4 if opts.quick else 64, cfg.input_size)
    images = torch.stack([items[i]["image"] for i in range(len(items))]).to(opts.device)
    with torch.no_grad():
        ref = model(images)["joints"]  # (B, 21, 3)
        with torch.autocast(opts.device.type, dtype=torch.bfloat16):
            low = model(images)["joints"]
    diff_mm = 1000 * (low.float() - ref).norm(dim=-1)  # (B, 21)
    detail = f"joints bf16 vs fp32: mean {diff_mm.mean():.3f} mm, max {diff_mm.max():.3f} mm"
    if diff_mm.mean() > 2.0:
        raise RuntimeError(detail + " (over 2 mm)")
    return detail


def check_paper_throughput(opts: Options) -> str:
    """Paper-preset bf16 training images/s (median over the steps after 2 of warm-up) and peak
    memory (--quick: the tiny preset, to test the plumbing)."""
    from handoccnet_lite.engine.run_log import read_log

    if opts.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(opts.device)
    name, batch, steps = ("tiny", 2, 3) if opts.quick else ("paper", 32, 12)
    out = opts.work / "throughput"
    _train(opts, name, out, batch_size=batch, max_steps=steps, channels_last=True)
    rate = float(read_log(out)["images_per_s"].iloc[2:].median())
    return (
        f"{name}: {rate:.3g} images/s at batch {batch}, peak memory {_peak_memory_gib(opts.device)}"
    )


def check_loader(opts: Options) -> str:
    """The real SynthOcc loader (augmenting, 256-px crops, workers) alone: images/s."""
    from torch.utils.data import DataLoader

    from handoccnet_lite.data.dataset import SynthOccDataset

    data = SynthOccDataset(SYNTHOCC, "train", 256, augment=True, seed=0)
    workers = 0 if opts.quick else min(8, os.cpu_count() or 1)
    loader = DataLoader(
        data,
        batch_size=32,
        shuffle=True,
        num_workers=workers,
        pin_memory=opts.device.type == "cuda",
        persistent_workers=workers > 0,
    )
    limit = 3 if opts.quick else 20
    seen, start = 0, time.perf_counter()
    for i, batch in enumerate(loader):
        if i == 0:  # the clock starts once the workers have delivered their first batch
            start = time.perf_counter()
            continue
        seen += batch["image"].shape[0]
        if i + 1 >= limit:
            break
    rate = seen / (time.perf_counter() - start)
    return f"{rate:.0f} images/s with {workers} workers (256 px, augmented)"


def check_nccl(opts: Options) -> str:
    """Two processes, one GPU each, all-reduce over NCCL."""
    if opts.device.type != "cuda" or torch.cuda.device_count() < 2:
        raise _Skip("needs two GPUs")
    code = (
        "import os, torch, torch.distributed as dist\n"
        "dist.init_process_group('nccl'); r = dist.get_rank(); torch.cuda.set_device(r)\n"
        "x = torch.full((4,), float(r + 1), device='cuda'); dist.all_reduce(x)\n"
        "assert x.tolist() == [3.0] * 4, x; dist.destroy_process_group()\n"
    )
    script = opts.work / "nccl_check.py"
    script.write_text(code)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    return "all_reduce over 2 GPUs: ok"


class _Skip(Exception):
    """A check that does not apply here."""


# --------------------------------------------------------------------------- harness
def run_check(name: str, fn: Callable[[], str]) -> Check:
    """Run one check; a failure becomes a FAIL row with its reason."""
    start = time.perf_counter()
    try:
        status, detail = "ok", fn()
    except _Skip as why:
        status, detail = "skip", str(why)
    except Exception as err:  # noqa: BLE001 - every failure is reported, the others still run
        status, detail = "FAIL", f"{type(err).__name__}: {err}"
        traceback.print_exc()
    return Check(name, status, detail, round(time.perf_counter() - start, 1))


def all_checks(opts: Options) -> list[tuple[str, Callable[[], str]]]:
    """(name, thunk) for every check, in order."""
    return [
        ("environment", lambda: check_environment(opts)),
        ("cuda tests", lambda: check_cuda_tests(opts)),
        ("bf16 steps tiny", lambda: check_steps(opts, "tiny", False)),
        ("bf16 steps tiny compiled", lambda: check_steps(opts, "tiny", True)),
        ("bf16 steps paper", lambda: check_steps(opts, "paper", False)),
        ("bf16 steps paper compiled", lambda: check_steps(opts, "paper", True)),
        ("resume", lambda: check_resume(opts)),
        ("eval", lambda: check_eval(opts)),
        ("bf16 parity (bundled)", lambda: check_bf16_parity(opts)),
        ("paper images/s", lambda: check_paper_throughput(opts)),
        ("loader images/s", lambda: check_loader(opts)),
        ("nccl 2 processes", lambda: check_nccl(opts)),
    ]


def summary_table(checks: list[Check]) -> str:
    """Markdown table of the checks."""
    lines = ["| check | status | seconds | detail |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {c.status} | {c.seconds} | {c.detail} |" for c in checks]
    return "\n".join(lines)


def default_out(device: torch.device) -> Path:
    """results/gpu_smoke/<date>_<gpu name>/."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    slug = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_").lower()
    return REPO_ROOT / "results" / "gpu_smoke" / f"{time.strftime('%Y-%m-%d')}_{slug}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a dry run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no compile (dry run)")
    parser.add_argument("--out", default="", help="folder for summary.md/.json")
    parser.add_argument("--only", nargs="+", default=None, help="run only these checks (names)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every check, print and save the table; the exit status (see the module doc)."""
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        reason = cuda_unusable_reason() or "no NVIDIA GPU/driver found on this machine"
        print(
            f"gpu_smoke: CUDA is not available ({reason}). This script checks a GPU machine; "
            "for a dry run of its plumbing on the CPU use `--device cpu --quick`.",
            file=sys.stderr,
        )
        return NO_CUDA_EXIT
    device = torch.device(args.device)
    out = Path(args.out) if args.out else default_out(device)
    with tempfile.TemporaryDirectory(prefix="gpu_smoke_") as work:
        opts = Options(device=device, quick=args.quick, work=Path(work))
        chosen = [(n, fn) for n, fn in all_checks(opts) if args.only is None or n in args.only]
        if args.only and len(chosen) != len(args.only):
            known = [n for n, _ in all_checks(opts)]
            print(f"gpu_smoke: --only takes check names among {known}", file=sys.stderr)
            return NO_CUDA_EXIT
        checks = [run_check(name, fn) for name, fn in chosen]
    table = summary_table(checks)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(f"# gpu_smoke ({args.device}, quick={args.quick})\n\n{table}\n")
    rows = [asdict(c) for c in checks]
    (out / "summary.json").write_text(json.dumps({"args": vars(args), "checks": rows}, indent=2))
    print(f"saved {out / 'summary.md'}")
    return 1 if any(c.status == "FAIL" for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
