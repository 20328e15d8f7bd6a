"""Feedback for students: nbgrader's HTML reports with the hidden tests taken out.

nbgrader's ``generate_feedback`` renders the *autograded* notebook, in which the hidden tests
were restored for grading, so its HTML shows them verbatim (code, and the source lines that a
traceback quotes). :class:`HideHiddenTests` removes them: the course's ``nbgrader_config.py``
adds it to ``GenerateFeedback.preprocessors``, so both ``python -m handoccnet_lite.assignments
feedback`` and a plain ``nbgrader generate_feedback`` use it.
"""

from __future__ import annotations

import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .course import COURSE_DIR, AssignmentError, load_config, run_converter

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# (hidden tests: run by the grader, not shown)"
HIDDEN_OUTPUT = "(not shown: this output would quote the hidden tests)"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MIN_QUOTED_LINE = 8  # shorter hidden lines (")", "else:") are too common to count as a quote


def split_hidden(source: str) -> tuple[str, list[str]]:
    """(source with each hidden-test region replaced by one placeholder line, hidden lines)."""
    kept: list[str] = []
    hidden: list[str] = []
    inside = False
    for line in source.splitlines():
        if BEGIN in line:
            inside = True
            kept.append(line[: line.index(BEGIN)] + PLACEHOLDER)
        elif END in line:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            kept.append(line)
    return "\n".join(kept), hidden


def quotes_hidden(text: str, hidden: list[str], visible: str) -> bool:
    """Whether `text` (an output; ANSI colours ignored) contains a hidden line that is not also
    a line of the visible code."""
    plain = _ANSI_RE.sub("", text)
    shown = {ln.strip() for ln in visible.splitlines()}
    return any(
        len(s) >= MIN_QUOTED_LINE and s not in shown and s in plain
        for s in (ln.strip() for ln in hidden)
    )


def _output_text(output) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    if output.get("output_type") == "error":
        return "\n".join([*output.get("traceback", []), str(output.get("evalue", ""))])
    data = output.get("data", {})
    return "\n".join(str(v) for k, v in data.items() if k.startswith("text/"))


def scrub_output(output, hidden: list[str], visible: str) -> None:
    """Replace the text of `output` when it quotes hidden lines; an error keeps its type and
    message (written by the test's author for the student), not its traceback."""
    if not quotes_hidden(_output_text(output), hidden, visible):
        return
    kind = output.get("output_type")
    if kind == "error":
        output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        if quotes_hidden(str(output.get("evalue", "")), hidden, visible):
            output["evalue"] = HIDDEN_OUTPUT
            output["traceback"] = [f"{output.get('ename', 'Error')}: {HIDDEN_OUTPUT}"]
        output["traceback"].append(HIDDEN_OUTPUT.replace("output", "traceback"))
    elif kind == "stream":
        output["text"] = HIDDEN_OUTPUT + "\n"
    else:
        output["data"] = {"text/plain": HIDDEN_OUTPUT}


class HideHiddenTests(Preprocessor):
    """Remove hidden-test code from every code cell, and any output that quotes it."""

    enabled = Bool(True)  # nbconvert skips preprocessors that are not enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or BEGIN not in cell.source:
            return cell, resources
        visible, hidden = split_hidden(cell.source)
        cell.source = visible
        for output in cell.get("outputs", []):
            scrub_output(output, hidden, visible)
        return cell, resources


def generate_feedback(
    course_dir: Path = COURSE_DIR, assignment: str = "*", student: str = "*"
) -> list[Path]:
    """nbgrader generate_feedback for the autograded submissions (globs), hidden tests removed
    even if the course's config forgot :class:`HideHiddenTests`; returns the HTML files."""
    from nbgrader.converters import GenerateFeedback

    course_dir = Path(course_dir).resolve()
    if not (course_dir / "autograded").is_dir():
        raise AssignmentError(
            f"{course_dir / 'autograded'} does not exist: run autograde before feedback."
        )
    cfg = load_config(course_dir)
    steps = list(cfg.GenerateFeedback.get("preprocessors", []))
    if not steps:
        steps = GenerateFeedback.class_traits()["preprocessors"].default()
    if not any(_is_hide(s) for s in steps):
        cfg.GenerateFeedback.preprocessors = [*steps, HideHiddenTests]
    run_converter(GenerateFeedback, cfg, assignment, student, force=True)
    return sorted((course_dir / "feedback").glob(f"{student}/{assignment}/*.html"))


def _is_hide(step) -> bool:
    """Whether a configured preprocessor (class or dotted name) is HideHiddenTests."""
    return step is HideHiddenTests or str(step).endswith("HideHiddenTests")
