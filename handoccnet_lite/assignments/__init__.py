"""Course assignments with nbgrader: release student copies, autograde a class, feedback.

The course directory is ``assignments/`` (nbgrader's layout, see ``assignments/README.md``, the
instructor guide): ``source/<assignment>/<notebook>.ipynb`` are the instructor versions
(solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, hidden tests between
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``), each paired with a jupytext ``.py``
twin; ``release/`` holds the student versions that nbgrader generates from them.

Modules: :mod:`.course` (course directory, config, kernel, nbgrader runner), :mod:`.release`,
:mod:`.submissions` (finding and checking submissions), :mod:`.autograde` (one subprocess per
submission, :mod:`.worker`), :mod:`.grades` (the merged, atomically written grade table),
:mod:`.feedback` (HTML without hidden tests), :mod:`.guard` (run-time check that students'
functions do not call the package), :mod:`.validate`, :mod:`.cli`.
"""

from __future__ import annotations

from typing import Any

from .autograde import DEFAULT_TIMEOUT_S, autograde, run_with_timeout, submission_rows
from .cli import build_parser, main
from .course import (
    CONFIG_FILE,
    COURSE_DIR,
    KERNEL_NAME,
    AssignmentError,
    check_kernel,
    list_assignments,
    load_config,
    nbgrader_environment,
)
from .grades import (
    ERROR,
    OK,
    TIMEOUT,
    TOTAL,
    GradeRow,
    format_totals,
    merge_grade_rows,
    read_grade_table,
    update_grade_table,
    write_grade_table,
)
from .guard import ReferenceGuard
from .release import release, release_differences
from .release import tree_differences as _tree_differences
from .submissions import check_submissions, submitted_pairs
from .validate import metadata_problems, pair_differences, validate

_FEEDBACK = ("HideHiddenTests", "generate_feedback")  # need nbconvert (3 s to import): lazy


def __getattr__(name: str) -> Any:
    """Load the feedback names on first use (PEP 562): a notebook's setup cell imports
    :mod:`.guard` and should not pay for nbconvert."""
    if name in _FEEDBACK:
        from . import feedback

        return getattr(feedback, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COURSE_DIR",
    "CONFIG_FILE",
    "DEFAULT_TIMEOUT_S",
    "ERROR",
    "KERNEL_NAME",
    "OK",
    "TIMEOUT",
    "TOTAL",
    "AssignmentError",
    "GradeRow",
    "HideHiddenTests",
    "ReferenceGuard",
    "_tree_differences",
    "autograde",
    "build_parser",
    "check_kernel",
    "check_submissions",
    "format_totals",
    "generate_feedback",
    "list_assignments",
    "load_config",
    "main",
    "merge_grade_rows",
    "metadata_problems",
    "nbgrader_environment",
    "pair_differences",
    "read_grade_table",
    "release",
    "release_differences",
    "run_with_timeout",
    "submission_rows",
    "submitted_pairs",
    "update_grade_table",
    "validate",
    "write_grade_table",
]
