"""Time budgets that tests used to assert, measured here instead (tests never assert wall time).

* ``import handoccnet_lite`` in a fresh interpreter (budget 2 s; it must not import torch, which
  tests/test_setup.py checks);
* one forward + backward of the ``tiny`` preset (batch 2, 64 px, train mode; budget 3 s; best
  of ``--repeats`` after one warm-up call that pays oneDNN's set-up).

Usage: python benchmarks/bench_budgets.py [--repeats 3] [--threads 2] [--strict]
Prints each measurement next to its budget; ``--strict`` exits 1 when one is over budget.
Timings on a shared machine are noisy (the budgets were set for 2 loaded CPU cores).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch

IMPORT_BUDGET_S = 2.0
TINY_STEP_BUDGET_S = 3.0


def import_seconds(repeats: int) -> list[float]:
    """Wall seconds of `import handoccnet_lite` in `repeats` fresh interpreters."""
    code = (
        "import time; t = time.perf_counter(); import handoccnet_lite; "
        "print(time.perf_counter() - t)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(repeats)
    ]
    return [float(r.stdout.strip()) for r in runs]


def tiny_step_seconds(repeats: int) -> list[float]:
    """Wall seconds of forward + backward of the tiny preset, batch 2 at 64 px, after a warm-up."""
    from handoccnet_lite.model.handoccnet import HandOccNet

    torch.manual_seed(0)
    model = HandOccNet.from_config("tiny").train()
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # (B, 3, S, S)
    times = []
    for i in range(repeats + 1):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        model(images)["verts"].sum().backward()
        if i > 0:  # the first call pays oneDNN's one-off set-up
            times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--strict", action="store_true", help="exit 1 when over a budget")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [
        ("import handoccnet_lite", import_seconds(args.repeats), IMPORT_BUDGET_S),
        ("tiny forward+backward (B=2, 64 px)", tiny_step_seconds(args.repeats), TINY_STEP_BUDGET_S),
    ]
    over = False
    print(f"{'measurement':38s} {'best s':>8s} {'median s':>9s} {'budget s':>9s}")
    for name, times, budget in rows:
        best = min(times)
        over |= best > budget
        verdict = "ok" if best <= budget else "OVER BUDGET"
        print(f"{name:38s} {best:8.3f} {statistics.median(times):9.3f} {budget:9.1f}  {verdict}")
    return 1 if over and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
