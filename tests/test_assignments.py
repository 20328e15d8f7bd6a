"""Course assignments (nbgrader): sources, generated student copies, and autograding.

The static tests read the committed course folder ``assignments/``. The acceptance test builds a
scratch course (the committed config and sources), generates the student copies, and autogrades
in ONE CLI run a submitted/ tree of fake students: the instructor sources (full marks), the
unmodified student copies (zero), and deliberately wrong solutions that must lose exactly the
points of the tasks they break. It executes 14 small notebooks, each in its own grading process
(about 2.5 minutes on 2 cores).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

from handoccnet_lite import assignments as A

COURSE = A.COURSE_DIR
SOURCES = sorted((COURSE / "source").glob("*/*.ipynb"))
RELEASES = sorted((COURSE / "release").glob("*/*.ipynb"))
MARKERS = (
    "### BEGIN SOLUTION",
    "### END SOLUTION",
    "### BEGIN HIDDEN TESTS",
    "### END HIDDEN TESTS",
)
BLOCK_RE = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)


def nbgrader_meta(nb) -> list[dict | None]:
    return [c.metadata.get("nbgrader") for c in nb.cells]


# --------------------------------------------------------------------------- sources
def test_course_has_four_assignments_with_points() -> None:
    assert A.list_assignments() == [
        "a1_fit_attention",
        "a2_set",
        "a3_metrics",
        "a4_rotations_softargmax",
    ]
    for path in SOURCES:
        graded = [m for m in nbgrader_meta(nbformat.read(path, 4)) if m and m.get("grade")]
        assert len(graded) >= 3, f"{path.name}: expected at least 3 graded tasks"
        assert all(m["points"] > 0 and m["locked"] for m in graded)


def test_sources_metadata_is_valid_and_intro_states_the_total() -> None:
    problems = [p for path in SOURCES for p in A.metadata_problems(path)]
    assert problems == []


def test_metadata_check_catches_a_wrong_total(tmp_path: Path) -> None:
    nb = nbformat.read(SOURCES[0], 4)
    nb.cells[0].source = nb.cells[0].source.replace("**10**", "**11**")
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    assert any("total" in p for p in A.metadata_problems(bad))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_sources_are_jupytext_pairs_keeping_nbgrader_metadata(path: Path) -> None:
    assert A.pair_differences(path) == []
    nb = nbformat.read(path, 4)
    text = jupytext.writes(nb, fmt="py:percent")  # the round trip, with the pair's filter
    assert text.count("nbgrader={") == sum(m is not None for m in nbgrader_meta(nb))
    back = jupytext.reads(text, fmt="py:percent")
    assert nbgrader_meta(back) == nbgrader_meta(nb)
    assert [c.source for c in back.cells] == [c.source for c in nb.cells]
    # the trap the widened filter avoids: jupytext's usual filter drops nbgrader's metadata
    nb.metadata["jupytext"]["cell_metadata_filter"] = "tags,-all"
    lossy = jupytext.reads(jupytext.writes(nb, fmt="py:percent"), fmt="py:percent")
    assert all(m is None for m in nbgrader_meta(lossy))


def test_twin_code_lines_fit_100_columns() -> None:
    long = [
        f"{py.name}:{i}"
        for py in sorted((COURSE / "source").glob("*/*.py"))
        for i, line in enumerate(py.read_text().splitlines(), 1)
        if len(line) > 100 and not line.startswith("# %%")
    ]
    assert long == []


# --------------------------------------------------------------------------- student copies
def test_release_has_one_student_copy_per_source() -> None:
    assert [p.relative_to(COURSE / "release") for p in RELEASES] == [
        p.relative_to(COURSE / "source") for p in SOURCES
    ]
    assert not list((COURSE / "release").rglob("*.py")), "solutions' .py twins leaked"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.parent.name)
def test_student_copy_has_no_solution_and_no_hidden_tests(source: Path) -> None:
    release = COURSE / "release" / source.relative_to(COURSE / "source")
    nb = nbformat.read(release, 4)
    student_text = "\n".join(c.source for c in nb.cells)
    for marker in MARKERS:
        assert marker not in release.read_text()
    source_text = "\n".join(c.source for c in nbformat.read(source, 4).cells)
    outside = BLOCK_RE.sub("", source_text)  # what nbgrader keeps
    removed = [
        line.strip()
        for _, block in BLOCK_RE.findall(source_text)
        for line in block.splitlines()
        if len(line.strip()) >= 12 and line.strip() not in outside
    ]
    assert len(removed) >= 10, "expected solution and hidden-test lines in the source"
    assert [line for line in removed if line in student_text] == []
    solutions = [c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("solution")]
    assert solutions and all("raise NotImplementedError()" in c.source for c in solutions)
    assert list(nb.metadata) == ["kernelspec"] and nb.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_committed_release_equals_a_fresh_generation() -> None:
    assert A.release_differences() == []


def test_tree_differences_names_stale_and_changed_files(tmp_path: Path) -> None:
    committed, fresh = tmp_path / "c", tmp_path / "f"
    for root, text in ((committed, "old"), (fresh, "new")):
        (root / "a").mkdir(parents=True)
        (root / "a" / "nb.ipynb").write_text(text)
    (committed / "a" / "gone.ipynb").write_text("x")
    diffs = A._tree_differences(committed, fresh)
    assert diffs == [
        "a/gone.ipynb: not produced by the sources (stale)",
        "a/nb.ipynb: differs from a fresh generation",
    ]


# --------------------------------------------------------------------------- bad input
def test_bad_submission_trees_raise_clear_errors(tmp_path: Path) -> None:
    known = A.list_assignments()
    with pytest.raises(A.AssignmentError, match="does not exist"):
        A.submitted_pairs(tmp_path / "missing", known)
    with pytest.raises(A.AssignmentError, match="<student>/<assignment>/<notebook>.ipynb"):
        A.submitted_pairs(tmp_path, known)
    (tmp_path / "alice" / "hw9").mkdir(parents=True)
    (tmp_path / "alice" / "hw9" / "x.ipynb").write_text("{}")
    with pytest.raises(A.AssignmentError, match=r"unknown assignments \['hw9'\]"):
        A.submitted_pairs(tmp_path, known)


def test_missing_course_pieces_and_kernels_raise(tmp_path: Path) -> None:
    with pytest.raises(A.AssignmentError, match="nbgrader_config.py is missing"):
        A.load_config(tmp_path)
    with pytest.raises(A.AssignmentError, match="source/<assignment>"):
        A.list_assignments(tmp_path)
    with A.nbgrader_environment(), pytest.raises(A.AssignmentError, match="ipykernel install"):
        A.check_kernel("no-such-kernel-handoccnet")


def test_kernel_is_this_environments_python3() -> None:
    with A.nbgrader_environment():
        exe = A.check_kernel()
    assert exe.parent == Path(os.sys.executable).absolute().parent


def test_cli_reports_errors_with_exit_status_1(tmp_path: Path, capsys) -> None:
    assert A.main(["autograde", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_grade_table_round_trip(tmp_path: Path) -> None:
    rows = [A.GradeRow("alice", "a2_set", "set_block", "test_eta_psi", 2.0, 2.0)]
    path = A.write_grade_table(rows, tmp_path / "g.csv")
    assert (
        path.read_text().splitlines()[0]
        == "student_id,assignment,notebook,grade_id,points,max_points,status,error,graded_at"
    )
    assert A.read_grade_table(path) == rows


# --------------------------------------------------------------------------- autograding
def solved_copy(assignment: str, old: str = "", new: str = "") -> nbformat.NotebookNode:
    """A student copy whose solution cells hold the instructor's code (markers removed), with
    `old` replaced by `new` once (a deliberate mistake)."""
    source = nbformat.read(next((COURSE / "source" / assignment).glob("*.ipynb")), 4)
    student = nbformat.read(next((COURSE / "release" / assignment).glob("*.ipynb")), 4)
    answers = {
        c.metadata.nbgrader["grade_id"]: re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n", "", c.source)
        for c in source.cells
        if (c.metadata.get("nbgrader") or {}).get("solution")
    }
    hits = 0
    for cell in student.cells:
        gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if gid in answers:
            hits += answers[gid].count(old) if old else 0
            cell.source = answers[gid].replace(old, new) if old else answers[gid]
    assert hits == (1 if old else 0), f"{old!r} must occur once in {assignment}'s solutions"
    return student


WRONG = {  # student: (assignment, mistake, replacement, grade_ids that must score 0)
    "no_sigmoid": (
        "a1_fit_attention",
        "return torch.sigmoid(pooled)",
        "return pooled",
        {"test_sigmoid_gate", "test_scaled_attention", "test_fit_forward"},
    ),
    "sum_pool": (
        "a1_fit_attention",
        "logits.mean(dim=-1, keepdim=True)",
        "logits.sum(dim=-1, keepdim=True)",
        {"test_sigmoid_gate", "test_scaled_attention", "test_fit_forward"},
    ),
    "no_scale": (
        "a3_metrics",
        "scale = (d * sign).sum(-1) / (x**2).sum((-2, -1)) * pred.shape[-2]",
        "scale = torch.ones_like(d[..., 0])",
        {"test_procrustes_align", "test_pa_mpjpe"},
    ),
    "calls_package": (
        "a3_metrics",
        "    dist = (pred_pts.unsqueeze(-2)",
        "    from handoccnet_lite.metrics import f_score as ref\n\n"
        "    return ref(pred_pts, gt_pts, threshold_m)\n    dist = (pred_pts.unsqueeze(-2)",
        {"test_f_score"},
    ),
    "aliases_package": (  # an alias made outside the function: no "handoccnet_lite" inside it
        "a3_metrics",
        'def f_score(pred_pts, gt_pts, threshold_m):\n    """F-score',
        "from handoccnet_lite import metrics as _m\n\n\n"
        "def f_score(pred_pts, gt_pts, threshold_m):\n"
        "    return _m.f_score(pred_pts, gt_pts, threshold_m)\n"
        '    """F-score',
        {"test_f_score"},
    ),
    "rows_not_columns": (
        "a4_rotations_softargmax",
        "torch.stack((b1, b2, b3), dim=-1)",
        "torch.stack((b1, b2, b3), dim=-2)",
        {"test_rot6d_to_matrix"},
    ),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, tuple]]:
    """Autograde every fake student in one run through the CLI; {(student, assignment):
    {grade_id: (points, max_points)}} read back from the CSV grade table."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy2(COURSE / A.CONFIG_FILE, course / A.CONFIG_FILE)
    shutil.copytree(COURSE / "source", course / "source")
    assert A.main(["--course-dir", str(course), "release"]) == 0
    submitted = course / "submitted"

    def submit(student: str, assignment: str, nb: nbformat.NotebookNode, name: str) -> None:
        (submitted / student / assignment).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, submitted / student / assignment / name)

    for src in SOURCES:
        submit("instructor", src.parent.name, nbformat.read(src, 4), src.name)
    for rel in sorted((course / "release").glob("*/*.ipynb")):
        submit("blank", rel.parent.name, nbformat.read(rel, 4), rel.name)
    for student, (assignment, old, new, _) in WRONG.items():
        name = next((COURSE / "source" / assignment).glob("*.ipynb")).name
        submit(student, assignment, solved_copy(assignment, old, new), name)
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # the kernels inherit it: kind to a shared machine
    try:
        csv_path = course / "grades.csv"
        assert (
            A.main(
                ["--course-dir", str(course), "autograde", str(submitted), "--csv", str(csv_path)]
            )
            == 0
        )
    finally:
        os.environ.pop("OMP_NUM_THREADS") if saved is None else os.environ.update(
            OMP_NUM_THREADS=saved
        )
    table: dict[tuple[str, str], dict[str, tuple]] = {}
    for r in A.read_grade_table(csv_path):
        table.setdefault((r.student_id, r.assignment), {})[r.grade_id] = (r.points, r.max_points)
    return table


@pytest.mark.notebooks
def test_instructor_sources_score_full_marks(graded) -> None:
    for src in SOURCES:
        grades = graded[("instructor", src.parent.name)]
        assert all(p == m for p, m in grades.values()), grades
    assert graded[("instructor", "a1_fit_attention")][A.TOTAL] == (10.0, 10.0)


@pytest.mark.notebooks
def test_unmodified_student_copies_score_zero(graded) -> None:
    for src in SOURCES:
        grades = graded[("blank", src.parent.name)]
        assert len(grades) >= 4 and all(p == 0 for p, _ in grades.values()), grades


@pytest.mark.notebooks
@pytest.mark.parametrize("student", sorted(WRONG))
def test_wrong_solution_loses_exactly_its_tasks(graded, student: str) -> None:
    assignment, _, _, lost = WRONG[student]
    grades = graded[(student, assignment)]
    tasks = {gid: pm for gid, pm in grades.items() if gid != A.TOTAL}
    assert {gid for gid, (p, _) in tasks.items() if p == 0} == lost
    assert all(p == m for gid, (p, m) in tasks.items() if gid not in lost)
    full = sum(m for _, m in tasks.values())
    assert grades[A.TOTAL] == (full - sum(tasks[g][1] for g in lost), full)
