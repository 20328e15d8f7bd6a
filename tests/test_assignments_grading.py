"""Autograding a whole class: each submission on its own, merged grade table, feedback without
hidden tests, and the run-time rule that a student's function must not call the package.

The class runs on a tiny one-task course built in tmp_path (no torch in its kernels): one good
student, one who fails the hidden test, and four broken submissions (misnamed notebook, invalid
JSON, an endless loop inside a bare ``except:``, an unknown assignment folder). The guard tests
run in this process on functions compiled as notebook cells would be.
"""

from __future__ import annotations

import csv
import functools
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from handoccnet_lite import assignments as A
from handoccnet_lite.assignments.feedback import HideHiddenTests, split_hidden
from handoccnet_lite.assignments.guard import ReferenceGuard

SECRET = "SECRET_HIDDEN_CHECK"  # a name that only the hidden test uses
SETUP = """\
from handoccnet_lite.assignments.guard import ReferenceGuard

_guard = ReferenceGuard().install()


def check_own_code(fn):
    _guard.check(fn)"""
SOLUTION = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
TEST = f"""\
assert double(2) == 4, "double(2) must be 4"
### BEGIN HIDDEN TESTS
{SECRET} = double(21)
assert {SECRET} == 42, "double(21) must be 42"
### END HIDDEN TESTS
check_own_code(double)"""


def _meta(gid: str, **kw) -> dict:
    base = {"grade": False, "grade_id": gid, "locked": True, "schema_version": 3}
    return {"nbgrader": {**base, "solution": False, "task": False, **kw}}


def tiny_source() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny\n\n| | **total** | **2** |", metadata=_meta("intro")),
        nbformat.v4.new_code_cell(SETUP, metadata=_meta("setup")),
        nbformat.v4.new_code_cell(SOLUTION, metadata=_meta("double", locked=False, solution=True)),
        nbformat.v4.new_code_cell(TEST, metadata=_meta("test_double", grade=True, points=2)),
    ]
    return nb


def student(answer: str) -> nbformat.NotebookNode:
    nb = tiny_source()
    nb.cells[2].source = answer
    return nb


def make_course(root: Path) -> Path:
    course = root / "course"
    (course / "source" / "t1_tiny").mkdir(parents=True)
    shutil.copy2(A.COURSE_DIR / A.CONFIG_FILE, course / A.CONFIG_FILE)
    nbformat.write(tiny_source(), course / "source" / "t1_tiny" / "tiny.ipynb")
    return course


def submit(root: Path, who: str, nb_or_text, name: str = "tiny.ipynb", assignment="t1_tiny"):
    folder = root / who / assignment
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_text, str):
        (folder / name).write_text(nb_or_text)
    else:
        nbformat.write(nb_or_text, folder / name)


# An endless loop whose bare `except:` swallows the interrupt nbgrader sends at the cell timeout.
ENDLESS = """\
def double(x):
    return 2 * x

while True:
    try:
        while True:
            pass
    except:
        pass"""


def totals(rows) -> dict[str, A.GradeRow]:
    return {r.student_id: r for r in rows if r.grade_id == A.TOTAL}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory):
    """One CLI run over the class, merged into a table that already holds student 'zoe'."""
    course = make_course(tmp_path_factory.mktemp("tiny"))
    sub = course / "submitted"
    submit(sub, "alice", student("def double(x):\n    return 2 * x"))
    submit(sub, "bob", student("def double(x):\n    return 2 * x if x < 10 else 0"))
    submit(sub, "carol", student("def double(x):\n    return 2 * x"), name="Tiny (1).ipynb")
    submit(sub, "dave", '{"cells": [ this is not json')
    submit(sub, "erin", student(ENDLESS))
    submit(sub, "fred", student("def double(x):\n    return 2 * x"), assignment="hw9")
    csv_path = course / "grades.csv"
    earlier = A.GradeRow("zoe", "t1_tiny", "", A.TOTAL, 2.0, 2.0, graded_at="2026-01-01")
    A.write_grade_table([earlier], csv_path)
    argv = ["--course-dir", str(course), "autograde", str(sub), "--cell-timeout", "3"]
    status = A.main([*argv, "--timeout", "180"])
    return course, status, A.read_grade_table(csv_path)


def test_one_broken_submission_does_not_stop_the_class(graded_class) -> None:
    _, status, table = graded_class
    got = totals(table)
    assert status == 1  # some submissions failed: the CLI says so
    assert (got["alice"].points, got["alice"].max_points, got["alice"].status) == (2, 2, A.OK)
    assert (got["bob"].points, got["bob"].status) == (0, A.OK)  # graded: hidden test failed
    assert got["carol"].status == A.ERROR and "misnamed" in got["carol"].error
    assert "tiny.ipynb" in got["carol"].error  # says the name to use
    assert got["dave"].status == A.ERROR and "not valid JSON" in got["dave"].error
    assert got["erin"].status == A.TIMEOUT and "cell timeout" in got["erin"].error
    assert got["fred"].status == A.ERROR and "unknown assignment 'hw9'" in got["fred"].error
    assert all(got[s].points == 0 for s in ("carol", "dave", "erin", "fred"))
    assert got["zoe"].points == 2 and got["zoe"].graded_at == "2026-01-01"  # kept from before


def test_late_work_is_merged_newest_wins(graded_class, tmp_path: Path) -> None:
    course = shutil.copytree(graded_class[0], tmp_path / "course")  # leave the shared one as is
    before = graded_class[2]
    csv_path = tmp_path / "grades.csv"
    A.write_grade_table(before, csv_path)
    late = tmp_path / "late"
    submit(late, "bob", student("def double(x):\n    return 2 * x"))  # bob resubmits, fixed
    submit(late, "gina", student("def double(x):\n    return 2 * x"))  # a late student
    rows = A.autograde(late, course, csv_path, cell_timeout_s=30)
    assert {r.student_id for r in rows} == {"bob", "gina"}
    got = totals(A.read_grade_table(csv_path))
    assert set(got) == {"alice", "bob", "carol", "dave", "erin", "fred", "gina", "zoe"}
    assert (got["bob"].points, got["gina"].points, got["alice"].points) == (2, 2, 2)
    bob_rows = [r for r in A.read_grade_table(csv_path) if r.student_id == "bob"]
    assert len(bob_rows) == 2  # one task + the total: the old run's rows were replaced


def test_feedback_html_has_no_hidden_tests(graded_class) -> None:
    course, _, _ = graded_class
    autograded = (course / "autograded" / "bob" / "t1_tiny" / "tiny.ipynb").read_text()
    assert SECRET in autograded  # the grader ran the hidden test, and its traceback quotes it
    assert A.main(["--course-dir", str(course), "feedback"]) == 0
    pages = {p.parts[-3]: p.read_text() for p in (course / "feedback").glob("*/*/*.html")}
    assert set(pages) == {"alice", "bob"}  # only graded submissions get feedback
    for html in pages.values():
        assert SECRET not in html and "BEGIN HIDDEN" not in html
        assert "double(2) must be 4" in html  # the visible test is still there
    assert "double(21) must be 42" in pages["bob"]  # the failure message is kept


def test_plain_nbgrader_feedback_uses_the_course_config(graded_class) -> None:
    """`nbgrader generate_feedback` (the guide's command) also drops the hidden tests."""
    course, _, _ = graded_class
    cfg = A.load_config(course)
    assert HideHiddenTests in cfg.GenerateFeedback.preprocessors


def test_hidden_output_scrubbing_keeps_visible_tracebacks() -> None:
    visible, hidden = split_hidden(TEST)
    assert SECRET not in visible and "check_own_code(double)" in visible
    assert hidden == [f"{SECRET} = double(21)", f'assert {SECRET} == 42, "double(21) must be 42"']
    cell = nbformat.v4.new_code_cell(TEST)
    quoting = {
        "output_type": "error",
        "ename": "AssertionError",
        "evalue": "double(21) ...",
        "traceback": [f"\x1b[0;32m----> 4\x1b[0m {hidden[1]}"],
    }
    own = {
        "output_type": "error",
        "ename": "AssertionError",
        "evalue": "double(2) must be 4",
        "traceback": ["----> 1 assert double(2) == 4, ..."],
    }
    cell.outputs = [nbformat.from_dict(quoting), nbformat.from_dict(own)]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert SECRET not in str(cell)
    assert cell.outputs[0].traceback[0] == "AssertionError: double(21) ..."
    assert cell.outputs[1].traceback == own["traceback"]


def test_run_with_timeout_kills_a_loop_that_catches_everything() -> None:
    """The wall-clock limit ends a process spinning in a bare except, and the 'kernel' it
    started in its own session (as jupyter_client starts kernels)."""
    spin = "while True:\n    try:\n        pass\n    except:\n        pass"
    parent = textwrap.dedent(f"""
        import subprocess, sys
        kid = subprocess.Popen([sys.executable, "-c", {spin!r}], start_new_session=True)
        print(kid.pid, file=sys.stderr, flush=True)
        exec({spin!r})
    """)
    status, err = A.run_with_timeout([sys.executable, "-c", parent], timeout_s=3)
    assert status is None
    kid = int(err.split()[0])
    ps = subprocess.run(["ps", "-o", "stat=", "-p", str(kid)], capture_output=True, text=True)
    assert ps.stdout.strip() in ("", "Z")  # gone (or a zombie awaiting its reaper)


# --------------------------------------------------------------------------- the guard
REFERENCE_ROUTES = {
    "module_alias": "from handoccnet_lite import metrics as _m\n\ndef fn(p, g):\n"
    "    return _m.pa_mpjpe(p, g)",
    "import_as": "import handoccnet_lite.metrics as m\n\ndef fn(p, g):\n"
    "    return m.pa_mpjpe(p, g)",
    "function_alias": "from handoccnet_lite.metrics import pa_mpjpe as f\n\ndef fn(p, g):\n"
    "    return f(p, g)",
    "importlib": "import importlib\n\ndef fn(p, g):\n"
    "    return importlib.import_module('handoccnet_lite.metrics').pa_mpjpe(p, g)",
    "dunder_import": "def fn(p, g):\n"
    "    return __import__('handoccnet_lite.metrics', fromlist=['x']).pa_mpjpe(p, g)",
    "getattr": "import importlib\nimportlib.import_module('handoccnet_lite.metrics')\n"
    "pkg = importlib.import_module(''.join(['handocc', 'net_lite']))\n\ndef fn(p, g):\n"
    "    return getattr(getattr(pkg, 'metrics'), 'pa_mpjpe')(p, g)",
    "via_helper": "from handoccnet_lite import metrics as _m\n\ndef helper(p, g):\n"
    "    return _m.pa_mpjpe(p, g)\n\ndef fn(p, g):\n    return helper(p, g)",
}


def cell_function(source: str, cell_id: int = 1):
    """`fn` defined by `source` compiled as an IPython cell (file name like ipykernel's)."""
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, f"/tmp/ipykernel_0/{cell_id}.py", "exec"), namespace)
    return namespace["fn"]


@pytest.fixture
def guard():
    torch = pytest.importorskip("torch")
    g = ReferenceGuard().install()
    points = torch.randn(2, 21, 3)
    try:
        yield g, points
    finally:
        g.uninstall()


@pytest.mark.parametrize("route", sorted(REFERENCE_ROUTES))
def test_guard_catches_every_route_to_the_reference(guard, route: str) -> None:
    g, points = guard
    fn = cell_function(REFERENCE_ROUTES[route])
    fn(points, points + 0.01)
    problems = g.problems(fn)
    assert any("calls handoccnet_lite (" in p and "metrics.pa_mpjpe" in p for p in problems)
    with pytest.raises(AssertionError, match="write the computation yourself"):
        g.check(fn)


def test_guard_passes_own_code_and_ignores_the_tests_own_reference_calls(guard) -> None:
    from handoccnet_lite import metrics

    g, points = guard
    fn = cell_function("def fn(p, g):\n    return ((p - g) ** 2).sum(-1).sqrt().mean(-1) * 1e3")
    fn(points, points)
    metrics.pa_mpjpe(points, points)  # the hidden test calls the reference: not the student
    assert g.problems(fn) == []
    g.check(fn)


def test_guard_rejects_non_functions_the_reference_itself_and_tampering(guard) -> None:
    from handoccnet_lite import metrics

    g, _ = guard
    assert "must be a function" in g.problems(functools.partial(metrics.pa_mpjpe))[0]
    assert "own function" in g.problems(metrics.pa_mpjpe)[0]
    fn = cell_function("import sys\n\ndef fn(p, g):\n    sys.setprofile(None)\n    return p")
    fn(1, 2)
    assert any("switched off" in p for p in g.problems(fn))


def test_grade_table_reads_old_six_column_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([A.grades.HEADER[:6], ["amy", "a2_set", "", "total", "8", "8"]])
    assert A.read_grade_table(path) == [A.GradeRow("amy", "a2_set", "", "total", 8.0, 8.0)]
    (tmp_path / "foreign.csv").write_text("name,score\nx,1\n")
    with pytest.raises(A.AssignmentError, match="not a grade table"):
        A.read_grade_table(tmp_path / "foreign.csv")
