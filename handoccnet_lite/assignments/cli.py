"""Command line: ``python -m handoccnet_lite.assignments release|autograde|feedback|validate``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .autograde import DEFAULT_TIMEOUT_S, autograde
from .course import COURSE_DIR, AssignmentError
from .grades import OK, format_totals
from .release import release, release_differences
from .validate import validate

USAGE = """Course assignments with nbgrader: release student copies, autograde, feedback.

    python -m handoccnet_lite.assignments release [--check]
    python -m handoccnet_lite.assignments autograde SUBMISSIONS_DIR [--csv PATH] [--timeout S]
    python -m handoccnet_lite.assignments feedback [--assignment ID] [--student ID]
    python -m handoccnet_lite.assignments validate [--no-execute]

See assignments/README.md (the instructor guide)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m handoccnet_lite.assignments",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        help="grade table to merge into (default: <course-dir>/grades.csv)",
    )
    auto.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"wall-clock seconds per submission before it is stopped ({DEFAULT_TIMEOUT_S:g})",
    )
    auto.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        help="seconds one cell may run (default: Execute.timeout in nbgrader_config.py)",
    )
    fb = sub.add_parser(
        "feedback", help="feedback/<student>/<assignment>/*.html, hidden tests removed"
    )
    fb.add_argument("--assignment", default="*", help="assignment id (default: all)")
    fb.add_argument("--student", default="*", help="student id (default: all)")
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
        return _autograde(args)
    if args.command == "feedback":
        from .feedback import generate_feedback  # nbconvert: imported only when needed

        for path in generate_feedback(args.course_dir, args.assignment, args.student):
            print(f"wrote {path}")
        return 0
    problems = validate(args.course_dir, execute=not args.no_execute)
    print("\n".join(problems) or "assignments are valid")
    return 1 if problems else 0


def _autograde(args: argparse.Namespace) -> int:
    """Grade, print the totals; exit 1 when a submission could not be graded (its row says why)."""
    csv_path = args.csv or Path(args.course_dir) / "grades.csv"
    rows = autograde(
        args.submissions_dir,
        args.course_dir,
        csv_path,
        timeout_s=args.timeout,
        cell_timeout_s=args.cell_timeout,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(format_totals(rows) + f"\ngrade table: {csv_path}")
    failed = [r for r in rows if r.status != OK]
    if failed:
        print(
            f"{len(failed)} submission(s) not graded; their rows in {csv_path} have status "
            "error/timeout and the reason. Fix them and run autograde again on those folders.",
            file=sys.stderr,
        )
    return 1 if failed else 0
