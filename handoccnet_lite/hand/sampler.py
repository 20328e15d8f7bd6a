"""Random hand poses with anatomical limits, in MANO's (B, 48) axis-angle parameterisation.

Each finger joint's axis-angle vector is composed from three angles about per-joint axes
(``anatomy.joint_axes``): flexion (positive curls towards the palm), abduction (sideways swing)
and twist (about the bone). Limits, in radians, per joint (MCP / PIP / DIP for the fingers,
CMC / MCP / IP for the thumb):

* fingers: MCP flexion -0.35..1.57 (slight hyperextension to 90 deg), small MCP abduction
  (index +-0.30, middle and ring +-0.20, pinky +-0.35), PIP flexion 0..1.75, DIP flexion
  0..1.40, no PIP/DIP abduction, no twist;
* thumb (handled specially): CMC flexion -0.35..1.0, abduction +-0.6 and twist +-0.35 (its
  saddle joint and opposition), MCP flexion -0.2..1.0 with +-0.15 abduction, IP -0.2..1.4.

The axes are those of the default (SynthHand, MANO-like) rest layout; pass ``rest_joints`` of a
particular model to adapt them to its rest bones (e.g. a real MANO model's splayed pinky).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from . import anatomy as A
from .joints import JOINT_NAMES, MANO_KINEMATIC_NAMES

_FINGER_ABD = {"index": 0.30, "middle": 0.20, "ring": 0.20, "pinky": 0.35}
MODES = ("random", "grasp")
ORIENTS = ("random", "zero")


def _build_limits() -> np.ndarray:
    """(15, 3, 2) [flexion, abduction, twist] x [min, max] for MANO joints 1..15."""
    lim = np.zeros((15, 3, 2))
    for f, abd in _FINGER_ABD.items():
        j = A.FIRST_JOINT[f] - 1
        lim[j] = [[-0.35, 1.57], [-abd, abd], [0, 0]]
        lim[j + 1] = [[0.0, 1.75], [0, 0], [0, 0]]
        lim[j + 2] = [[0.0, 1.40], [0, 0], [0, 0]]
    t = A.FIRST_JOINT["thumb"] - 1
    lim[t] = [[-0.35, 1.0], [-0.6, 0.6], [-0.35, 0.35]]
    lim[t + 1] = [[-0.2, 1.0], [-0.15, 0.15], [0, 0]]
    lim[t + 2] = [[-0.2, 1.4], [0, 0], [0, 0]]
    return lim


LIMITS = torch.tensor(_build_limits(), dtype=torch.float32)  # (15, 3, 2)


def bone_directions(rest_joints: Tensor | np.ndarray) -> np.ndarray:
    """(15, 3) unit rest bone of MANO joints 1..15 from (21, 3) canonical-order rest joints."""
    rj = np.asarray(rest_joints, dtype=np.float64).reshape(21, 3)
    idx = [JOINT_NAMES.index(n) for n in MANO_KINEMATIC_NAMES[1:]]
    return A.unit(rj[[i + 1 for i in idx]] - rj[idx])


def joint_axes(rest_joints: Tensor | np.ndarray | None = None) -> Tensor:
    """(15, 3, 3) float32 rows [flexion, abduction, twist] axes per MANO joint 1..15."""
    dirs = None if rest_joints is None else bone_directions(rest_joints)
    return torch.tensor(A.joint_axes(dirs), dtype=torch.float32)


def compose_hand_pose(angles: Tensor, axes: Tensor | None = None) -> Tensor:
    """angles (N, 15, 3) [flex, abd, twist] -> hand pose (N, 45) axis-angle."""
    axes = joint_axes() if axes is None else axes
    return torch.einsum("njk,jkc->njc", angles, axes.to(angles)).reshape(-1, 45)


def decompose_hand_pose(hand_pose: Tensor, axes: Tensor | None = None) -> Tensor:
    """hand pose (N, 45) (or a full (N, 48) pose) -> angles (N, 15, 3) [flex, abd, twist]."""
    axes = joint_axes() if axes is None else axes
    aa = hand_pose[:, -45:].reshape(-1, 15, 3)  # (N, 15, 3)
    return torch.einsum("njc,jkc->njk", aa, axes.to(aa))


def relaxed_hand_pose() -> Tensor:
    """(45,) a gently curled resting hand (used as SynthHand's hands_mean)."""
    ang = torch.zeros(15, 3)
    ang[:12, 0] = torch.tensor([0.20, 0.30, 0.20] * 4)
    ang[12:, 0] = torch.tensor([0.10, 0.15, 0.15])
    ang[12, 1] = 0.15
    return compose_hand_pose(ang[None])[0]


def _rand(gen: torch.Generator | None, *size: int) -> Tensor:
    return torch.rand(*size, generator=gen)


def _randn(gen: torch.Generator | None, *size: int) -> Tensor:
    return torch.randn(*size, generator=gen)


def _from_unit(u: Tensor) -> Tensor:
    """Map unit-interval values (N, 15, 3) into LIMITS: lo + (hi - lo) * u."""
    lo, hi = LIMITS[..., 0], LIMITS[..., 1]
    return lo + (hi - lo) * u.clamp(0, 1)


# Share of each finger's curl taken by its MCP, PIP and DIP (coordinated flexion).
_CURL_PROFILE = torch.tensor([0.8, 1.0, 0.75])


def _curl_to_angles(curl: Tensor, gen: torch.Generator | None, noise: float) -> Tensor:
    """Per-finger curl (N, 5) in [0, 1] (MANO finger order index, middle, pinky, ring, thumb)
    -> unit-interval joint values (N, 15, 3); abduction and twist centred, except the thumb's
    CMC abduction, which follows the thumb's curl (opposition)."""
    n = curl.shape[0]
    u = torch.full((n, 15, 3), 0.5)
    flex = curl[:, :, None] * _CURL_PROFILE + noise * _randn(gen, n, 5, 3)  # (N, 5, 3)
    lo, hi = LIMITS[:, 0, 0].reshape(5, 3), LIMITS[:, 0, 1].reshape(5, 3)
    zero = -lo / (hi - lo)  # unit value of 0 rad (flexion may start below 0)
    u[:, :, 0] = (zero + (1 - zero) * flex).reshape(n, 15)
    u[:, 12, 1] += 0.4 * curl[:, 4]  # thumb opposition: CMC swings towards the index with curl
    u[:, :, 1:] += 0.5 * noise * _randn(gen, n, 15, 2)
    return u


def _random_curl(n: int, gen: torch.Generator | None) -> Tensor:
    """(N, 5) independent per-finger curls, biased towards open hands."""
    return _rand(gen, n, 5) ** 1.5


def _grasp_curl(n: int, gen: torch.Generator | None) -> Tensor:
    """(N, 5) curls of a grasp family: power (50 %), pinch (30 %) or tripod (20 %)."""
    fam = _rand(gen, n, 1)
    power = 0.55 + 0.4 * _rand(gen, n, 5)
    pinch = torch.cat([0.35 + 0.3 * _rand(gen, n, 1), _tuck_or_open(n, gen, 3),
                       0.35 + 0.3 * _rand(gen, n, 1)], 1)  # fmt: skip
    tripod = torch.cat([0.3 + 0.3 * _rand(gen, n, 2), 0.1 + 0.4 * _rand(gen, n, 2),
                        0.3 + 0.3 * _rand(gen, n, 1)], 1)  # fmt: skip
    return torch.where(fam < 0.5, power, torch.where(fam < 0.8, pinch, tripod))


def _tuck_or_open(n: int, gen: torch.Generator | None, k: int) -> Tensor:
    """(N, k) the non-pinching fingers: all tucked (0.7-1) or all open (0-0.3) per hand."""
    tucked = (_rand(gen, n, 1) < 0.5).float()
    return tucked * 0.7 + 0.3 * _rand(gen, n, k)


def random_rotations(n: int, gen: torch.Generator | None = None) -> Tensor:
    """(N, 3) axis-angle of rotations uniform on SO(3) (normalised Gaussian quaternions)."""
    q = _randn(gen, n, 4)
    q = q / q.norm(dim=1, keepdim=True)
    q = q * torch.where(q[:, :1] < 0, -1.0, 1.0)  # w >= 0: angle in [0, pi]
    xyz_norm = q[:, 1:].norm(dim=1, keepdim=True).clamp_min(1e-12)
    angle = 2 * torch.atan2(xyz_norm, q[:, :1])  # (N, 1)
    return q[:, 1:] / xyz_norm * angle


def sample_poses(
    n: int,
    generator: torch.Generator | None = None,
    mode: str = "random",
    global_orient: str = "random",
    rest_joints: Tensor | np.ndarray | None = None,
) -> Tensor:
    """(n, 48) float32 CPU poses: global orientation (3) + 15 finger joints (45), MANO order.

    mode "random": independent per-finger curls plus per-joint noise; "grasp": coordinated
    curls of a power / pinch / tripod family. Every joint angle is clamped to ``LIMITS``.
    global_orient "random" (uniform on SO(3)) or "zero". Deterministic given ``generator``
    (the global torch RNG when None). ``rest_joints`` (21, 3) canonical: adapt the axes.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}.")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    if global_orient not in ORIENTS:
        raise ValueError(f"global_orient must be one of {ORIENTS}, got {global_orient!r}.")
    if mode == "random":
        curl, noise = _random_curl(n, generator), 0.12
    else:
        curl, noise = _grasp_curl(n, generator), 0.05
    angles = _from_unit(_curl_to_angles(curl, generator, noise))  # (n, 15, 3)
    hand = compose_hand_pose(angles, joint_axes(rest_joints))  # (n, 45)
    root = random_rotations(n, generator) if global_orient == "random" else torch.zeros(n, 3)
    return torch.cat([root, hand], 1).float()
