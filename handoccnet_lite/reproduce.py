"""`make reproduce`: run every notebook of the collection headless, in order.

Each notebook is executed with papermill (its `parameters` cell gets PROFILE), the executed copy is
kept under runs/reproduce/ (outputs included, never committed), and every figure lands in figures/.
Prints the wall and CPU time of each notebook and the total; `--timings FILE` also records them
(one row per notebook, rows of the notebooks run replaced) and `--timings-table FILE` prints that
file as the Markdown table the README shows.

Determinism: the kernels run with one torch/OpenMP thread (``OMP_NUM_THREADS=1`` unless already
set: the order of floating-point sums then does not depend on the machine's cores) and
``SOURCE_DATE_EPOCH`` fixed (no timestamps in SVG/PDF metadata); `notebooks/matplotlibrc` fixes
``svg.hashsalt``. `compare_figures` decides whether a drawn figure still matches the committed one
(decoded pixels with a small tolerance, see `FigureTolerance`).

    python -m handoccnet_lite.reproduce [--profile quick|full] [--only 04 05]
        [--timings results/notebook_timings.csv] [--timings-table results/notebook_timings.csv]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from handoccnet_lite.utils import REPO_ROOT

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
OUTPUT_DIR = REPO_ROOT / "runs" / "reproduce"
FIGURES_DIR = REPO_ROOT / "figures"
TIMINGS_CSV = REPO_ROOT / "results" / "notebook_timings.csv"
#: Environment of the notebook kernels (set only where the caller has not set them).
DETERMINISTIC_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "SOURCE_DATE_EPOCH": "0"}


# --------------------------------------------------------------------------------------------
# running and timing
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotebookTiming:
    """One notebook's run: wall seconds, CPU seconds of the kernel (user + sys) and the load."""

    notebook: str
    profile: str
    wall_s: float
    cpu_s: float  # user + sys of the kernel process and the children it waited for
    load_1min: float  # the machine's 1-minute load average when the notebook started
    cores: int
    threads: str  # OMP_NUM_THREADS the kernel ran with
    date: str  # ISO date of the run


def notebook_paths(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks (NN_topic.ipynb) in order, optionally filtered by number prefix."""
    paths = sorted(p for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in only)]
    return paths


def set_deterministic_env() -> None:
    """Give the kernels started from now on DETERMINISTIC_ENV (values already set are kept)."""
    for key, value in DETERMINISTIC_ENV.items():
        os.environ.setdefault(key, value)


def children_cpu_seconds() -> float:
    """User + system CPU seconds of all terminated, waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_notebook(path: Path, profile: str, out_dir: Path) -> NotebookTiming:
    """Execute one notebook with papermill in its own kernel; returns its timing.

    CPU time is the growth of RUSAGE_CHILDREN over the run: the kernel is a child process that
    papermill stops and reaps at the end, so its user + sys time (and that of the processes it
    reaped, e.g. data-loader workers) is counted, independently of how busy the machine is."""
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    cpu0, start = children_cpu_seconds(), time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(out_dir / path.name),
        parameters={"PROFILE": profile},
        kernel_name="python3",
        cwd=str(path.parent),
        progress_bar=False,
    )
    wall, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu0
    return NotebookTiming(
        notebook=path.stem,
        profile=profile,
        wall_s=round(wall, 1),
        cpu_s=round(cpu, 1),
        load_1min=round(load, 2),
        cores=os.cpu_count() or 0,
        threads=os.environ.get("OMP_NUM_THREADS", "default"),
        date=dt.date.today().isoformat(),
    )


def write_timings(timings: list[NotebookTiming], path: Path) -> Path:
    """Merge `timings` into the CSV at `path`: rows of the same notebook and profile are
    replaced, the others kept; rows sorted by notebook."""
    fields = list(NotebookTiming.__dataclass_fields__)
    rows = {(r["notebook"], r["profile"]): r for r in read_timings(path)} if path.is_file() else {}
    for t in timings:
        rows[(t.notebook, t.profile)] = {k: str(v) for k, v in asdict(t).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows))
    return path


def read_timings(path: Path) -> list[dict[str, str]]:
    """The rows of a timings CSV written by `write_timings`."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = set(NotebookTiming.__dataclass_fields__) - set(rows[0] if rows else {})
    if rows and missing:
        raise ValueError(
            f"{path} is not a timings file of `reproduce --timings`: columns {sorted(missing)} "
            "are missing. Rewrite it with `python -m handoccnet_lite.reproduce --timings FILE`."
        )
    return rows


def timings_table(rows: list[dict[str, str]]) -> str:
    """The README's Markdown table: per notebook CPU seconds (the load-independent number),
    wall seconds and the load it ran under; a total row."""
    lines = [
        "| notebook | CPU s (user + sys) | wall s | load (1 min) when run | date |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['notebook']}` | {float(r['cpu_s']):.0f} | {float(r['wall_s']):.0f} | "
            f"{float(r['load_1min']):.1f} on {r['cores']} cores | {r['date']} |"
        )
    cpu = sum(float(r["cpu_s"]) for r in rows)
    wall = sum(float(r["wall_s"]) for r in rows)
    lines.append(f"| all {len(rows)} | {cpu:.0f} | {wall:.0f} | | |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# figures: does a drawn figure match the committed one?
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FigureTolerance:
    """When two PNGs count as the same figure.

    Decoded to RGBA floats in [0, 1], a pixel *differs* when any channel differs by more than
    `pixel` (0.1 = 25 of 255 levels: anti-aliasing and hinting differences between libpng /
    freetype builds stay below it on most pixels). The figures match when they have the same
    size and at most `fraction` of their pixels differ (0.1 %, about 1000 pixels of a 1000 x 1000
    figure). Calibration: the same notebook run twice here gives identical pixels; the training
    curves of notebook 07 before and after a small numeric change (other thread count, older
    code) differ in 0.55 % of their pixels, and every other stale figure changed size."""

    pixel: float = 0.1
    fraction: float = 0.001


@dataclass(frozen=True)
class FigureDifference:
    """How a drawn figure differs from the committed one (`reason` is empty when they match)."""

    name: str
    max_abs: float  # largest channel difference, in [0, 1]
    fraction: float  # fraction of pixels that differ by more than the tolerance
    reason: str

    @property
    def matches(self) -> bool:
        return not self.reason


def read_png(path: Path) -> np.ndarray:
    """A PNG decoded to float RGBA in [0, 1]: (H, W, 4)."""
    import matplotlib.image as mpimg

    image = np.asarray(mpimg.imread(path), dtype=np.float64)  # (H, W) | (H, W, 3|4)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)  # (H, W, 3)
    if image.shape[-1] == 3:
        image = np.concatenate([image, np.ones(image.shape[:2] + (1,))], axis=-1)  # (H, W, 4)
    return image


def compare_png(
    drawn: Path, committed: Path, tol: FigureTolerance = FigureTolerance()
) -> FigureDifference:
    """Compare two PNG files pixel by pixel with `tol` (see FigureTolerance)."""
    name = Path(committed).name
    if not Path(committed).is_file():
        return FigureDifference(name, 1.0, 1.0, "not committed (a new figure)")
    a, b = read_png(drawn), read_png(committed)  # (H, W, 4) each
    if a.shape != b.shape:
        return FigureDifference(name, 1.0, 1.0, f"size {a.shape[:2]} != committed {b.shape[:2]}")
    diff = np.abs(a - b).max(axis=-1)  # (H, W)
    fraction = float((diff > tol.pixel).mean())
    reason = ""
    if fraction > tol.fraction:
        reason = f"{fraction:.2%} of pixels differ by > {tol.pixel} (allowed {tol.fraction:.2%})"
    return FigureDifference(name, float(diff.max()), fraction, reason)


def compare_figures(
    drawn_dir: Path, committed_dir: Path = FIGURES_DIR, tol: FigureTolerance = FigureTolerance()
) -> list[FigureDifference]:
    """Every PNG in `drawn_dir` against its namesake in `committed_dir`."""
    return [
        compare_png(p, Path(committed_dir) / p.name, tol) for p in sorted(drawn_dir.glob("*.png"))
    ]


def stale_figures_message(diffs: list[FigureDifference]) -> str:
    """An error message naming each figure that does not match, and the fix."""
    bad = [d for d in diffs if not d.matches]
    lines = [f"  {d.name}: {d.reason}" for d in bad]
    return (
        f"{len(bad)} figure(s) drawn by the notebook differ from the committed figures/:\n"
        + "\n".join(lines)
        + "\nThe committed figures are stale: run `make reproduce` and commit figures/."
    )


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
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
    parser.add_argument(
        "--timings",
        type=Path,
        metavar="CSV",
        help="record each notebook's wall and CPU time in CSV (results/notebook_timings.csv)",
    )
    parser.add_argument(
        "--timings-table",
        type=Path,
        metavar="CSV",
        help="print a timings CSV as the README's Markdown table and exit (runs nothing)",
    )
    args = parser.parse_args(argv)
    if args.timings_table:
        print(timings_table(read_timings(args.timings_table)))
        return 0
    paths = notebook_paths(args.only)
    if not paths:
        print(f"No notebooks found in {NOTEBOOKS_DIR} (expected NN_topic.ipynb files).")
        return 1
    set_deterministic_env()
    timings = []
    for path in paths:
        print(f">> {path.name} ({args.profile})", flush=True)
        timings.append(run_notebook(path, args.profile, OUTPUT_DIR))
        t = timings[-1]
        print(f"   done in {t.wall_s:.1f} s wall, {t.cpu_s:.1f} s CPU (load {t.load_1min})")
        if args.timings:
            write_timings([t], args.timings)  # after each notebook: nothing lost if stopped
    wall, cpu = sum(t.wall_s for t in timings), sum(t.cpu_s for t in timings)
    print(
        f">> {len(paths)} notebooks in {wall:.0f} s wall, {cpu:.0f} s CPU; "
        f"figures in {REPO_ROOT / 'figures'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
