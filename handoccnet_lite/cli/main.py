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
    attention,
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
    attention.register,
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
    _debug_flag(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in ADDERS:
        add(sub)
    for command in sub.choices.values():  # --debug also after the subcommand
        _debug_flag(command)
    return parser


def _debug_flag(p: argparse.ArgumentParser) -> None:
    """--debug; default SUPPRESS so a subcommand's default does not hide the global flag."""
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error (also HANDOCCNET_DEBUG=1)",
    )


def _user_error_types() -> tuple[type[BaseException], ...]:
    from handoccnet_lite.errors import PLAIN_ERRORS

    return (UserError, *PLAIN_ERRORS)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `handoccnet-lite` and `python -m handoccnet_lite`. The one place where
    failures become messages: user errors one line + exit 2 (`errors.user_error_message`), a
    closed stdout pipe a quiet exit, anything else its traceback."""
    from handoccnet_lite import errors

    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("HANDOCCNET_DEBUG") == "1"
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `handoccnet-lite tables --list | head -1`
        return errors.quiet_broken_pipe()
    except Exception as e:  # user errors -> one line; anything else keeps its traceback
        if debug:
            raise
        if type(e).__name__ == "NonFiniteLossError":
            print(f"{PROG} {args.command}: {e}", file=sys.stderr)
            return EXIT_NONFINITE
        msg = errors.user_error_message(e, _user_error_types())
        if msg is None:
            raise
        print(f"{PROG} {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
