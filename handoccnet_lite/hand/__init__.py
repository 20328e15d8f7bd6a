"""Hand models in MANO's parameterisation: SynthHand (embedded default) and MANOHand.

``HandModel(pose (B, 48), shape (B, 10) | None, transl (B, 3) | None) -> HandOutput``
with vertices (B, V, 3) and joints (B, 21, 3) in metres, joints in the canonical order
(wrist, thumb1..4, index1..4, middle1..4, ring1..4, pinky1..4). Both backends pose with
``smplx.lbs.lbs``; pose limits mean the same in both (same rest frame: fingers along -x,
thumb at +z, palm facing -y, zero pose = flat hand).
"""

from __future__ import annotations

import os

from . import joints
from .base import HandModel, HandOutput
from .mano import MANO_ENV, MANO_HELP, MANOHand, find_mano_file, load_mano_arrays
from .sampler import decompose_hand_pose, joint_axes, sample_poses
from .synth import SynthHand

KINDS = ("auto", "synth", "mano")


def load_hand_model(
    kind: str = "auto", mano_dir: str | os.PathLike | None = None, **kwargs
) -> HandModel:
    """ "auto": MANOHand when mano_dir or $HANDOCCNET_MANO_DIR has MANO_RIGHT, else SynthHand.

    "mano" raises a FileNotFoundError explaining where MANO comes from when it is missing.
    Extra keyword arguments go to the chosen class (e.g. flat_hand_mean, tips for MANO).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    if kind == "synth" or (kind == "auto" and find_mano_file(mano_dir) is None):
        return SynthHand(**kwargs)
    return MANOHand(mano_dir, **kwargs)


__all__ = [
    "KINDS", "MANO_ENV", "MANO_HELP", "HandModel", "HandOutput", "MANOHand", "SynthHand",
    "decompose_hand_pose", "find_mano_file", "joint_axes", "joints", "load_hand_model",
    "load_mano_arrays", "sample_poses",
]  # fmt: skip
