"""Validate the course: jupytext pairs, nbgrader metadata, release in sync, sources pass."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from .autograde import autograde
from .course import CONFIG_FILE, COURSE_DIR, nbgrader_cells
from .grades import OK
from .release import release_differences

_TOTAL_RE = re.compile(r"\*\*total\*\*\s*\|\s*\*\*(\d+(?:\.\d+)?)\*\*", re.IGNORECASE)


def pair_differences(notebook: Path) -> list[str]:
    """Where `notebook` (.ipynb) and its jupytext .py twin differ (cell type, source, nbgrader)."""
    import jupytext
    import nbformat

    twin = notebook.with_suffix(".py")
    if not twin.is_file():
        return [f"{notebook.name}: no jupytext twin {twin.name} (run `jupytext --sync`)"]
    a, b = nbformat.read(notebook, as_version=4), jupytext.read(twin)
    key = [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in a.cells]
    if key != [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in b.cells]:
        return [f"{notebook.name} and {twin.name} differ: run `jupytext --sync {twin}`"]
    return []


def metadata_problems(notebook: Path) -> list[str]:
    """nbgrader metadata checks: unique ids, points on locked test cells, markers, total points."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = nbgrader_cells(nb)
    ids = [c.metadata.nbgrader.get("grade_id") for c in cells]
    problems = [f"{notebook.name}: grade_id {i!r} repeats" for i in set(ids) if ids.count(i) > 1]
    for c in cells:
        meta, gid = c.metadata.nbgrader, c.metadata.nbgrader.get("grade_id")
        if meta.get("grade") and not (meta.get("points", 0) > 0 and meta.get("locked")):
            problems.append(f"{notebook.name}: test cell {gid!r} needs points > 0 and locked")
        if meta.get("solution") and "### BEGIN SOLUTION" not in c.source:
            problems.append(f"{notebook.name}: solution cell {gid!r} has no BEGIN SOLUTION")
    total = sum(
        c.metadata.nbgrader.get("points", 0) for c in cells if c.metadata.nbgrader.get("grade")
    )
    stated = _TOTAL_RE.search(nb.cells[0].source) if nb.cells else None
    if stated is None or float(stated.group(1)) != total:
        problems.append(
            f"{notebook.name}: the intro's points table must end with "
            f"'| **total** | **{total:g}** |' (the sum of the test cells' points)"
        )
    return problems


def validate(course_dir: Path = COURSE_DIR, execute: bool = True) -> list[str]:
    """All problems found (empty: valid). Static: jupytext pairs, nbgrader metadata, release in
    sync. execute=True also autogrades, in a scratch course, the sources (must score full marks)
    and the unmodified student copies (must score 0)."""
    course_dir = Path(course_dir).resolve()
    notebooks = sorted((course_dir / "source").glob("*/*.ipynb"))
    problems = [p for nb in notebooks for p in pair_differences(nb) + metadata_problems(nb)]
    problems += [
        f"release/{d} (run `python -m handoccnet_lite.assignments release`)"
        for d in release_differences(course_dir)
    ]
    if execute:
        problems += _execution_problems(course_dir)
    return problems


def _execution_problems(course_dir: Path) -> list[str]:
    """Autograde the sources as student 'instructor' and the release as student 'blank'."""
    with tempfile.TemporaryDirectory(prefix="handoccnet-validate-") as tmp:
        scratch = Path(tmp)
        shutil.copy2(course_dir / CONFIG_FILE, scratch / CONFIG_FILE)
        shutil.copytree(course_dir / "source", scratch / "source")
        for student, tree in (("instructor", "source"), ("blank", "release")):
            for nb in (course_dir / tree).glob("*/*.ipynb"):
                dest = scratch / "submitted" / student / nb.parent.name / nb.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(nb, dest)
        rows = autograde(scratch / "submitted", scratch)
    problems = [
        f"{r.student_id} {r.assignment}: not graded ({r.status}): {r.error}"
        for r in rows
        if r.status != OK
    ]
    problems += [
        f"source {r.assignment}/{r.grade_id}: {r.points:g} of {r.max_points:g} points"
        for r in rows
        if r.student_id == "instructor" and r.status == OK and r.points != r.max_points
    ]
    problems += [
        f"release {r.assignment}/{r.grade_id}: scores {r.points:g} unmodified"
        for r in rows
        if r.student_id == "blank" and r.points != 0
    ]
    return problems
