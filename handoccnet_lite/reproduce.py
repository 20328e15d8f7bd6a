"""`make reproduce`: run every notebook of the collection headless, in order.

Each notebook is executed with papermill (its `parameters` cell gets PROFILE), the executed copy is
kept under runs/reproduce/ (outputs included, never committed), and every figure lands in figures/.
Prints the time of each notebook and the total.

    python -m handoccnet_lite.reproduce [--profile quick|full] [--only 04 05]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from handoccnet_lite.utils import REPO_ROOT

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "runs" / "reproduce"


def notebook_paths(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks (NN_topic.ipynb) in order, optionally filtered by number prefix."""
    paths = sorted(p for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in only)]
    return paths


def run_notebook(path: Path, profile: str, out_dir: Path) -> float:
    """Execute one notebook with papermill; returns the wall time in seconds."""
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(out_dir / path.name),
        parameters={"PROFILE": profile},
        kernel_name="python3",
        cwd=str(path.parent),
        progress_bar=False,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the notebook collection headless, in order, writing figures/.",
    )
    parser.add_argument(
        "--profile",
        default=os.environ.get("HANDOCCNET_PROFILE", "quick"),
        choices=["quick", "full"],
        help="quick: minutes on a laptop CPU (default); full: the complete runs (GPU advised)",
    )
    parser.add_argument("--only", nargs="*", help="notebook number prefixes to run, e.g. 04 05")
    args = parser.parse_args(argv)
    paths = notebook_paths(args.only)
    if not paths:
        print(f"No notebooks found in {NOTEBOOKS_DIR} (expected NN_topic.ipynb files).")
        return 1
    total = 0.0
    for path in paths:
        print(f">> {path.name} ({args.profile})", flush=True)
        seconds = run_notebook(path, args.profile, OUTPUT_DIR)
        total += seconds
        print(f"   done in {seconds:.1f} s", flush=True)
    print(f">> {len(paths)} notebooks in {total:.0f} s; figures in {REPO_ROOT / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
