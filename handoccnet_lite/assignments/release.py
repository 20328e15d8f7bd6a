"""Release: generate the student copies (``release/``) from the instructor sources."""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path

from .course import CONFIG_FILE, COURSE_DIR, generate, list_assignments, load_config


def release(course_dir: Path = COURSE_DIR) -> list[Path]:
    """Regenerate ``release/`` (student copies) from ``source/``; returns the notebooks written."""
    course_dir = Path(course_dir).resolve()
    assignments = list_assignments(course_dir)
    shutil.rmtree(course_dir / "release", ignore_errors=True)  # generated: drop stale copies
    generate(load_config(course_dir), assignments)
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
        return tree_differences(course_dir / "release", scratch / "release")


def tree_differences(committed: Path, fresh: Path) -> list[str]:
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
