"""What would more training buy? (D7) Power laws fitted to each teaching run's constant-lr
phase (lr 1e-3), and the decay phase's gain read off the runs that have one. SynthOcc test
split, synthetic; numbers in projection.txt.

    optimistic:  err(N) = a * N ** -b            (no floor: a straight line on log-log axes)
    with floor:  err(N) = floor + a * N ** -b    (N: training images seen; 2D error, crop sides)

The 2D target of issue #15 is 0.06. A decay phase (lr 1e-4) has lowered the 2D error by the
`decay gain` printed below (0.015 where a run has none yet); a run reaches the target only if its
constant-lr phase gets to about 0.06 + that gain. The optimistic law gives a lower bound on the
images that needs (with its slope's 90 % interval); the floor law's floor has a bootstrap
interval over the points (few, noisy points: read the intervals, not the digits).

    python results/teach/trials/projection.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.06


def law(n: np.ndarray, floor: float, a: float, b: float) -> np.ndarray:
    return floor + a * (n / 1e4) ** -b


def phases(run: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The curve's rows of the first (lr 1e-3) phase and of the rest."""
    curve = pd.read_csv(run / "curve.csv")
    segments = json.loads((run / "teach_state.json").read_text())["segments"]
    end = segments[1]["offset"] if len(segments) > 1 else curve["step"].max()
    return curve[curve["step"] <= end], curve[curve["step"] > end]


def fit(n: np.ndarray, err: np.ndarray) -> np.ndarray:
    p, _ = curve_fit(law, n, err, p0=(0.08, 0.06, 0.5), bounds=([0, 0, 0.05], [0.2, 1, 3]))
    return p


def loglog(n: np.ndarray, err: np.ndarray, level: float) -> tuple[float, str, float]:
    """The floorless law's exponent b (with its 90 % interval) and the images N where it
    reaches `level`, by least squares on log-log axes."""
    x, y = np.log(n), np.log(err)
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (slope * x + icpt)
    se = np.sqrt(resid @ resid / (len(x) - 2) / ((x - x.mean()) ** 2).sum())
    t = {4: 2.132, 5: 2.015, 6: 1.943, 7: 1.895, 8: 1.860, 9: 1.833, 10: 1.812, 11: 1.796}
    half = t.get(len(x) - 2, 1.78) * se
    need = float(np.exp((np.log(level) - icpt) / slope)) if slope < 0 else float("inf")
    return -slope, f"{-slope - half:.3f}-{-slope + half:.3f}", need


def main() -> None:
    rng = np.random.default_rng(0)
    runs = sorted(ROOT.glob("*/curve.csv")) + sorted(ROOT.glob("branches/*/curve.csv"))
    rows = []
    for curve in runs:
        run = curve.parent
        const, decay = phases(run)
        if len(const) < 5:
            continue
        n, err = const["images_seen"].to_numpy(float), const["rms_2d"].to_numpy(float)
        p = fit(n, err)
        boot = []
        for _ in range(200):
            i = rng.integers(0, len(n), len(n))
            if len(set(i)) >= 4:
                try:
                    boot.append(fit(n[i], err[i])[0])
                except RuntimeError:
                    pass
        gain = float(const["rms_2d"].iloc[-1] - decay["rms_2d"].min()) if len(decay) else np.nan
        b, b_ci, need = loglog(n, err, TARGET + (gain if np.isfinite(gain) else 0.015))
        rows.append({
            "run": str(run.relative_to(ROOT)),
            "points": len(n),
            "images": int(n[-1]),
            "2D last": err[-1],
            "decay gain": gain,
            "b (no floor)": b,
            "b 90%": b_ci,
            "images to target (no floor)": f"{need:.2g}",
            "floor": p[0],
            "floor 90% boot": f"{np.percentile(boot, 5):.3f}-{np.percentile(boot, 95):.3f}",
        })  # fmt: skip
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
