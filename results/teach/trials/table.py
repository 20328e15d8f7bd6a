"""Print the teaching runs' learning curves as Markdown tables (the numbers in
results/teach/README.md come from here). SynthOcc test split, synthetic.

    python results/teach/trials/table.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
COLS = {
    "step": "step",
    "pa_mpjpe": "PA-MPJPE (mm)",
    "rms_2d": "2D RMS",
    "gate_auc": "gate AUC",
    "fit_ratio": "FIT ratio",
    "fit_ratio_background": "(background)",
    "gate_unsat_hand": "gates graded",
}


def table(curve: Path, prefix: str = "") -> str:
    df = pd.read_csv(curve)
    cols = {f"{prefix}{k}" if k != "step" else k: v for k, v in COLS.items()}
    df = df[[c for c in cols if c in df]].rename(columns=cols)
    fmt = {"PA-MPJPE (mm)": "{:.2f}", "2D RMS": "{:.3f}", "gate AUC": "{:.3f}",
           "FIT ratio": "{:.2f}", "(background)": "{:.2f}", "gates graded": "{:.1%}"}  # fmt: skip
    for c, f in fmt.items():
        if c in df:
            df[c] = df[c].map(f.format)
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    return head + "\n".join("| " + " | ".join(map(str, r)) + " |" for r in df.itertuples(False))


def main() -> None:
    runs = sorted(ROOT.glob("*/curve.csv")) + sorted(ROOT.glob("branches/*/*/curve.csv"))
    for curve in runs:
        name = str(curve.parent.relative_to(ROOT))
        print(f"\n### {name}\n\n{table(curve)}")
        if name.endswith("-upright"):
            print(f"\n{name}, upright view of the same test images:\n\n{table(curve, 'upright_')}")


if __name__ == "__main__":
    main()
