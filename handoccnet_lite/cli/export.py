"""`handoccnet-lite export`: a small float16 copy of trained weights + its config JSON."""

from __future__ import annotations

import argparse
from typing import Any

from handoccnet_lite.cli.common import PROG, subparser


def register(sub: Any) -> None:
    p = subparser(
        sub,
        "export",
        "a small copy of trained weights (float16) + its config JSON",
        "Write the weights of a run as a small file (float16 storage; `load_trained`, `eval` and\n"
        "`demo` cast them back to float32) and, beside it, a .json with the model config, where\n"
        "the weights came from and, for an ablation's stage 1, its test metrics and the constant\n"
        "baselines' PA-MPJPE (what `doctor` quotes). This is how\n"
        "data_samples/checkpoints/lite_synthocc.pt is made (see results/cpu_ablation/README.md).",
        f"  {PROG} export --run runs/cpu_ablation/backbone "
        "--out data_samples/checkpoints/lite_synthocc.pt\n",
    )
    p.add_argument("--run", required=True, help="run folder, model.pt or checkpoint.pt")
    p.add_argument("--out", required=True, help="output .pt file (a .json is written beside it)")
    p.add_argument("--fp32", action="store_true", help="keep float32 storage (twice the size)")
    p.add_argument("--note", default="", help="free text stored in the .json (e.g. the command)")
    p.set_defaults(func=cmd_export)


def cmd_export(a: argparse.Namespace) -> int:
    from handoccnet_lite.engine.checkpoint import export_model

    out = export_model(a.run, a.out, half=not a.fp32, note=a.note)
    size = out.stat().st_size / 2**20
    print(f"wrote {out} ({size:.2f} MiB) and {out.with_suffix('.json')}")
    return 0
