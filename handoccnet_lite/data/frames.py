"""Camera-frame conversions of the real-set loaders: left hands mirrored into right hands, and
HO-3D's OpenGL camera frame turned into OpenCV's.

**Left hands** are mirrored into right hands as HandOccNet does (its Dex-YCB loader flips left
images). With W the image width and M = diag(-1, 1, 1):

* the image is mirrored left-right: pixel column i -> W - 1 - i;
* 3D points are mirrored in the camera frame: x -> -x (``p' = M p``);
* intrinsics: with u = fx x / z + s y / z + cx, the mirrored pixel W - 1 - u is produced by
  K' = K with cx -> W - 1 - cx and the skew s -> -s (fx, fy, cy unchanged), so
  ``project(K', M p) == mirror(project(K, p))`` exactly;
* MANO axis-angle (each of the 16 rotations): M R M has axis-angle (a_x, -a_y, -a_z);
* masks are mirrored like the image.

**OpenGL -> OpenCV** (HO-3D): points ``p' = C p`` with C = diag(1, -1, -1). MANO's global
rotation turns about the root joint J0 of the rest pose (not the origin), so the root parameters
change as R' = C R and t' = C (J0 + t) - J0 (``opengl_to_opencv_root``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])  # C; its own inverse
MIRROR_X = np.diag([-1.0, 1.0, 1.0])  # M
POSE_MIRROR_SIGN = np.array([1.0, -1.0, -1.0])  # per axis-angle triplet


def opengl_to_opencv_points(points: np.ndarray) -> np.ndarray:
    """(..., 3) OpenGL camera frame (y up, z backward) -> OpenCV (y down, z forward)."""
    return np.asarray(points, np.float64) * np.diag(OPENGL_TO_OPENCV)


def opengl_to_opencv_root(
    pose: np.ndarray, trans: np.ndarray, j0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """MANO (pose (48,), trans (3,)) in OpenGL -> OpenCV: R' = C R, t' = C (J0 + t) - J0.

    j0 (3,) is the rest-pose root joint for the hand's betas (the point the global rotation turns
    about). Then MANO(pose', betas) + t' == C (MANO(pose, betas) + t) for every vertex.
    """
    out = np.array(pose, np.float64)
    C = OPENGL_TO_OPENCV
    out[:3] = (Rotation.from_matrix(C) * Rotation.from_rotvec(out[:3])).as_rotvec()
    t = C @ (np.asarray(j0, np.float64) + np.asarray(trans, np.float64)) - j0
    return out, t


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """(48,) axis-angle of a left hand -> the mirrored (right-hand) pose: (a_x, -a_y, -a_z)."""
    return (np.asarray(pose, np.float64).reshape(16, 3) * POSE_MIRROR_SIGN).reshape(48)


def mirror_intrinsics(K: np.ndarray, width: int) -> np.ndarray:
    """K' for the left-right mirrored image of ``width`` pixels (see the module docstring)."""
    K2 = np.array(K, np.float64)
    K2[0, 2] = width - 1 - K2[0, 2]
    K2[0, 1] = -K2[0, 1]
    return K2


def flip_left_to_right(sample: dict[str, Any]) -> dict[str, Any]:
    """Mirror a left-hand sample (image, K, joints_cam, pose, box, masks) into a right hand.

    ``sample`` keys: image (H, W, 3), K (3, 3), joints_cam (21, 3), pose (48,) or None,
    hand_box (4,) or None (x0, y0, x1, y1), hand_mask (H, W) or None. Returns a new dict.
    """
    width = sample["image"].shape[1]
    out = dict(sample)
    out["image"] = np.ascontiguousarray(sample["image"][:, ::-1])
    out["K"] = mirror_intrinsics(sample["K"], width)
    out["joints_cam"] = np.asarray(sample["joints_cam"], np.float64) @ MIRROR_X
    if sample.get("pose") is not None:
        out["pose"] = mirror_pose(sample["pose"])
    if sample.get("hand_box") is not None:
        x0, y0, x1, y1 = np.asarray(sample["hand_box"], np.float64)
        out["hand_box"] = np.array([width - 1 - x1, y0, width - 1 - x0, y1])
    if sample.get("hand_mask") is not None:
        out["hand_mask"] = np.ascontiguousarray(sample["hand_mask"][:, ::-1])
    return out
