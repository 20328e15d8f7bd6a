"""The raw record: one full-frame sample *before* crop and augmentation.

Every dataset loader (SynthOcc, and loaders of real sets such as HO-3D or Dex-YCB) produces raw
records; `handoccnet_lite.data.dataset.augment_sample(raw, cfg, rng)` turns a raw record into the
model-ready item of docs/INTERFACES.md (crop around the hand, scale, rotation, colour).

Conventions (package-wide, see docs/INTERFACES.md): metres, OpenCV camera frame (x right, y down,
z forward), canonical 21-joint order, right hands (loaders flip left hands *before* building the
record: mirror the image, negate x in camera coordinates, adjust K's principal point, mirror the
MANO pose). Pixel coordinates follow OpenCV: the centre of pixel (column i, row j) is at
(x, y) = (i, j); `joints_2d = project(K, joints_cam)`.

A raw record is a plain ``dict`` with these keys:

=============== ================= =========================================================
key             dtype, shape      meaning
=============== ================= =========================================================
image           uint8 (H, W, 3)   RGB
K               float32 (3, 3)    intrinsics, pixels (OpenCV pixel-centre convention)
joints_cam      float32 (21, 3)   metres, camera frame, canonical order, absolute
joints_2d       float32 (21, 2)   pixels (x, y) = project(K, joints_cam)
verts_cam       float32 (V, 3)    metres, camera frame (V of the hand model that made it)
pose            float32 (48,)     MANO axis-angle, root first (zeros when has_mano is 0)
shape           float32 (10,)     MANO betas (zeros when has_mano is 0)
has_mano        float             1.0 when pose/shape are ground truth, else 0.0
hand_box        float32 (4,)      x0, y0, x1, y1 pixels: tight box of joints_2d (a real set
                                  may put its own annotated box here); the crop is this box
                                  expanded 1.5x and made square
hand_mask       bool (H, W)|None  pixels covered by the hand's silhouette, occluded or not
occluder_mask   bool (H, W)|None  pixels covered by an occluding object
occlusion_mask  bool (H, W)|None  hand pixels hidden by an object (subset of hand_mask)
joints_vis      float32 (21,)     1 visible, 0 occluded or outside the image (real sets: 1)
occlusion       float             occlusion_mask.sum() / hand_mask.sum(); NaN when unknown
index           int               index of the sample in its dataset
=============== ================= =========================================================

Joint visibility in SynthOcc: joint j is visible iff its pixel (joints_2d rounded to the nearest
pixel centre) lies inside the image and no occluder is in front of the hand there: when the pixel
is in hand_mask, ``joints_vis[j] == 1 - occlusion_mask[pixel]`` exactly; when it is not (a joint
just outside the silhouette), the occluder's depth is compared with the joint's own depth.
Self-occlusion (the hand hiding its own joints) does not count as occlusion.

`make_record(...)` builds and checks a record; `validate_record(raw)` checks one made elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NUM_JOINTS = 21
RECORD_KEYS: tuple[str, ...] = (
    "image", "K", "joints_cam", "joints_2d", "verts_cam", "pose", "shape", "has_mano",
    "hand_box", "hand_mask", "occluder_mask", "occlusion_mask", "joints_vis", "occlusion",
    "index",
)  # fmt: skip
MASK_KEYS: tuple[str, ...] = ("hand_mask", "occluder_mask", "occlusion_mask")


def project(K: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pinhole projection. K (3, 3), points (..., 3) camera frame -> (..., 2) pixels."""
    uvw = points @ K.T  # (..., 3)
    return uvw[..., :2] / uvw[..., 2:3]


def joints_box(joints_2d: np.ndarray) -> np.ndarray:
    """Tight box (x0, y0, x1, y1) around 2D joints (J, 2)."""
    return np.concatenate([joints_2d.min(0), joints_2d.max(0)]).astype(np.float32)


def make_record(
    image: np.ndarray,
    K: np.ndarray,
    joints_cam: np.ndarray,
    verts_cam: np.ndarray,
    index: int,
    pose: np.ndarray | None = None,
    shape: np.ndarray | None = None,
    hand_box: np.ndarray | None = None,
    joints_vis: np.ndarray | None = None,
    hand_mask: np.ndarray | None = None,
    occluder_mask: np.ndarray | None = None,
    occlusion_mask: np.ndarray | None = None,
    occlusion: float = float("nan"),
) -> dict[str, Any]:
    """Build a raw record, filling the derived fields (joints_2d, hand_box, defaults)."""
    K = np.asarray(K, np.float32)
    joints_cam = np.asarray(joints_cam, np.float32)
    joints_2d = project(K.astype(np.float64), joints_cam.astype(np.float64)).astype(np.float32)
    has_mano = pose is not None and shape is not None
    raw = {
        "image": np.ascontiguousarray(image, dtype=np.uint8),
        "K": K,
        "joints_cam": joints_cam,
        "joints_2d": joints_2d,
        "verts_cam": np.asarray(verts_cam, np.float32),
        "pose": np.asarray(pose if has_mano else np.zeros(48), np.float32),
        "shape": np.asarray(shape if has_mano else np.zeros(10), np.float32),
        "has_mano": 1.0 if has_mano else 0.0,
        "hand_box": joints_box(joints_2d) if hand_box is None else np.asarray(hand_box, np.float32),
        "hand_mask": hand_mask,
        "occluder_mask": occluder_mask,
        "occlusion_mask": occlusion_mask,
        "joints_vis": np.ones(NUM_JOINTS, np.float32) if joints_vis is None else joints_vis,
        "occlusion": float(occlusion),
        "index": int(index),
    }
    raw["joints_vis"] = np.asarray(raw["joints_vis"], np.float32)
    validate_record(raw)
    return raw


def _check(cond: bool, key: str, what: str, raw: dict[str, Any]) -> None:
    if not cond:
        got = raw.get(key)
        desc = f"{got.dtype} {got.shape}" if isinstance(got, np.ndarray) else repr(type(got))
        raise ValueError(
            f"raw record field {key!r}: expected {what}, got {desc}. "
            "See handoccnet_lite/data/records.py for the record format."
        )


def validate_record(raw: dict[str, Any]) -> None:
    """Raise ValueError naming the first field that does not follow the record format."""
    missing = [k for k in RECORD_KEYS if k not in raw]
    if missing:
        raise ValueError(
            f"raw record is missing {missing}; expected keys {list(RECORD_KEYS)} "
            "(see handoccnet_lite/data/records.py; make_record fills the derived ones)."
        )
    img = raw["image"]
    _check(isinstance(img, np.ndarray) and img.dtype == np.uint8, "image", "uint8 array", raw)
    _check(img.ndim == 3 and img.shape[2] == 3, "image", "(H, W, 3) RGB", raw)
    shapes = {"K": (3, 3), "joints_cam": (21, 3), "joints_2d": (21, 2), "pose": (48,),
              "shape": (10,), "hand_box": (4,), "joints_vis": (21,)}  # fmt: skip
    for key, shp in shapes.items():
        arr = raw[key]
        _check(isinstance(arr, np.ndarray) and arr.shape == shp, key, f"array of shape {shp}", raw)
    verts = raw["verts_cam"]
    _check(isinstance(verts, np.ndarray) and verts.ndim == 2 and verts.shape[1] == 3,
           "verts_cam", "array of shape (V, 3)", raw)  # fmt: skip
    for key in MASK_KEYS:
        m = raw[key]
        ok = m is None or (isinstance(m, np.ndarray) and m.shape == img.shape[:2])
        _check(ok, key, f"None or an array of shape {img.shape[:2]}", raw)
