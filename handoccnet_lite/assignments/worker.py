"""Grade ONE submission with nbgrader's autograder; run by :mod:`.autograde` in a subprocess.

    python -m handoccnet_lite.assignments.worker COURSE_DIR SUBMISSIONS_DIR STUDENT ASSIGNMENT
        [--cell-timeout SECONDS]

Each submission gets its own process so that a notebook that never ends, crashes its kernel or
breaks nbgrader costs that student only: the parent kills this process tree after its wall-clock
limit (a bare ``except:`` in student code cannot catch that) and records the reason. Exit status
0: graded (the scores are in the gradebook); 1: not graded, 3: not graded because a cell ran
past the cell timeout; then the last stderr line starting with ``REASON:`` says why.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .course import AssignmentError, load_config, run_converter

REASON_PREFIX = "REASON: "
CELL_TIMEOUT_EXIT = 3  # exit status when a cell ran past the cell timeout


def is_cell_timeout(log: str) -> bool:
    """Whether nbgrader's log says a cell ran past the cell timeout."""
    return "CellTimeoutError" in log or "Timeout waiting for" in log


def failure_reason(log: str, cell_timeout_s: float | None) -> str:
    """One line saying why nbgrader could not grade a notebook, from its log."""
    if is_cell_timeout(log):
        limit = f" ({cell_timeout_s:g} s)" if cell_timeout_s else ""
        return (
            f"a cell ran past the cell timeout{limit} and could not be interrupted (an endless "
            "loop, possibly inside a bare `except:`); the kernel was stopped"
        )
    if "Kernel died" in log or "DeadKernelError" in log:
        return "the notebook's kernel died (out of memory, or the code exited the interpreter)"
    errors = [ln.strip() for ln in log.splitlines() if "Error" in ln or "ERROR" in ln]
    return errors[-1][:300] if errors else "nbgrader failed without a message (see its log)"


def grade_one(
    course_dir: Path,
    submissions_dir: Path,
    student: str,
    assignment: str,
    cell_timeout_s: float | None = None,
) -> None:
    """nbgrader autograde of (student, assignment); raises AssignmentError with the log."""
    from nbgrader.converters import Autograde

    cfg = load_config(course_dir)
    cfg.CourseDirectory.submitted_directory = str(Path(submissions_dir).resolve())
    if cell_timeout_s is not None:
        cfg.Execute.timeout = int(max(1, round(cell_timeout_s)))
    run_converter(Autograde, cfg, assignment, student, force=True, create_student=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoccnet_lite.assignments.worker")
    parser.add_argument("course_dir", type=Path)
    parser.add_argument("submissions_dir", type=Path)
    parser.add_argument("student")
    parser.add_argument("assignment")
    parser.add_argument("--cell-timeout", type=float, default=None)
    args = parser.parse_args(argv)
    try:
        grade_one(
            args.course_dir, args.submissions_dir, args.student, args.assignment, args.cell_timeout
        )
    except AssignmentError as err:
        print(str(err), file=sys.stderr)
        print(REASON_PREFIX + failure_reason(str(err), args.cell_timeout), file=sys.stderr)
        return CELL_TIMEOUT_EXIT if is_cell_timeout(str(err)) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
