"""nbgrader configuration for the handoccnet-lite course: this folder is the course directory.

Layout (nbgrader's defaults): source/<assignment>/<notebook>.ipynb (instructor versions, with
solutions and hidden tests), release/<assignment>/ (student versions, generated, committed),
submitted/<student>/<assignment>/, autograded/, feedback/ and gradebook.db (git-ignored).
Run `python -m handoccnet_lite.assignments --help` or see README.md.
"""

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.converters import GenerateAssignment, GenerateFeedback
from traitlets import Bool

from handoccnet_lite.assignments.feedback import HideHiddenTests

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "handoccnet-lite"
# The .py twins of the sources (jupytext pairs) hold the solutions: never copy them into a
# student release or an autograded folder. Extra data files an assignment needs must not be .py.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
    "jupytext.toml",
]


class StudentNotebookMetadata(Preprocessor):
    """Keep only the kernelspec in a student copy's notebook metadata: the sources' jupytext
    pairing ("formats": "ipynb,py:percent") must not make students' Jupyter write .py twins."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        nb.metadata = {k: v for k, v in nb.metadata.items() if k == "kernelspec"}
        return nb, resources


c.GenerateAssignment.preprocessors = [
    *GenerateAssignment.class_traits()["preprocessors"].default(),
    StudentNotebookMetadata,
]
# The stub nbgrader writes in place of each solution (its default, stated here for the record).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Autograding runs each notebook in the environment's `python3` kernel; a cell may take this long.
# A cell past it is interrupted; if it swallows the interrupt (a bare `except:` in a loop), the
# notebook fails and `python -m handoccnet_lite.assignments autograde` records a timeout for that
# student only (it also stops any submission after --timeout seconds of wall clock).
c.Execute.timeout = 120
# `nbgrader zip_collect`: files named <student_id>_<notebook>.ipynb (student ids without "_"),
# anywhere in the zips or files put in downloaded/<assignment>/archive/. The pattern is matched
# against the file's absolute path. Adapt it to the names your LMS exports (README.md, step 2).
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+\.ipynb)$"
# Feedback HTML is rendered from the autograded notebooks, which hold the hidden tests again:
# take them out (code, and outputs that quote it) so students never see them.
c.GenerateFeedback.preprocessors = [
    *GenerateFeedback.class_traits()["preprocessors"].default(),
    HideHiddenTests,
]
