"""The nbgrader course directory: where it is, its config, the kernel, and running converters.

nbgrader runs in this process (its converters, not its CLI); notebooks execute in the Jupyter
kernel named ``python3``, which must be this environment's (``python -m ipykernel install
--sys-prefix --name python3``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

COURSE_DIR = Path(__file__).resolve().parents[2] / "assignments"
CONFIG_FILE = "nbgrader_config.py"
KERNEL_NAME = "python3"


class AssignmentError(RuntimeError):
    """A course-directory, nbgrader or submission problem, with what to do about it."""


def list_assignments(course_dir: Path = COURSE_DIR) -> list[str]:
    """Assignment ids: the folders of ``source/`` that hold at least one notebook."""
    source = Path(course_dir) / "source"
    if not source.is_dir():
        raise AssignmentError(
            f"{source} does not exist: a course directory needs source/<assignment>/<nb>.ipynb "
            f"and {CONFIG_FILE} (see assignments/README.md)."
        )
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def source_notebooks(course_dir: Path, assignment: str) -> list[Path]:
    """The instructor notebooks of `assignment` (their names are the names students submit)."""
    return sorted((Path(course_dir) / "source" / assignment).glob("*.ipynb"))


def max_points(course_dir: Path, assignment: str) -> float:
    """The points of `assignment`: the sum of its graded cells' points over its notebooks."""
    import nbformat

    return float(
        sum(
            (c.metadata.get("nbgrader") or {}).get("points", 0)
            for nb in source_notebooks(course_dir, assignment)
            for c in nbformat.read(nb, as_version=4).cells
            if (c.metadata.get("nbgrader") or {}).get("grade")
        )
    )


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


def package_root() -> Path:
    """The folder holding the ``handoccnet_lite`` package (put on PYTHONPATH for children)."""
    return Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def nbgrader_environment() -> Iterator[None]:
    """This interpreter's bin/ first on PATH (nbgrader shells out to ``alembic``), its Jupyter
    data dir first on JUPYTER_PATH (so kernel ``python3`` is this environment's), and this
    checkout first on PYTHONPATH (so kernels and graders import this ``handoccnet_lite``)."""
    keys = ("PATH", "JUPYTER_PATH", "PYTHONPATH")
    saved = {k: os.environ.get(k) for k in keys}
    first = {
        "PATH": Path(sys.executable).parent,
        "JUPYTER_PATH": Path(sys.prefix) / "share" / "jupyter",
        "PYTHONPATH": package_root(),
    }
    for key in keys:
        os.environ[key] = os.pathsep.join(filter(None, [str(first[key]), saved[key]]))
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


def run_converter(
    converter_cls: type, cfg, assignment_id: str, student_id: str = "*", **traits: object
) -> None:
    """Run one nbgrader converter for `assignment_id` and `student_id` (globs); raise on error."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    coursedir = CourseDirectory(config=cfg)
    coursedir.assignment_id, coursedir.student_id = assignment_id, student_id
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
            f"nbgrader {converter_cls.__name__} failed for {assignment_id!r} "
            f"(student {student_id!r}):\n{result.get('error', '')}\n{log}"
        )


def generate(cfg, assignments: Sequence[str], release_dir: Path | None = None) -> None:
    """nbgrader generate_assignment (also records the source cells in the gradebook)."""
    from nbgrader.converters import GenerateAssignment

    if release_dir is not None:
        cfg.CourseDirectory.release_directory = str(release_dir)  # absolute: outside the course
    for assignment in assignments:
        run_converter(GenerateAssignment, cfg, assignment, force=True, create_assignment=True)


def nbgrader_cells(nb) -> list[dict]:
    """The cells of `nb` that carry nbgrader metadata."""
    return [c for c in nb.cells if "nbgrader" in c.metadata]
