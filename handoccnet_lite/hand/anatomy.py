"""Anthropometric constants and joint axes shared by SynthHand and the pose sampler.

Frame (chosen to match MANO's right-hand template, established from MANO_RIGHT's rest joint
positions as quoted in public MANO-based code, e.g. the wrist offset (0.0957, 0.0064, 0.0062) m
that several projects subtract: the wrist sits at about x = +0.096 m, the finger joints run
towards -x, the index knuckle is at +z and the pinky knuckle at -z, the thumb lies at +z and
slightly -y):

* fingers point along **-x** (wrist at +x, knuckles near the origin);
* the thumb is on the **+z** side;
* the palm faces **-y**, the back of the hand +y;
* so flexing a finger (curling it towards the palm) is a **positive rotation about +z** in
  MANO's (and SynthHand's) parent frames, and spreading is a rotation about +y.

Lengths are rounded adult averages (roughly the mean of women and men) of the kind published in
hand anthropometry surveys (e.g. US Army hand anthropometry, Greiner 1991) and phalanx-proportion
studies (e.g. Buryanov & Kotiuk 2010): hand length ~0.185 m (wrist crease to middle tip), palm
breadth at the knuckles ~0.08 m, finger breadth ~0.015-0.02 m. Joint-to-joint distances are bone
lengths between joint centres; the last "segment" of each finger runs from the DIP (thumb: IP)
joint to the fingertip surface, so it includes the finger pad.
"""

from __future__ import annotations

import numpy as np

FOUR_FINGERS: tuple[str, ...] = ("index", "middle", "ring", "pinky")
# MANO kinematic index of each finger's first joint (thumb1 = 13).
FIRST_JOINT: dict[str, int] = {"index": 1, "middle": 4, "pinky": 7, "ring": 10, "thumb": 13}

PALM_NORMAL = np.array([0.0, -1.0, 0.0])  # palm faces -y
DORSAL = -PALM_NORMAL  # back of the hand, +y

WRIST = np.array([0.093, 0.0, -0.004])  # wrist joint centre; knuckle line near x = 0
# Knuckle (MCP) joint centres, metres.
MCP = {
    "index": np.array([0.004, 0.0, 0.022]),
    "middle": np.array([0.000, 0.0, 0.002]),
    "ring": np.array([0.006, -0.001, -0.016]),
    "pinky": np.array([0.016, -0.002, -0.032]),
}
# Rest direction of each finger in the palm plane: angle (rad) from -x towards +z (the fan).
FAN = {"index": 0.08, "middle": 0.0, "ring": -0.09, "pinky": -0.20}
# How much each finger's fan angle follows the "splay" shape direction.
FAN_SPLAY = {"index": 1.0, "middle": 0.0, "ring": -1.0, "pinky": -1.6}
# Joint-centre distances MCP->PIP, PIP->DIP, DIP->fingertip surface (metres).
PHALANGES = {
    "index": (0.039, 0.023, 0.021),
    "middle": (0.044, 0.027, 0.023),
    "ring": (0.041, 0.026, 0.022),
    "pinky": (0.032, 0.019, 0.019),
    "thumb": (0.042, 0.031, 0.028),  # CMC->MCP (metacarpal), MCP->IP, IP->tip
}
# Finger half-breadth (metres) at the knuckle and at the fingertip (linear taper between).
RADII = {
    "index": (0.0098, 0.0075),
    "middle": (0.0100, 0.0077),
    "ring": (0.0094, 0.0072),
    "pinky": (0.0082, 0.0064),
    "thumb": (0.0125, 0.0088),
}
# Thumb: CMC joint offset from the wrist (palmar = -y, radial = +z), and each bone's rest
# direction as (angle from -x towards +z, palmar tilt along -y).
THUMB_CMC_OFFSET = np.array([-0.020, -0.012, 0.022])
THUMB_DIRS = ((0.85, 0.10), (0.65, 0.15), (0.55, 0.15))
# Palm slab: half-width (z) and half-thickness (y) at the wrist and at the knuckles.
PALM_HALF_WIDTH = (0.029, 0.037)
PALM_HALF_THICK = (0.016, 0.0135)


def unit(v: np.ndarray) -> np.ndarray:
    """Normalise the last axis."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def fan_direction(angle: float, palmar_tilt: float = 0.0) -> np.ndarray:
    """Unit vector at `angle` from -x towards +z, tilted by `palmar_tilt` towards -y. (3,)"""
    return unit(np.array([-np.cos(angle), -palmar_tilt, np.sin(angle)]))


def rest_bone_directions() -> np.ndarray:
    """(15, 3) unit direction of the bone each MANO joint 1..15 drives, in the default layout."""
    dirs = np.zeros((15, 3))
    for f in FOUR_FINGERS:
        dirs[FIRST_JOINT[f] - 1 : FIRST_JOINT[f] + 2] = fan_direction(FAN[f])
    for k, (ang, tilt) in enumerate(THUMB_DIRS):
        dirs[FIRST_JOINT["thumb"] - 1 + k] = fan_direction(ang, tilt)
    return dirs


# Direction the thumb curls towards: the palm and the little-finger side.
THUMB_CURL_TARGET = unit(np.array([0.0, -1.0, -0.6]))


def joint_axes(bone_dirs: np.ndarray | None = None) -> np.ndarray:
    """(15, 3, 3) per-joint orthonormal axes [flexion, abduction, twist] as rows.

    Fingers: flexion = bone x palm normal (positive curls towards the palm, ~+z),
    abduction = +y side (positive swings the finger towards the thumb), twist = the bone.
    Thumb: flexion curls it towards the palm's little-finger side; abduction is the
    perpendicular swing (positive moves it towards the index finger); twist = the bone.
    """
    dirs = rest_bone_directions() if bone_dirs is None else unit(np.asarray(bone_dirs, float))
    target = np.tile(PALM_NORMAL, (15, 1))
    target[12:] = THUMB_CURL_TARGET
    flex = unit(np.cross(dirs, target))  # (15, 3)
    abd = unit(np.cross(dirs, flex))  # (15, 3) perpendicular to bone and flexion axis
    # Orient abduction so that a positive angle swings the bone towards +z (the thumb side) for
    # fingers and towards -z (the index finger) for the thumb.
    swing = np.cross(abd, dirs)  # (15, 3) where a positive abduction moves the bone
    towards = np.tile(np.array([0.0, 0.0, 1.0]), (15, 1))
    towards[12:] = np.array([0.0, 0.0, -1.0])
    sign = np.sign(np.sum(swing * towards, axis=-1, keepdims=True))
    return np.stack([flex, abd * sign, dirs], axis=1)
