"""Autograde a class: every (student, assignment) graded on its own, failures recorded.

Each submission is checked first (known assignment, released notebook name, valid notebook
JSON), then graded by nbgrader in its own subprocess (:mod:`.worker`) under a wall-clock limit;
the process tree is killed when the limit passes, so an endless loop, even one inside a bare
``except:``, costs that student only. A submission that cannot be graded gets one ``total`` row
with status ``error`` or ``timeout`` and the reason. The run's rows are merged into the grade
table by (student, assignment), the newest run winning, and the table is written atomically.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from .course import (
    COURSE_DIR,
    check_kernel,
    generate,
    list_assignments,
    load_config,
    max_points,
    nbgrader_cells,
    nbgrader_environment,
)
from .grades import ERROR, OK, TIMEOUT, TOTAL, GradeRow, read_grade_table, update_grade_table
from .submissions import Submission, check_submissions
from .worker import CELL_TIMEOUT_EXIT, REASON_PREFIX

DEFAULT_TIMEOUT_S = 900.0  # wall clock per submission; the course's notebooks take ~10 s each


def run_with_timeout(
    command: Sequence[str], timeout_s: float, env: dict[str, str] | None = None
) -> tuple[int | None, str]:
    """Run `command`; kill it and every process it started (kernels run in their own
    sessions) after `timeout_s` seconds. Returns (exit status or None on timeout, stderr)."""
    import psutil

    proc = subprocess.Popen(
        list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        _, err = proc.communicate(timeout=timeout_s)
        return proc.returncode, err
    except subprocess.TimeoutExpired:
        _kill_tree(psutil.Process(proc.pid))
        _, err = proc.communicate()
        return None, err


def _kill_tree(root) -> None:  # root: psutil.Process
    """SIGKILL `root` and all its descendants (found before any is killed)."""
    import psutil

    try:
        family = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def grade_submission(
    course_dir: Path,
    submission: Submission,
    timeout_s: float,
    cell_timeout_s: float | None = None,
) -> tuple[str, str]:
    """Grade one submission in a subprocess; returns (status, error): ('ok', '') when graded."""
    command = [
        sys.executable,
        "-m",
        "handoccnet_lite.assignments.worker",
        str(course_dir),
        str(submission.folder.parent.parent),
        submission.student_id,
        submission.assignment,
    ]
    if cell_timeout_s is not None:
        command += ["--cell-timeout", str(cell_timeout_s)]
    with nbgrader_environment():
        status, stderr = run_with_timeout(command, timeout_s, env=dict(os.environ))
    if status is None:
        _drop_autograded(course_dir, submission)
        return TIMEOUT, (
            f"grading took longer than {timeout_s:g} s and was stopped (an endless loop or a "
            "very slow notebook); fix it or grade again with a longer --timeout"
        )
    if status != 0:
        reasons = [
            ln[len(REASON_PREFIX) :] for ln in stderr.splitlines() if ln.startswith(REASON_PREFIX)
        ]
        tail = stderr.strip().splitlines()[-1:] or [f"exit status {status}"]
        return (TIMEOUT if status == CELL_TIMEOUT_EXIT else ERROR), (reasons or tail)[-1]
    return OK, ""


def _drop_autograded(course_dir: Path, submission: Submission) -> None:
    """Remove a killed run's half-written ``autograded/<student>/<assignment>/`` folder."""
    shutil.rmtree(
        Path(course_dir) / "autograded" / submission.student_id / submission.assignment,
        ignore_errors=True,
    )


def submission_rows(
    course_dir: Path, student: str, assignment: str, graded_at: str
) -> list[GradeRow]:
    """Per-task rows and the total of one graded submission, read from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course_dir) / 'gradebook.db'}") as gb:
        rows = [
            GradeRow(
                student,
                assignment,
                nb.name,
                g.name,
                float(g.score),
                float(g.max_score),
                graded_at=graded_at,
            )
            for nb in gb.find_submission(assignment, student).notebooks
            for g in sorted(nb.grades, key=_source_order(course_dir, assignment, nb.name))
        ]
    points, top = sum(r.points for r in rows), sum(r.max_points for r in rows)
    return [*rows, GradeRow(student, assignment, "", TOTAL, points, top, graded_at=graded_at)]


def _source_order(course_dir: Path, assignment: str, notebook: str):
    """Sort key putting grades in the order of their cells in the source notebook."""
    import nbformat

    nb = nbformat.read(Path(course_dir) / "source" / assignment / f"{notebook}.ipynb", 4)
    order = [c.metadata.nbgrader.get("grade_id") for c in nbgrader_cells(nb)]
    return lambda grade: (
        order.index(grade.name) if grade.name in order else len(order),
        grade.name,
    )


def autograde(
    submissions_dir: Path,
    course_dir: Path = COURSE_DIR,
    csv_path: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    cell_timeout_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[GradeRow]:
    """Autograde every submission under `submissions_dir`, each on its own; merge the rows
    into `csv_path` (default ``<course>/grades.csv``) and return this run's rows.

    The gradebook (``<course>/gradebook.db``) is refreshed from ``source/`` first (the student
    copies are generated into a scratch folder, so ``release/`` is not touched). Graded notebooks
    go to ``<course>/autograded/``. `timeout_s` bounds each submission's wall-clock time,
    `cell_timeout_s` overrides the config's per-cell ``Execute.timeout``.
    """
    course_dir = Path(course_dir).resolve()
    csv_path = Path(csv_path) if csv_path else course_dir / "grades.csv"
    if csv_path.is_file():
        read_grade_table(csv_path)  # refuse a foreign file now, not after an hour of grading
    known = list_assignments(course_dir)
    submissions = check_submissions(Path(submissions_dir).resolve(), course_dir, known)
    with nbgrader_environment():
        check_kernel()
    assignments = sorted({s.assignment for s in submissions if not s.problem})
    if assignments:
        with tempfile.TemporaryDirectory(prefix="handoccnet-release-") as tmp:
            generate(load_config(course_dir), assignments, release_dir=Path(tmp))
    graded_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows: list[GradeRow] = []
    for sub in submissions:
        if progress:
            progress(f"grading {sub.student_id}/{sub.assignment}")
        status, error = (
            (ERROR, sub.problem)
            if sub.problem
            else grade_submission(course_dir, sub, timeout_s, cell_timeout_s)
        )
        rows += (
            submission_rows(course_dir, sub.student_id, sub.assignment, graded_at)
            if status == OK
            else [_failure_row(course_dir, sub, known, status, error, graded_at)]
        )
    update_grade_table(rows, csv_path)
    return rows


def _failure_row(
    course_dir: Path,
    sub: Submission,
    known: Sequence[str],
    status: str,
    error: str,
    graded_at: str,
) -> GradeRow:
    """The one row of a submission that could not be graded: 0 points, status and reason."""
    top = max_points(course_dir, sub.assignment) if sub.assignment in known else 0.0
    return GradeRow(sub.student_id, sub.assignment, "", TOTAL, 0.0, top, status, error, graded_at)
