"""Environment check: what this machine has, what the collection will use, and how to fix gaps.

Used by notebook 00 and by `handoccnet-lite doctor`. Every line is a `Check` with a status
("ok", "info", "warn") and, when something is missing, the exact fix.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from handoccnet_lite.utils import DATA_SAMPLES_DIR, REPO_ROOT

MANO_HELP = (
    "MANO is licensed: register at the MANO website (mano.is.tue.mpg.de), download the models, "
    "and put MANO_RIGHT.pkl in a folder named by HANDOCCNET_MANO_DIR. Without it the embedded "
    "SynthHand (same parameterisation) is used."
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok" | "info" | "warn"
    detail: str

    def line(self) -> str:
        mark = {"ok": "[ok]  ", "info": "[info]", "warn": "[warn]"}[self.status]
        return f"{mark} {self.name:<22} {self.detail}"


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def check_packages() -> list[Check]:
    wanted = ["torch", "torchvision", "smplx", "numpy", "opencv-python-headless", "matplotlib"]
    wanted += ["plotly", "ipywidgets", "pandas", "seaborn", "jupyterlab"]
    checks = []
    for dist in wanted:
        v = _version(dist)
        if v is None:
            checks.append(Check(dist, "warn", "missing: run `make venv` (or pip install -e .)"))
        else:
            checks.append(Check(dist, "ok", v))
    return checks


def check_device() -> Check:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return Check("device", "ok", f"CUDA: {name} (notebooks use it with DEVICE='auto')")
    threads = torch.get_num_threads()
    return Check("device", "info", f"CPU only, {threads} threads: quick profiles run in minutes")


def find_mano_file(mano_dir: str | os.PathLike | None = None) -> Path | None:
    """MANO_RIGHT.pkl/.npz in `mano_dir`, $HANDOCCNET_MANO_DIR or its `mano/` subfolder."""
    root = mano_dir or os.environ.get("HANDOCCNET_MANO_DIR")
    if not root:
        return None
    for folder in (Path(root), Path(root) / "mano"):
        for ext in ("pkl", "npz"):
            candidate = folder / f"MANO_RIGHT.{ext}"
            if candidate.is_file():
                return candidate
    return None


def check_mano() -> Check:
    """Found MANO is read with the package's safe loader: 'ok' only when it loads."""
    path = find_mano_file()
    if path is None:
        return Check("MANO", "info", f"not found; using SynthHand. {MANO_HELP}")
    from handoccnet_lite.hand.mano import MANO_HELP as LOADER_HELP
    from handoccnet_lite.hand.mano import load_mano_arrays

    try:
        arrays = load_mano_arrays(path)
    except Exception as err:  # refused pickle, truncated file, wrong keys or shapes
        reason = " ".join(str(err).replace(LOADER_HELP, "").split()).rstrip(". ")
        return Check(
            "MANO",
            "warn",
            f"BROKEN: {reason}. Runs that use MANO will fail: download MANO_RIGHT.pkl again "
            "from mano.is.tue.mpg.de, or unset HANDOCCNET_MANO_DIR to use SynthHand.",
        )
    verts = arrays["v_template"].shape[0]
    return Check("MANO", "ok", f"read {path} ({verts} vertices)")


#: The committed SynthOcc samples: one manifest per split.
SAMPLE_SPLITS = ("train", "test")


def check_data_samples() -> Check:
    root = DATA_SAMPLES_DIR / "synthocc"
    missing = [s for s in SAMPLE_SPLITS if not (root / s / "manifest.json").is_file()]
    if not missing:
        return Check(
            "data_samples", "ok", f"SynthOcc samples at {root} ({', '.join(SAMPLE_SPLITS)})"
        )
    return Check(
        "data_samples",
        "warn",
        f"SynthOcc samples missing ({', '.join(f'{root}/{s}' for s in missing)}): run "
        "`handoccnet-lite data --samples`",
    )


BUNDLED_CHECKPOINT = REPO_ROOT / "data_samples" / "checkpoints" / "lite_synthocc.pt"


def check_checkpoint() -> Check:
    ckpt = BUNDLED_CHECKPOINT
    if ckpt.is_file():
        return Check("checkpoint", "ok", f"bundled lite model at {ckpt}")
    return Check(
        "checkpoint", "warn", "bundled model missing: notebook 07 trains one (quick profile)"
    )


def check_browser() -> Check:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return Check("chromium", "ok", f"{exe} (browser test of the attention explorer)")
    return Check(
        "chromium",
        "info",
        "not installed: only the browser test needs it (apt-get install chromium)",
    )


def run_checks() -> list[Check]:
    checks = [Check("python", "ok", f"{platform.python_version()} on {platform.machine()}")]
    checks += check_packages()
    checks += [check_device(), check_mano(), check_data_samples(), check_checkpoint()]
    checks.append(check_browser())
    return checks


def report() -> str:
    """A printable report, one line per check."""
    return "\n".join(c.line() for c in run_checks())


#: Below this PA-MPJPE gain over the constant the bundled model is called under-trained (the
#: cpu profile's target gain, engine.profiles).
UNDER_TRAINED_GAIN = 0.40


def bundled_model_quality() -> dict[str, float] | None:
    """PA-MPJPE (mm) of the bundled lite checkpoint and of the constant baselines (mean pose;
    mean hand when recorded) on the held-out SynthOcc test split, from the evaluation `export`
    stores in the checkpoint's .json (None when it has none: the committed ablation results may
    belong to another model than the bundled one)."""
    import json

    try:
        ev = json.loads(BUNDLED_CHECKPOINT.with_suffix(".json").read_text())["evaluation"]
        out = {"bundled_pa_mpjpe": float(ev["pa_mpjpe"])}
        out["mean_pose_pa_mpjpe"] = float(ev["mean_pose_pa_mpjpe"])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    if "mean_hand_pa_mpjpe" in ev:
        out["mean_hand_pa_mpjpe"] = float(ev["mean_hand_pa_mpjpe"])
    for key in ("gate_auc", "fit_ratio", "fit_ratio_background"):  # teaching models record them
        if isinstance(ev.get(key), int | float):
            out[key] = float(ev[key])
    return out


def attention_caveat(q: dict[str, float]) -> str:
    """What the recorded attention measures say (empty when none are recorded)."""
    if "gate_auc" not in q or "fit_ratio" not in q:
        return ""
    control = q.get("fit_ratio_background")
    ctrl = f", background queries {control:.2f}" if control is not None else ""
    return (
        f" Its attention, measured on the same split: the spatial gate ranks visible-hand cells "
        f"above the rest with AUC {q['gate_auc']:.2f} (0.5 is chance) and occluded-hand queries of "
        f"FIT put {q['fit_ratio']:.2f}x their token share on the visible hand (best block{ctrl})."
    )


def bundled_model_caveat() -> str:
    """One honest line about how good the bundled checkpoint is, computed from the results:
    compared with the stronger constant on record (the mean hand when recorded)."""
    q = bundled_model_quality()
    if q is None:
        return (
            "No evaluation recorded for the bundled checkpoint: re-export it from an ablation's "
            "stage 1 (`handoccnet-lite export --run RUN/backbone --out ...`) to record one."
        )
    key, name = (
        ("mean_hand_pa_mpjpe", "the mean hand (average articulation)")
        if "mean_hand_pa_mpjpe" in q
        else ("mean_pose_pa_mpjpe", "the mean pose")
    )
    ours, ref = q["bundled_pa_mpjpe"], q[key]
    if ours >= ref:
        return (
            f"Bundled lite checkpoint on the SynthOcc test split (synthetic): PA-MPJPE "
            f"{ours:.2f} mm vs {ref:.2f} mm for {name}, i.e. WORSE than predicting one "
            "constant hand: read its maps as those of an under-trained model."
        ) + attention_caveat(q)
    gain = 1 - ours / ref
    caveat = (
        ": only a little better than one constant hand, so read its maps as those of an "
        "under-trained model."
        if gain < UNDER_TRAINED_GAIN
        else "."
    )
    return (
        f"Bundled lite checkpoint on the SynthOcc test split (synthetic): PA-MPJPE {ours:.2f} mm "
        f"vs {ref:.2f} mm for {name}, {gain:.0%} better{caveat}"
    ) + attention_caveat(q)
