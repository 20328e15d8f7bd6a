"""`handoccnet-lite doctor`: check this machine (packages, device, MANO, data samples)."""

from __future__ import annotations

import argparse
from typing import Any

from handoccnet_lite.cli.common import PROG, subparser


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "doctor",
        "check this machine: packages, device, MANO, data samples",
        "One line per check, with the fix for anything missing.",
        f"  {PROG} doctor\n",
    )
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(a: argparse.Namespace) -> int:
    from handoccnet_lite.doctor import report

    print(report())
    return 0
