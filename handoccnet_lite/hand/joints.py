"""Joint names, skeletons and order conversions for the 21 hand joints.

Two orders are in use:

* **MANO / HO-3D order** (what the hand models compute): the 16 kinematic joints in MANO's
  order (0 wrist, 1-3 index, 4-6 middle, 7-9 pinky, 10-12 ring, 13-15 thumb), then the five
  fingertips thumb, index, middle, ring, pinky (16-20).
* **Canonical order** (the package's order; "simple" / OpenPose / FreiHAND / Dex-YCB order and
  HandOccNet's outputs): wrist, thumb1..4, index1..4, middle1..4, ring1..4, pinky1..4.

Conversions index the joint axis (-2) of (..., 21, C) tensors or arrays.
"""

from __future__ import annotations

from typing import Any

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")

# Canonical order: wrist, then 4 joints per finger from the knuckle to the tip.
JOINT_NAMES: tuple[str, ...] = ("wrist",) + tuple(f"{f}{k}" for f in FINGERS for k in range(1, 5))

# MANO's 16 kinematic joints (smplx / MANO pkl order).
MANO_KINEMATIC_NAMES: tuple[str, ...] = (
    "wrist",
    "index1", "index2", "index3",
    "middle1", "middle2", "middle3",
    "pinky1", "pinky2", "pinky3",
    "ring1", "ring2", "ring3",
    "thumb1", "thumb2", "thumb3",
)  # fmt: skip
# MANO / HO-3D 21-joint order: kinematic joints then tips thumb, index, middle, ring, pinky.
MANO_JOINT_NAMES: tuple[str, ...] = MANO_KINEMATIC_NAMES + tuple(f"{f}4" for f in FINGERS)

# Parent of each MANO kinematic joint (-1 for the root).
MANO_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

# canonical[..., i, :] = mano[..., MANO_TO_CANONICAL[i], :]
MANO_TO_CANONICAL: tuple[int, ...] = tuple(MANO_JOINT_NAMES.index(n) for n in JOINT_NAMES)
# mano[..., i, :] = canonical[..., CANONICAL_TO_MANO[i], :]
CANONICAL_TO_MANO: tuple[int, ...] = tuple(JOINT_NAMES.index(n) for n in MANO_JOINT_NAMES)

# Parent of each canonical joint: the wrist for each finger's first joint, else the previous one.
CANONICAL_PARENTS: tuple[int, ...] = (-1,) + tuple(
    0 if k == 0 else 1 + 4 * f + k - 1 for f in range(5) for k in range(4)
)
# Skeleton edges (parent, child) in canonical indices, 20 bones.
SKELETON: tuple[tuple[int, int], ...] = tuple(
    (p, c) for c, p in enumerate(CANONICAL_PARENTS) if p >= 0
)
MANO_SKELETON: tuple[tuple[int, int], ...] = tuple(
    (CANONICAL_TO_MANO[p], CANONICAL_TO_MANO[c]) for p, c in SKELETON
)
ROOT_INDEX = 0  # the wrist, in both orders

# Fingertip vertex ids on the MANO mesh (thumb, index, middle, ring, pinky), by codebase.
MANO_TIP_VERTEX_IDS: dict[str, tuple[int, ...]] = {
    "smplx": (744, 320, 443, 554, 671),
    "manopth": (745, 317, 444, 556, 673),  # HandOccNet's and I2L-MeshNet's mano.py
    "ho3d": (744, 333, 444, 555, 672),  # HO-3D's ground-truth handJoints3D
}


def _reorder(x: Any, index: tuple[int, ...]) -> Any:
    """Index the joint axis (-2) of a (..., 21, C) tensor or array."""
    if x.shape[-2] != 21:
        raise ValueError(
            f"expected joints of shape (..., 21, C), got {tuple(x.shape)}; pass all 21 joints "
            "(16 kinematic + 5 tips)."
        )
    return x[..., list(index), :]


def mano_to_canonical(x: Any) -> Any:
    """(..., 21, C) MANO/HO-3D order -> (..., 21, C) canonical order."""
    return _reorder(x, MANO_TO_CANONICAL)


def canonical_to_mano(x: Any) -> Any:
    """(..., 21, C) canonical order -> (..., 21, C) MANO/HO-3D order."""
    return _reorder(x, CANONICAL_TO_MANO)


ho3d_to_canonical = mano_to_canonical
canonical_to_ho3d = canonical_to_mano
