"""Course assignments with nbgrader: release student copies, autograde submissions, validate.

The course directory is ``assignments/`` (nbgrader's layout, see ``assignments/README.md``):
``source/<assignment>/<notebook>.ipynb`` are the instructor versions (solutions between
``### BEGIN SOLUTION`` / ``### END SOLUTION``, hidden tests between ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS``), each paired with a jupytext ``.py`` twin; ``release/`` holds the
student versions that nbgrader generates from them (committed, never edited by hand).

Command line (what ``make assignments`` / ``make autograde`` call)::

    python -m handoccnet_lite.assignments release [--check]
    python -m handoccnet_lite.assignments autograde SUBMISSIONS_DIR [--csv PATH]
    python -m handoccnet_lite.assignments validate [--no-execute]

nbgrader runs in this process (its converters, not its CLI); notebooks execute in the Jupyter
kernel named ``python3``, which must be this environment's (``python -m ipykernel install
--sys-prefix --name python3``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import filecmp
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

COURSE_DIR = Path(__file__).resolve().parent.parent / "assignments"
CONFIG_FILE = "nbgrader_config.py"
KERNEL_NAME = "python3"
TOTAL = "total"  # grade_id of the per-(student, assignment) total rows in the grade table
_TOTAL_RE = re.compile(r"\*\*total\*\*\s*\|\s*\*\*(\d+(?:\.\d+)?)\*\*", re.IGNORECASE)


class AssignmentError(RuntimeError):
    """A course-directory, nbgrader or submission problem, with what to do about it."""


@dataclass(frozen=True)
class GradeRow:
    """One line of the grade table: a task's points (grade_id) or a total (grade_id='total')."""

    student_id: str
    assignment: str
    notebook: str
    grade_id: str
    points: float
    max_points: float


# --------------------------------------------------------------------------- course directory
def list_assignments(course_dir: Path = COURSE_DIR) -> list[str]:
    """Assignment ids: the folders of ``source/`` that hold at least one notebook."""
    source = Path(course_dir) / "source"
    if not source.is_dir():
        raise AssignmentError(
            f"{source} does not exist: a course directory needs source/<assignment>/<nb>.ipynb "
            f"and {CONFIG_FILE} (see assignments/README.md)."
        )
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def load_config(course_dir: Path = COURSE_DIR):  # -> traitlets.config.Config
    """Read ``nbgrader_config.py``; any error in it is fatal (nbgrader's CLI only logs it)."""
    from traitlets.config.loader import PyFileConfigLoader

    course_dir = Path(course_dir).resolve()
    if not (course_dir / CONFIG_FILE).is_file():
        raise AssignmentError(
            f"{course_dir / CONFIG_FILE} is missing; copy assignments/{CONFIG_FILE} into the "
            "course directory."
        )
    cfg = PyFileConfigLoader(CONFIG_FILE, path=str(course_dir)).load_config()
    cfg.CourseDirectory.root = str(course_dir)
    return cfg


@contextlib.contextmanager
def nbgrader_environment() -> Iterator[None]:
    """This interpreter's bin/ first on PATH (nbgrader shells out to ``alembic``) and its
    Jupyter data dir first on JUPYTER_PATH (so kernel ``python3`` is this environment's)."""
    saved = {k: os.environ.get(k) for k in ("PATH", "JUPYTER_PATH")}
    bin_dir, data_dir = Path(sys.executable).parent, Path(sys.prefix) / "share" / "jupyter"
    os.environ["PATH"] = os.pathsep.join(filter(None, [str(bin_dir), saved["PATH"]]))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(data_dir), saved["JUPYTER_PATH"]])
    )
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_kernel(name: str = KERNEL_NAME) -> Path:
    """Return the interpreter kernel `name` runs; raise unless it is this environment's."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    fix = f"run `{sys.executable} -m ipykernel install --sys-prefix --name {name}`."
    try:
        argv0 = KernelSpecManager().get_kernel_spec(name).argv[0]
    except NoSuchKernel as err:
        raise AssignmentError(f"no Jupyter kernel named {name!r}; {fix}") from err
    exe = Path(shutil.which(argv0) or argv0).absolute()
    if exe.parent != Path(sys.executable).absolute().parent:
        raise AssignmentError(
            f"kernel {name!r} runs {exe}, not this environment's {sys.executable}: the "
            f"notebooks would be graded with other packages; {fix}"
        )
    return exe


def _run_converter(converter_cls: type, cfg, assignment_id: str, **traits: object) -> None:
    """Run one nbgrader converter for `assignment_id` (a glob) and every student; raise on error."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    coursedir = CourseDirectory(config=cfg)
    coursedir.assignment_id, coursedir.student_id = assignment_id, "*"
    app = converter_cls(coursedir=coursedir, config=cfg)
    for key, value in traits.items():
        setattr(app, key, value)
    with nbgrader_environment(), warnings.catch_warnings():
        # nbgrader 0.9's gradebook triggers SQLAlchemy "not in session" notices; harmless.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        result = capture_log(app)
    if not result["success"]:
        log = result.get("log", "")[-4000:]
        raise AssignmentError(
            f"nbgrader {converter_cls.__name__} failed for {assignment_id!r}:\n"
            f"{result.get('error', '')}\n{log}"
        )


def _generate(cfg, assignments: Sequence[str], release_dir: Path | None = None) -> None:
    """nbgrader generate_assignment (also records the source cells in the gradebook)."""
    from nbgrader.converters import GenerateAssignment

    if release_dir is not None:
        cfg.CourseDirectory.release_directory = str(release_dir)  # absolute: outside the course
    for assignment in assignments:
        _run_converter(GenerateAssignment, cfg, assignment, force=True, create_assignment=True)


# --------------------------------------------------------------------------- release
def release(course_dir: Path = COURSE_DIR) -> list[Path]:
    """Regenerate ``release/`` (student copies) from ``source/``; returns the notebooks written."""
    course_dir = Path(course_dir).resolve()
    assignments = list_assignments(course_dir)
    shutil.rmtree(course_dir / "release", ignore_errors=True)  # generated: drop stale copies
    _generate(load_config(course_dir), assignments)
    return sorted((course_dir / "release").glob("*/*.ipynb"))


def release_differences(course_dir: Path = COURSE_DIR) -> list[str]:
    """Files where the committed ``release/`` differs from a fresh generation (empty: in sync)."""
    course_dir = Path(course_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="handoccnet-release-") as tmp:
        scratch = Path(tmp) / "course"
        scratch.mkdir()
        shutil.copy2(course_dir / CONFIG_FILE, scratch / CONFIG_FILE)
        shutil.copytree(course_dir / "source", scratch / "source")
        release(scratch)
        return _tree_differences(course_dir / "release", scratch / "release")


def _tree_differences(committed: Path, fresh: Path) -> list[str]:
    """Relative paths missing from either tree or with different bytes."""

    def files(root: Path) -> set[str]:
        return (
            {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
            if root.is_dir()
            else set()
        )

    have, want = files(committed), files(fresh)
    diffs = [f"{p}: missing from the committed release" for p in sorted(want - have)]
    diffs += [f"{p}: not produced by the sources (stale)" for p in sorted(have - want)]
    diffs += [
        f"{p}: differs from a fresh generation"
        for p in sorted(have & want)
        if not filecmp.cmp(committed / p, fresh / p, shallow=False)
    ]
    return diffs


# --------------------------------------------------------------------------- autograde
def submitted_pairs(submissions_dir: Path, known: Sequence[str]) -> list[tuple[str, str]]:
    """(student, assignment) pairs of a ``<student>/<assignment>/<notebook>.ipynb`` tree."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise AssignmentError(f"submissions folder {root} does not exist.")
    pairs = sorted(
        (nb.parent.parent.name, nb.parent.name)
        for nb in root.glob("*/*/*.ipynb")
        if not any(part.startswith(".") for part in nb.relative_to(root).parts)
    )
    if not pairs:
        raise AssignmentError(
            f"no notebooks in {root}: expected nbgrader's layout "
            "<student>/<assignment>/<notebook>.ipynb (e.g. submitted/alice/a1_fit_attention/"
            "fit_attention.ipynb)."
        )
    unknown = sorted({a for _, a in pairs} - set(known))
    if unknown:
        raise AssignmentError(
            f"{root} has submissions for unknown assignments {unknown}; the course has "
            f"{list(known)}. Rename the folders to an assignment id."
        )
    return sorted(set(pairs))


def autograde(
    submissions_dir: Path, course_dir: Path = COURSE_DIR, csv_path: Path | None = None
) -> list[GradeRow]:
    """Autograde every submission under `submissions_dir` in one nbgrader run; write the table.

    The gradebook (``<course>/gradebook.db``) is refreshed from ``source/`` first (the student
    copies are generated into a scratch folder, so ``release/`` is not touched). Graded notebooks
    go to ``<course>/autograded/``. Returns the rows written to `csv_path` (default
    ``<course>/grades.csv``): one per task, then one 'total' row per student and assignment.
    """
    course_dir = Path(course_dir).resolve()
    submissions_dir = Path(submissions_dir).resolve()
    pairs = submitted_pairs(submissions_dir, list_assignments(course_dir))
    assignments = sorted({a for _, a in pairs})
    with nbgrader_environment():
        check_kernel()
    cfg = load_config(course_dir)
    with tempfile.TemporaryDirectory(prefix="handoccnet-release-") as tmp:
        _generate(cfg, assignments, release_dir=Path(tmp))
    from nbgrader.converters import Autograde

    cfg.CourseDirectory.submitted_directory = str(submissions_dir)
    pattern = assignments[0] if len(assignments) == 1 else "*"
    _run_converter(Autograde, cfg, pattern, force=True, create_student=True)
    rows = grade_rows(cfg.CourseDirectory.root, pairs)
    write_grade_table(rows, Path(csv_path) if csv_path else course_dir / "grades.csv")
    return rows


def grade_rows(course_root: str, pairs: Sequence[tuple[str, str]]) -> list[GradeRow]:
    """Per-task rows and per-(student, assignment) totals from the course's gradebook."""
    from nbgrader.api import Gradebook

    rows: list[GradeRow] = []
    with Gradebook(f"sqlite:///{Path(course_root) / 'gradebook.db'}") as gb:
        for student, assignment in pairs:
            task_rows = [
                GradeRow(student, assignment, nb.name, g.name, float(g.score), float(g.max_score))
                for nb in gb.find_submission(assignment, student).notebooks
                for g in sorted(nb.grades, key=_source_order(course_root, assignment, nb.name))
            ]
            points = sum(r.points for r in task_rows)
            top = sum(r.max_points for r in task_rows)
            rows += [*task_rows, GradeRow(student, assignment, "", TOTAL, points, top)]
    return rows


def _source_order(course_root: str, assignment: str, notebook: str):
    """Sort key putting grades in the order of their cells in the source notebook."""
    import nbformat

    nb = nbformat.read(Path(course_root) / "source" / assignment / f"{notebook}.ipynb", 4)
    order = [c.metadata.nbgrader.get("grade_id") for c in _nbgrader_cells(nb)]
    return lambda grade: (
        order.index(grade.name) if grade.name in order else len(order),
        grade.name,
    )


def write_grade_table(rows: Sequence[GradeRow], path: Path) -> Path:
    """Write `rows` as CSV (header: the GradeRow fields)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([f.name for f in fields(GradeRow)])
        writer.writerows(astuple(r) for r in rows)
    return path


def read_grade_table(path: Path) -> list[GradeRow]:
    """Read a table written by :func:`write_grade_table`."""
    with Path(path).open(newline="") as fh:
        return [
            GradeRow(
                r["student_id"],
                r["assignment"],
                r["notebook"],
                r["grade_id"],
                float(r["points"]),
                float(r["max_points"]),
            )
            for r in csv.DictReader(fh)
        ]


# --------------------------------------------------------------------------- validate
def _nbgrader_cells(nb) -> list[dict]:
    return [c for c in nb.cells if "nbgrader" in c.metadata]


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
    cells = _nbgrader_cells(nb)
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
        f"source {r.assignment}/{r.grade_id}: {r.points:g} of {r.max_points:g} points"
        for r in rows
        if r.student_id == "instructor" and r.points != r.max_points
    ]
    problems += [
        f"release {r.assignment}/{r.grade_id}: scores {r.points:g} unmodified"
        for r in rows
        if r.student_id == "blank" and r.points != 0
    ]
    return problems


# --------------------------------------------------------------------------- command line
def format_totals(rows: Sequence[GradeRow]) -> str:
    """A short text table: student, assignment, points / max."""
    lines = [f"{'student':<16} {'assignment':<28} points"]
    lines += [
        f"{r.student_id:<16} {r.assignment:<28} {r.points:g} / {r.max_points:g}"
        for r in rows
        if r.grade_id == TOTAL
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m handoccnet_lite.assignments", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--course-dir",
        type=Path,
        default=COURSE_DIR,
        help="nbgrader course directory (default: the repository's assignments/)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="generate release/ (student copies) from source/")
    rel.add_argument(
        "--check",
        action="store_true",
        help="only compare the committed release with a fresh generation",
    )
    auto = sub.add_parser("autograde", help="grade <SUBMISSIONS_DIR>/<student>/<assignment>/")
    auto.add_argument("submissions_dir", type=Path)
    auto.add_argument(
        "--csv",
        type=Path,
        default=None,
        help="grade table to write (default: <course-dir>/grades.csv)",
    )
    val = sub.add_parser("validate", help="pairs, metadata, release in sync, sources pass")
    val.add_argument("--no-execute", action="store_true", help="static checks only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 1 problems found)."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except AssignmentError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "release" and args.check:
        diffs = release_differences(args.course_dir)
        print("\n".join(diffs) or "release/ is in sync with source/")
        return 1 if diffs else 0
    if args.command == "release":
        for path in release(args.course_dir):
            print(f"wrote {path}")
        return 0
    if args.command == "autograde":
        csv_path = args.csv or Path(args.course_dir) / "grades.csv"
        rows = autograde(args.submissions_dir, args.course_dir, csv_path)
        print(format_totals(rows) + f"\ngrade table: {csv_path}")
        return 0
    problems = validate(args.course_dir, execute=not args.no_execute)
    print("\n".join(problems) or "assignments are valid")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
