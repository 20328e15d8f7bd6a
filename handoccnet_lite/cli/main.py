"""The entry point of `handoccnet-lite` and `python -m handoccnet_lite`: every subcommand's parser
under one program, and user errors printed as one line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from handoccnet_lite.cli import (
    ablate,
    data,
    demo,
    doctor,
    evaluate,
    export,
    tables,
    teach,
    train,
)
from handoccnet_lite.cli.common import EXIT_NONFINITE, EXIT_USER_ERROR, PROG, Formatter, UserError

#: Each subcommand's `register(sub)`, in the order `--help` lists them.
ADDERS: tuple[Callable[[Any], None], ...] = (
    data.register,
    train.register,
    evaluate.register,
    ablate.register,
    teach.register,
    tables.register,
    demo.register,
    export.register,
    doctor.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="HandOccNet (CVPR 2022) rebuilt for teaching and ablations: data, training,\n"
        "evaluation, ablations, tables and a demo. Every subcommand has its own --help.",
        epilog="examples:\n"
        f"  {PROG} doctor\n  {PROG} train --profile quick --out runs/quick\n"
        f"  {PROG} eval --run runs/quick --baseline\n  {PROG} ablate --profile quick\n",
        formatter_class=Formatter,
    )
    from handoccnet_lite import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in ADDERS:
        add(sub)
    return parser


def _user_error_types() -> tuple[type[BaseException], ...]:
    return (UserError, FileNotFoundError, ValueError, NotADirectoryError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `handoccnet-lite` and `python -m handoccnet_lite`."""
    args = build_parser().parse_args(argv)
    debug = os.environ.get("HANDOCCNET_DEBUG") == "1"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # user errors -> one line; anything else keeps its traceback
        if debug:
            raise
        if type(e).__name__ == "NonFiniteLossError":
            print(f"{PROG} {args.command}: {e}", file=sys.stderr)
            return EXIT_NONFINITE
        if isinstance(e, _user_error_types()):
            msg = " ".join(str(e).split())
            print(f"{PROG} {args.command}: error: {msg}", file=sys.stderr)
            return EXIT_USER_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
