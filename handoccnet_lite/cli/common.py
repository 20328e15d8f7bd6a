"""What every subcommand shares: the program name, the one-line user error, the help layout,
the common flags, and loading what they work on (a trained model, a SynthOcc split)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

PROG = "handoccnet-lite"
EXIT_USER_ERROR = 2
EXIT_NONFINITE = 3
PRESETS = ("tiny", "lite", "paper")
PROFILES = ("quick", "cpu", "teach", "gpu", "gpu_gate")  # engine.profiles.PROFILES
BUNDLED = "data_samples/synthocc"


class UserError(Exception):
    """A mistake in the command line or the files it names; printed as one line."""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Defaults shown after options that have one; description and epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text:
            return text
        if action.option_strings or action.nargs in ("?", "*"):
            return text + " (default: %(default)s)"
        return text


def subparser(
    sub: Any, name: str, help_: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """A subcommand's parser in the shared help layout (examples under "examples:")."""
    return sub.add_parser(
        name,
        help=help_,
        description=description,
        epilog="examples:\n" + epilog,
        formatter_class=Formatter,
    )


def add_progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def add_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when available, else CPU), cpu, cuda, cuda:1"
    )


def load_trained(run: str | Path, device: str = "cpu") -> Any:
    """(model in eval mode, ModelConfig) from a run folder, model.pt or checkpoint.pt."""
    from handoccnet_lite.engine import checkpoint as ckpt
    from handoccnet_lite.engine.builders import build_model

    state = ckpt.load_checkpoint(ckpt.find_weights(run), map_location="cpu")
    cfg = ckpt.trained_model_config(state)
    model = build_model(cfg)
    model.load_state_dict(ckpt.float_weights(state["model"]))  # exported files store float16
    return model.eval(), cfg


def synthocc_split(
    root: str, split: str, size: int, augment: bool = False, feature_stride: int | None = None
) -> Any:
    """A SynthOcc split at `size` px, hand masks on the grid of `feature_stride` (the model's;
    None: the release's, config.FEATURE_STRIDE)."""
    from handoccnet_lite.config import FEATURE_STRIDE
    from handoccnet_lite.data.dataset import SynthOccDataset

    if not (Path(root) / split).is_dir():
        raise UserError(
            f"No split '{split}' under {root}; generate data (`{PROG} data --out {root}`) or "
            f"pass --data {BUNDLED}."
        )
    stride = FEATURE_STRIDE if feature_stride is None else feature_stride
    return SynthOccDataset(root, split, size, augment=augment, feature_stride=stride)
