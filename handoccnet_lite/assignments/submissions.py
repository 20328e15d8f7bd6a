"""Finding submissions (``<student>/<assignment>/<notebook>.ipynb``) and checking each one
before it is graded, so that one student's broken folder is reported for that student only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .course import AssignmentError, source_notebooks

LAYOUT = (
    "<student>/<assignment>/<notebook>.ipynb (e.g. submitted/alice/a1_fit_attention/"
    "fit_attention.ipynb)"
)


@dataclass(frozen=True)
class Submission:
    """One student's folder for one assignment; `problem` says why it cannot be graded."""

    student_id: str
    assignment: str
    folder: Path
    problem: str = ""


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def find_submissions(submissions_dir: Path) -> list[tuple[str, str, Path]]:
    """(student, assignment, folder) of every ``<student>/<assignment>/`` folder that holds a
    notebook; raises when the tree itself is missing or holds no notebook at all."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise AssignmentError(f"submissions folder {root} does not exist.")
    folders = sorted(
        {nb.parent for nb in root.glob("*/*/*.ipynb") if _visible(nb, root) and nb.is_file()}
    )
    if not folders:
        raise AssignmentError(f"no notebooks in {root}: expected nbgrader's layout {LAYOUT}.")
    return [(f.parent.name, f.name, f) for f in folders]


def submitted_pairs(submissions_dir: Path, known: Sequence[str]) -> list[tuple[str, str]]:
    """(student, assignment) pairs of a submissions tree; raises on unknown assignments."""
    pairs = sorted({(s, a) for s, a, _ in find_submissions(submissions_dir)})
    unknown = sorted({a for _, a in pairs} - set(known))
    if unknown:
        raise AssignmentError(
            f"{submissions_dir} has submissions for unknown assignments {unknown}; the course "
            f"has {list(known)}. Rename the folders to an assignment id."
        )
    return pairs


def submission_problem(
    folder: Path, course_dir: Path, assignment: str, known: Sequence[str]
) -> str:
    """Why the submission in `folder` cannot be graded ('' when it can): an unknown assignment,
    no notebook with the released name, or a notebook that is not valid nbformat JSON."""
    if assignment not in known:
        return (
            f"unknown assignment {assignment!r} (the course has {list(known)}): rename the "
            "folder to an assignment id"
        )
    expected = [nb.name for nb in source_notebooks(course_dir, assignment)]
    present = sorted(p.name for p in folder.glob("*.ipynb"))
    graded = [name for name in expected if name in present]
    if not graded:
        return (
            f"misnamed notebook: found {present}, expected {expected}; rename the file to the "
            "released name and grade again"
        )
    for name in graded:
        problem = notebook_problem(folder / name)
        if problem:
            return problem
    return ""


def notebook_problem(path: Path) -> str:
    """'' when `path` is a readable, schema-valid notebook, else what is wrong with it."""
    import json

    import nbformat
    from nbformat.reader import NotJSONError

    try:
        nb = nbformat.read(path, as_version=4)
    except (NotJSONError, json.JSONDecodeError, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0][:120]
        return f"{path.name} is not valid JSON ({first}); ask the student to save and resubmit it"
    except Exception as err:  # nbformat raises several types for non-notebook JSON
        return f"{path.name} is not a Jupyter notebook ({type(err).__name__}: {err})"
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as err:
        return f"{path.name} is not a valid notebook: {str(err).splitlines()[0]}"
    return ""


def check_submissions(
    submissions_dir: Path, course_dir: Path, known: Sequence[str]
) -> list[Submission]:
    """Every submission under `submissions_dir`, each with its problem ('' if gradable)."""
    return [
        Submission(
            student, assignment, folder, submission_problem(folder, course_dir, assignment, known)
        )
        for student, assignment, folder in find_submissions(submissions_dir)
    ]
