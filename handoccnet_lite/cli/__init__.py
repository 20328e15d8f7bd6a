"""`handoccnet-lite`: the command line (also `python -m handoccnet_lite`).

Subcommands: data, train, eval, ablate, tables, export, demo, doctor, one module each (`eval`
lives in `evaluate`); `common` holds what they share, `main` the entry point. Each subcommand has
a `--help` with examples. torch is imported inside the command functions, so `--help` stays fast.
User errors (bad paths, bad configs, damaged or unsafe files, a full or read-only disk) print
one line naming the fix and exit with status 2, without a traceback (`handoccnet_lite.errors`,
applied once in `main`); --debug (or HANDOCCNET_DEBUG=1) shows the traceback anyway.
"""

from handoccnet_lite.cli.common import load_trained
from handoccnet_lite.cli.main import build_parser, main
from handoccnet_lite.cli.train import build_train_config

__all__ = ["build_parser", "build_train_config", "load_trained", "main"]
