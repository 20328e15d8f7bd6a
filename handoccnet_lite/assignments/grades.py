"""The grade table (``grades.csv``): rows, merging runs, atomic writing, reading back."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from .course import AssignmentError

TOTAL = "total"  # grade_id of the per-(student, assignment) total rows in the grade table
OK, ERROR, TIMEOUT = "ok", "error", "timeout"  # values of GradeRow.status


@dataclass(frozen=True)
class GradeRow:
    """One line of the grade table: a task's points (grade_id) or a total (grade_id='total').

    status is 'ok' for a graded submission; 'error' or 'timeout' when it could not be graded
    (then the row is a total of 0 points and `error` says why and what to do)."""

    student_id: str
    assignment: str
    notebook: str
    grade_id: str
    points: float
    max_points: float
    status: str = OK
    error: str = ""
    graded_at: str = ""  # ISO 8601 time of the autograde run that wrote the row


HEADER = [f.name for f in fields(GradeRow)]
_REQUIRED = HEADER[:6]  # tables written before status/error/graded_at existed have only these


def key(row: GradeRow) -> tuple[str, str]:
    """The unit a run replaces: (student, assignment)."""
    return row.student_id, row.assignment


def merge_grade_rows(old: Sequence[GradeRow], new: Sequence[GradeRow]) -> list[GradeRow]:
    """`old` with every (student, assignment) that `new` grades replaced by `new`'s rows (the
    newest run wins); sorted by student, then assignment, keeping each pair's row order."""
    replaced = {key(r) for r in new}
    kept = [r for r in old if key(r) not in replaced]
    merged = [*kept, *new]
    order = {k: i for i, k in enumerate(sorted({key(r) for r in merged}))}
    return sorted(merged, key=lambda r: order[key(r)])  # stable: row order within a pair kept


def write_grade_table(rows: Sequence[GradeRow], path: Path) -> Path:
    """Write `rows` as CSV (header: the GradeRow fields), atomically: a reader sees the old
    table or the new one, never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(astuple(r) for r in rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def update_grade_table(rows: Sequence[GradeRow], path: Path) -> list[GradeRow]:
    """Merge `rows` into the table at `path` (created if missing); returns the whole table."""
    old = read_grade_table(path) if Path(path).is_file() else []
    merged = merge_grade_rows(old, rows)
    write_grade_table(merged, path)
    return merged


def read_grade_table(path: Path) -> list[GradeRow]:
    """Read a table written by :func:`write_grade_table` (also the older 6-column tables)."""
    with Path(path).open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise AssignmentError(
                f"{path} is not a grade table: columns {missing} are missing (expected "
                f"{','.join(HEADER)}). Move it away or pass another --csv."
            )
        return [
            GradeRow(
                r["student_id"],
                r["assignment"],
                r["notebook"],
                r["grade_id"],
                float(r["points"]),
                float(r["max_points"]),
                r.get("status") or OK,
                r.get("error") or "",
                r.get("graded_at") or "",
            )
            for r in reader
        ]


def format_totals(rows: Sequence[GradeRow]) -> str:
    """A short text table: student, assignment, points / max, and why a submission failed."""
    lines = [f"{'student':<16} {'assignment':<28} points"]
    for r in rows:
        if r.grade_id != TOTAL:
            continue
        line = f"{r.student_id:<16} {r.assignment:<28} {r.points:g} / {r.max_points:g}"
        lines.append(line if r.status == OK else f"{line}  {r.status.upper()}: {r.error}")
    return "\n".join(lines)
