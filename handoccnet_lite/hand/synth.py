"""SynthHand: a procedural right hand with MANO's kinematic tree, posed by ``smplx.lbs.lbs``.

Built by our own code from the anthropometric constants in ``anatomy.py`` (no MANO data). The
mesh is a union of closed surfaces: a palm slab and five capped finger tubes (each finger tube
starts inside the palm). Every part is watertight with outward winding, so every edge of the
merged mesh is shared by exactly two faces with opposite directions.

Rest frame as in MANO's right-hand template (see ``anatomy``): fingers along -x, thumb at +z,
palm facing -y, origin near the middle knuckle, wrist at about x = +0.093 m.

Shape space: 10 directions, one per anthropometric factor, each a vertex displacement per unit
beta (central difference of the builder at beta = +-1, so linear as in MANO). A beta of 1 is
roughly one population standard deviation of that factor:

===  ================  ==========================================================
  0  scale             whole hand about the origin, +6 % per unit
  1  palm_width        knuckle spread, palm and thumb base width, +7 %
  2  finger_length     phalanges of the four fingers, +5 %
  3  thickness         finger radii and palm thickness, +10 % (bone lengths kept)
  4  palm_length       wrist-to-knuckle distance, +5 %
  5  thumb_length      thumb bones, +6 %
  6  index_ring        index +4 %, ring -4 % (digit ratio)
  7  taper             fingertip radii -10 % (more tapered fingers)
  8  pinky_length      pinky phalanges, +6 %
  9  splay             rest fan of the fingers, +0.05 rad per unit
===  ================  ==========================================================

``posedirs`` are zero (no pose-corrective blend shapes). With ``flat_hand_mean=False`` a relaxed,
slightly curled ``hands_mean`` (from ``sampler.relaxed_hand_pose``) is added to the finger pose,
mirroring MANO's default in smplx; the default (True) keeps the zero pose flat.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from . import anatomy as A
from .base import HandModel
from .joints import MANO_PARENTS
from .skinning import linear_blend_skinning

SHAPE_NAMES: tuple[str, ...] = (
    "scale", "palm_width", "finger_length", "thickness", "palm_length",
    "thumb_length", "index_ring", "taper", "pinky_length", "splay",
)  # fmt: skip
N_AROUND_FINGER = 12  # vertices per finger ring
N_AROUND_PALM = 24  # vertices per palm ring
PALM_STATIONS = (0.0, 0.15, 0.3, 0.5, 0.7, 0.85, 1.0)  # palm rings, wrist (0) -> knuckles (1)
BLEND_HALF_WIDTH = 0.007  # metres over which skinning blends across a joint
TIP_CAP_ANGLES = (np.pi / 6, np.pi / 3)  # latitude rings of the hemispherical fingertip


@dataclass(frozen=True)
class _Factors:
    """Multiplicative / additive anthropometric factors from a beta vector."""

    scale: float
    palm_width: float
    finger_length: float
    thickness: float
    palm_length: float
    thumb_length: float
    index_ring: float
    taper: float
    pinky_length: float
    splay: float

    @staticmethod
    def from_beta(beta: np.ndarray) -> _Factors:
        b = [float(x) for x in beta]
        steps = (0.06, 0.07, 0.05, 0.10, 0.05, 0.06, 0.04, 0.10, 0.06)
        mult = [1.0 + s * x for s, x in zip(steps, b[:9], strict=True)]
        mult[6] = steps[6] * b[6]  # index_ring is a signed ratio
        mult[7] = steps[7] * b[7]  # taper is a signed fraction
        return _Factors(*mult, splay=0.05 * b[9])


@dataclass
class _Part:
    """One closed tube: rings (R, n, 3) plus a pole at each end."""

    rings: np.ndarray  # (R, n, 3)
    start_pole: np.ndarray  # (3,)
    end_pole: np.ndarray  # (3,)
    weights: np.ndarray  # (R*n + 2, 16) skinning weights, pole, rings..., pole
    joint_rings: dict[int, int]  # MANO joint -> ring index whose mean is that joint


# ----------------------------------------------------------------------------- primitives
def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ring(c, u, v, a, b, n: int, expo: float = 2.0) -> np.ndarray:
    """(n, 3) superellipse c + a*cos'(th) u + b*sin'(th) v; needs u x v = tube axis."""
    th = 2.0 * np.pi * np.arange(n) / n
    cs, sn = np.cos(th), np.sin(th)
    cs, sn = np.sign(cs) * np.abs(cs) ** (2 / expo), np.sign(sn) * np.abs(sn) ** (2 / expo)
    return c + a * cs[:, None] * u + b * sn[:, None] * v


def _frame(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ring axes (u dorsal, v lateral) with u x v = t for a unit tube direction t (3,)."""
    u = A.unit(A.DORSAL - np.dot(A.DORSAL, t) * t)
    return u, np.cross(t, u)


def _tube_faces(n_rings: int, n: int) -> np.ndarray:
    """(F, 3) faces of a capped tube with vertices [start pole, rings (R*n), end pole]."""
    j = np.arange(n)
    jn = (j + 1) % n
    ring = lambda r, k: 1 + r * n + k  # noqa: E731
    start = np.stack([np.zeros(n, int), ring(0, jn), ring(0, j)], 1)
    end_pole = 1 + n_rings * n
    end = np.stack([ring(n_rings - 1, j), ring(n_rings - 1, jn), np.full(n, end_pole)], 1)
    sides = []
    for r in range(n_rings - 1):
        a, b, c, d = ring(r, j), ring(r, jn), ring(r + 1, jn), ring(r + 1, j)
        sides += [np.stack([a, b, c], 1), np.stack([a, c, d], 1)]
    return np.concatenate([start, *sides, end])


def _chain_weights(s: np.ndarray, bounds: np.ndarray, owners: list[int]) -> np.ndarray:
    """(R, 16) weights along a chain: owner k holds [bounds[k-1], bounds[k]), smooth blends."""
    t = _smoothstep((s[:, None] - bounds[None]) / (2 * BLEND_HALF_WIDTH) + 0.5)  # (R, K)
    t = np.concatenate([np.ones((len(s), 1)), t, np.zeros((len(s), 1))], 1)  # (R, K+2)
    w = np.zeros((len(s), 16))
    for k, j in enumerate(owners):
        w[:, j] += t[:, k] - t[:, k + 1]
    return w


# ----------------------------------------------------------------------------- digits
def _digit(base: np.ndarray, dirs: np.ndarray, lengths, radii, first_joint: int) -> _Part:
    """A capped tube along 3 bones from `base` (the first joint). dirs (3, 3) unit bones."""
    L = np.asarray(lengths, float)  # (3,)
    r0, rt = radii
    joints = base + np.vstack([np.zeros(3), np.cumsum(L[:, None] * dirs, 0)])  # (4, 3)
    bounds = np.array([0.0, L[0], L[0] + L[1]])
    s_tip_ring = bounds[2] + L[2] - rt
    stations = [
        (-1.4 * r0, 0), (0.0, 0), (L[0] / 3, 0), (2 * L[0] / 3, 0), (L[0], 1),
        (L[0] + L[1] / 2, 1), (L[0] + L[1], 2), ((bounds[2] + s_tip_ring) / 2, 2), (s_tip_ring, 2),
    ]  # fmt: skip
    rings, s_all = [], []
    for s, seg in stations:
        c = joints[seg] + (s - bounds[seg]) * dirs[seg]
        at_joint = seg > 0 and np.isclose(s, bounds[seg])
        t = A.unit(dirs[seg - 1] + dirs[seg]) if at_joint else dirs[seg]
        r = r0 + (rt - r0) * np.clip(s / (bounds[2] + L[2]), 0, 1)
        rings.append(_ring(c, *_frame(t), 0.88 * r, r, N_AROUND_FINGER))
        s_all.append(s)
    c_tip, t_tip = rings[-1].mean(0), dirs[2]
    for phi in TIP_CAP_ANGLES:
        c = c_tip + t_tip * rt * np.sin(phi)
        rings.append(
            _ring(c, *_frame(t_tip), 0.88 * rt * np.cos(phi), rt * np.cos(phi), N_AROUND_FINGER)
        )
        s_all.append(s_tip_ring + rt * np.sin(phi))
    rings = np.stack(rings)  # (R, n, 3)
    s_all = np.array(s_all)
    w_ring = _chain_weights(s_all, bounds, [0, first_joint, first_joint + 1, first_joint + 2])
    w = np.concatenate([w_ring[:1], np.repeat(w_ring, N_AROUND_FINGER, 0), w_ring[-1:]])
    start_pole = rings[0].mean(0) - dirs[0] * 0.5 * r0
    end_pole = c_tip + t_tip * rt  # the fingertip surface point
    joint_rings = {first_joint: 1, first_joint + 1: 4, first_joint + 2: 6}
    return _Part(rings, start_pole, end_pole, w, joint_rings)


def _palm(f: _Factors, mcp: dict[str, np.ndarray], wrist: np.ndarray) -> _Part:
    """Rounded slab from the wrist (ring 0, centred on the wrist joint) to the knuckle line."""
    zc = wrist[2]
    zi, zp = mcp["index"][2], mcp["pinky"][2]
    slope = (mcp["pinky"][0] - mcp["index"][0]) / (zp - zi)
    knuckle_x = lambda z: mcp["index"][0] + (z - zi) * slope  # noqa: E731
    u, v = np.array([0, 1.0, 0]), np.array([0, 0, -1.0])  # u x v = -x, the palm's axis
    rings = []
    for p in PALM_STATIONS:
        hw = np.interp(p, [0, 1], A.PALM_HALF_WIDTH) * f.palm_width
        ht = np.interp(p, [0, 1], A.PALM_HALF_THICK) * f.thickness
        ring = _ring(np.array([0.0, 0.0, zc]), u, v, ht, hw, N_AROUND_PALM, expo=3.0)
        ring[:, 0] = wrist[0] + (knuckle_x(ring[:, 2]) - wrist[0]) * p
        rings.append(ring)
    rings = np.stack(rings)  # (R, n, 3)
    start_pole = np.array([wrist[0] + 0.006, 0.0, zc])
    end_pole = np.array([knuckle_x(zc) - 0.004, 0.0, zc])
    return _Part(rings, start_pole, end_pole, _palm_weights(rings, mcp), {0: 0})


def _palm_weights(rings: np.ndarray, mcp: dict[str, np.ndarray]) -> np.ndarray:
    """(R*n + 2, 16): wrist, blending towards the nearest knuckles near the knuckle line."""
    n_r, n = rings.shape[:2]
    p = np.repeat(np.asarray(PALM_STATIONS), n)  # (R*n,)
    z = rings[:, :, 2].reshape(-1)  # (R*n,)
    order = sorted(A.FOUR_FINGERS, key=lambda k: mcp[k][2])
    zs = [mcp[k][2] for k in order]
    knuckle_share = 0.5 * _smoothstep((p - 0.6) / 0.4)  # (R*n,)
    w = np.zeros((n_r * n, 16))
    w[:, 0] = 1.0 - knuckle_share
    for i, k in enumerate(order):
        hat = np.interp(z, zs, np.eye(len(order))[i])
        w[:, A.FIRST_JOINT[k]] += knuckle_share * hat
    start = np.eye(16)[:1]
    return np.concatenate([start, w, w[-n:].mean(0, keepdims=True)])


# ----------------------------------------------------------------------------- assembly
def _layout(f: _Factors) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Wrist (3,) and knuckle centres under the factors (before overall scale)."""
    wrist = A.WRIST * np.array([f.palm_length, 1.0, 1.0])
    mcp = {k: v.copy() for k, v in A.MCP.items()}
    for k in mcp:
        mcp[k][2] = wrist[2] + (mcp[k][2] - wrist[2]) * f.palm_width
    return wrist, mcp


def _parts(f: _Factors) -> list[_Part]:
    """Palm, four fingers and the thumb for one set of factors."""
    wrist, mcp = _layout(f)
    parts = [_palm(f, mcp, wrist)]
    length_mult = {"index": 1 + f.index_ring, "ring": 1 - f.index_ring,
                   "pinky": f.pinky_length, "middle": 1.0}  # fmt: skip
    for k in A.FOUR_FINGERS:
        d = A.fan_direction(A.FAN[k] + f.splay * A.FAN_SPLAY[k])
        lengths = np.array(A.PHALANGES[k]) * f.finger_length * length_mult[k]
        radii = (A.RADII[k][0] * f.thickness, A.RADII[k][1] * f.thickness * (1 - f.taper))
        parts.append(_digit(mcp[k], np.tile(d, (3, 1)), lengths, radii, A.FIRST_JOINT[k]))
    cmc = wrist + A.THUMB_CMC_OFFSET * np.array([1.0, 1.0, f.palm_width])
    dirs = np.stack([A.fan_direction(a, t) for a, t in A.THUMB_DIRS])
    lengths = np.array(A.PHALANGES["thumb"]) * f.thumb_length
    r = A.RADII["thumb"]
    radii = (r[0] * f.thickness, r[1] * f.thickness * (1 - f.taper))
    parts.append(_digit(cmc, dirs, lengths, radii, A.FIRST_JOINT["thumb"]))
    return parts


def _vertices(parts: list[_Part], scale: float) -> np.ndarray:
    """(V, 3) all parts' vertices, each as [start pole, rings, end pole]."""
    chunks = [np.vstack([p.start_pole, p.rings.reshape(-1, 3), p.end_pole]) for p in parts]
    return np.concatenate(chunks) * scale


@dataclass(frozen=True)
class SynthGeometry:
    """Arrays of the SynthHand model (float64 numpy)."""

    v_template: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3) int64
    shapedirs: np.ndarray  # (V, 3, 10)
    lbs_weights: np.ndarray  # (V, 16)
    J_regressor: np.ndarray  # (16, V)
    tip_vertex_ids: np.ndarray  # (5,) thumb, index, middle, ring, pinky
    part_of_vertex: np.ndarray  # (V,) 0 palm, 1-4 index..pinky, 5 thumb


def _topology(parts: list[_Part]) -> tuple[np.ndarray, np.ndarray, dict[int, int], np.ndarray]:
    """faces (F, 3), J_regressor (16, V), end-pole vertex id per part, part id per vertex."""
    faces, offsets, part_ids, ends = [], 0, [], {}
    n_vert = sum(p.rings.shape[0] * p.rings.shape[1] + 2 for p in parts)
    J_reg = np.zeros((16, n_vert))
    for i, p in enumerate(parts):
        n_r, n = p.rings.shape[:2]
        faces.append(_tube_faces(n_r, n) + offsets)
        for joint, r in p.joint_rings.items():
            J_reg[joint, offsets + 1 + r * n : offsets + 1 + (r + 1) * n] = 1.0 / n
        ends[i] = offsets + 1 + n_r * n
        part_ids.append(np.full(n_r * n + 2, i))
        offsets += n_r * n + 2
    return np.concatenate(faces).astype(np.int64), J_reg, ends, np.concatenate(part_ids)


@functools.lru_cache(maxsize=1)
def synth_geometry() -> SynthGeometry:
    """Build (once per process) the template, topology, weights and shape space."""
    zero = np.zeros(10)
    parts = _parts(_Factors.from_beta(zero))
    v0 = _vertices(parts, 1.0)
    faces, J_reg, ends, part_ids = _topology(parts)
    dirs = []
    for k in range(10):
        e = np.eye(10)[k]
        plus, minus = _Factors.from_beta(e), _Factors.from_beta(-e)
        dirs.append(
            (_vertices(_parts(plus), plus.scale) - _vertices(_parts(minus), minus.scale)) / 2
        )
    weights = np.concatenate([p.weights for p in parts])
    tips = np.array([ends[5], ends[1], ends[2], ends[3], ends[4]])  # thumb, index..pinky
    return SynthGeometry(v0, faces, np.stack(dirs, -1), weights, J_reg, tips, part_ids)


class SynthHand(HandModel):
    """Procedural right hand in MANO's parameterisation (pose (B, 48), shape (B, 10)).

    Deterministic; the arrays are built once per process (a few ms) and shared.
    """

    shape_names: tuple[str, ...] = SHAPE_NAMES

    def __init__(self, flat_hand_mean: bool = True, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        from .sampler import relaxed_hand_pose

        g = synth_geometry()
        buf = lambda name, x, dt=dtype: self.register_buffer(  # noqa: E731
            name, torch.as_tensor(np.ascontiguousarray(x), dtype=dt), persistent=False
        )
        buf("v_template", g.v_template)  # (V, 3)
        buf("shapedirs", g.shapedirs)  # (V, 3, 10)
        buf("posedirs", np.zeros((15 * 9, g.v_template.size)))  # (135, V*3)
        buf("J_regressor", g.J_regressor)  # (16, V)
        buf("lbs_weights", g.lbs_weights)  # (V, 16)
        buf("faces", g.faces, torch.long)  # (F, 3)
        buf("parents", np.array(MANO_PARENTS), torch.long)  # (16,)
        buf("tip_vertex_ids", g.tip_vertex_ids, torch.long)  # (5,)
        self.flat_hand_mean = flat_hand_mean
        mean = np.zeros(45) if flat_hand_mean else relaxed_hand_pose().numpy()
        buf("hands_mean", mean)  # (45,)
        buf("mean_finger_pose", relaxed_hand_pose().numpy())  # (45,) whatever flat_hand_mean

    def _skin(self, pose: Tensor, shape: Tensor) -> tuple[Tensor, Tensor]:
        """pose (B, 48), shape (B, 10) -> vertices (B, V, 3), kinematic joints (B, 16, 3)."""
        offset = torch.cat([self.hands_mean.new_zeros(3), self.hands_mean])  # (48,)
        return linear_blend_skinning(
            shape, pose + offset, self.v_template, self.shapedirs, self.posedirs,
            self.J_regressor, MANO_PARENTS, self.lbs_weights,
        )  # fmt: skip
