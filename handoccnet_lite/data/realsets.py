"""Shared pieces of the real-dataset loaders (HO-3D, Dex-YCB, HandOccNet's COCO-style JSONs).

Every loader yields the raw record of ``records.py`` (metres, OpenCV camera frame, canonical
joint order, right hands) plus a few extra keys that ``validate_record`` ignores:

=============== ================= =========================================================
extra key       dtype, shape      meaning
=============== ================= =========================================================
has_joints      float             1.0 when all 21 joints are ground truth; 0.0 when only the
                                  root is known (HO-3D evaluation): then joints_cam holds NaN
                                  except joint 0 (the wrist)
has_verts       float             1.0 when verts_cam holds the MANO mesh, else 0.0 and
                                  verts_cam has shape (0, 3)
root_cam        float32 (3,)      wrist, metres, OpenCV, after the flip (always known)
flipped         bool              True when a left hand was mirrored into a right hand
image_path      str               the image file the record was read from
name            str               the sample's id in its dataset ("SEQ/ID", file_name, ...)
=============== ================= =========================================================

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

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from .records import make_record

OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])  # C; its own inverse
MIRROR_X = np.diag([-1.0, 1.0, 1.0])  # M
POSE_MIRROR_SIGN = np.array([1.0, -1.0, -1.0])  # per axis-angle triplet


# ----------------------------------------------------------------------------- errors
class DatasetRootError(FileNotFoundError):
    """The dataset root (or a folder it must hold) does not exist; the message shows the tree."""


class ImageReadError(OSError):
    """An image file is missing or cannot be decoded; the message names the file."""


class AnnotationError(ValueError):
    """An annotation does not match the expected schema; the message names field and file."""


def check_root(root: str | os.PathLike, required: list[str], tree: str, name: str) -> Path:
    """Return Path(root) when it and every ``required`` sub-path exist, else DatasetRootError."""
    root = Path(root).expanduser()
    missing = [r for r in ["."] + required if not (root / r).exists()]
    if missing:
        what = "does not exist" if "." in missing else f"lacks {missing}"
        raise DatasetRootError(
            f"{name} root {str(root)!r} {what}. Expected folder tree:\n{tree}\n"
            f"Point the loader at the folder that holds this tree."
        )
    return root


def annotation_error(path: str | os.PathLike, field_name: str, expected: str, got: Any):
    """Build an AnnotationError naming the file, the field, the expectation and what was found."""
    if isinstance(got, np.ndarray):
        desc = f"array of shape {got.shape} ({got.dtype})"
    elif got is None:
        desc = "nothing (missing or None)"
    else:
        desc = f"{type(got).__name__} {str(got)[:60]!r}"
    return AnnotationError(
        f"{path}: field {field_name!r} should be {expected}, got {desc}. The file does not "
        "follow the dataset's published format: re-download or re-extract it."
    )


def get_array(
    ann: dict[str, Any], key: str, shape: tuple[int, ...], path: str | os.PathLike
) -> np.ndarray:
    """``ann[key]`` as a float64 array of exactly ``shape`` (finite), else AnnotationError."""
    val = ann.get(key) if isinstance(ann, dict) else None
    if val is None:
        raise annotation_error(path, key, f"a number array of shape {shape}", None)
    try:
        arr = np.asarray(val, dtype=np.float64)
    except (TypeError, ValueError):
        raise annotation_error(path, key, f"a number array of shape {shape}", val) from None
    if arr.size == int(np.prod(shape)) and arr.shape != shape:
        arr = arr.reshape(shape)  # e.g. (1, 21, 3) or a flat list
    if arr.shape != shape or not np.isfinite(arr).all():
        raise annotation_error(path, key, f"a finite number array of shape {shape}", arr)
    return arr


# ----------------------------------------------------------------------------- files
def read_image(path: str | os.PathLike) -> np.ndarray:
    """RGB uint8 (H, W, 3) from a png/jpg file; ImageReadError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(
            f"image file {str(path)!r} does not exist. Check the dataset root, or pass "
            "skip_missing=True to skip (and count) samples whose image is missing."
        )
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageReadError(
            f"image file {str(path)!r} exists but cannot be decoded (corrupt or truncated). "
            "Re-extract it, or pass skip_missing=True to skip (and count) such samples."
        )
    return np.ascontiguousarray(bgr[:, :, ::-1])


_PICKLE_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
    ("__builtin__", "object"), ("builtins", "object"),
}  # fmt: skip


class _MetaUnpickler(pickle.Unpickler):
    """Allows numpy arrays and builtins only: a meta file cannot run code while loading."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a meta file")
        return super().find_class({"copy_reg": "copyreg", "__builtin__": "builtins"}.get(
            module, module), name)  # fmt: skip


def read_meta_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """A HO-3D meta pickle (Python 2 protocol, latin1 strings) as a dict; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation file {str(path)!r} does not exist.")
    try:
        with open(path, "rb") as fh:
            meta = _MetaUnpickler(fh, encoding="latin1").load()
    except Exception as err:
        raise AnnotationError(
            f"{path}: cannot be read as a meta pickle ({err}); expected a pickled dict of numpy "
            "arrays (HO-3D format). Re-extract the file."
        ) from err
    if not isinstance(meta, dict):
        raise annotation_error(path, "<root>", "a dict", meta)
    return meta


# ----------------------------------------------------------------------------- geometry
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


# ----------------------------------------------------------------------------- MANO
@dataclass
class ManoAssets:
    """What the real-set loaders need from the user's MANO: a hand model for the mesh and the
    PCA basis (hands_components (45, 45), hands_mean (45,)) for Dex-YCB's pose_m and HandOccNet's
    JSON poses (which exclude hands_mean). ``model`` may be any HandModel (e.g. SynthHand in
    tests of the geometry); PCA conversions need the arrays."""

    model: Any  # handoccnet_lite.hand.HandModel, float64, eval mode
    hands_components: np.ndarray | None = None  # (45, 45)
    hands_mean: np.ndarray | None = None  # (45,)
    left_components: np.ndarray | None = field(default=None)  # MANO_LEFT's, when available
    left_mean: np.ndarray | None = field(default=None)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], left: dict | None = None) -> ManoAssets:
        """From MANO_RIGHT arrays (``hand.load_mano_arrays`` keys); MANOHand in float64."""
        import torch

        from ..hand import MANOHand

        model = MANOHand(arrays=arrays, tips="ho3d", dtype=torch.float64).double().eval()
        return cls(
            model, np.asarray(arrays["hands_components"], np.float64),
            np.asarray(arrays["hands_mean"], np.float64),
            None if left is None else np.asarray(left["hands_components"], np.float64),
            None if left is None else np.asarray(left["hands_mean"], np.float64),
        )  # fmt: skip

    def pca_to_axis_angle(self, coeffs: np.ndarray, left: bool = False) -> np.ndarray:
        """(45,) PCA coefficients (manopth, flat_hand_mean=False) -> (45,) axis-angle of the
        annotated hand in the flat convention (zero = flat hand): hands_mean + coeffs @
        hands_components. A left hand uses MANO_LEFT's basis when it was loaded; otherwise the
        mirror of the right basis (MANO's left model mirrors the right one)."""
        if self.hands_components is None or self.hands_mean is None:
            raise ValueError("PCA pose conversion needs MANO's hands_components; load MANO.")
        coeffs = np.asarray(coeffs, np.float64)
        if left and self.left_components is not None:
            return self.left_mean + coeffs @ self.left_components
        aa = self.hands_mean + coeffs @ self.hands_components  # (45,)
        return mirror_pose(np.r_[0.0, 0.0, 0.0, aa])[3:] if left else aa

    def mesh(self, pose: np.ndarray, shape: np.ndarray, root: np.ndarray) -> np.ndarray:
        """(V, 3) vertices of MANO(pose, shape) translated so that its wrist sits at ``root``."""
        import torch

        with torch.no_grad():
            out = self.model(torch.as_tensor(pose, dtype=torch.float64)[None],
                             torch.as_tensor(shape, dtype=torch.float64)[None])  # fmt: skip
        verts, joints = out.vertices[0].numpy(), out.joints[0].numpy()  # (V, 3), (21, 3)
        return verts - joints[0] + np.asarray(root, np.float64)

    def mesh_with_transl(self, pose: np.ndarray, shape: np.ndarray, transl: np.ndarray):
        """(V, 3) vertices of MANO(pose, shape) + transl (MANO's own translation convention)."""
        import torch

        f64 = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)[None]
        with torch.no_grad():
            out = self.model(f64(pose), f64(shape), f64(transl))
        return out.vertices[0].numpy()  # (V, 3)

    def rest_root(self, shape: np.ndarray) -> np.ndarray:
        """(3,) rest-pose wrist J0 for these betas (zero pose, no translation)."""
        import torch

        with torch.no_grad():
            out = self.model(torch.zeros(1, 48, dtype=torch.float64),
                             torch.as_tensor(shape, dtype=torch.float64)[None])  # fmt: skip
        return out.joints[0, 0].numpy()


def load_mano_assets(mano_dir: str | os.PathLike | None = None) -> ManoAssets | None:
    """ManoAssets from mano_dir or $HANDOCCNET_MANO_DIR (MANO_RIGHT, and MANO_LEFT next to it if
    present); None when no MANO file is found (loaders then set has_mano / has_verts to 0)."""
    from ..hand import find_mano_file, load_mano_arrays

    path = find_mano_file(mano_dir)
    if path is None:
        return None
    left_path = path.with_name(path.name.replace("RIGHT", "LEFT"))
    left = load_mano_arrays(left_path) if left_path.is_file() else None
    return ManoAssets.from_arrays(load_mano_arrays(path), left)


def resolve_mano(mano: ManoAssets | str | os.PathLike | None) -> ManoAssets | None:
    """``"auto"``: $HANDOCCNET_MANO_DIR; a path: that folder; ManoAssets: as is; None: none."""
    if mano is None or isinstance(mano, ManoAssets):
        return mano
    return load_mano_assets(None if mano == "auto" else mano)


# ----------------------------------------------------------------------------- records
def build_record(
    image: np.ndarray,
    K: np.ndarray,
    joints_cam: np.ndarray,
    index: int,
    image_path: str,
    *,
    pose: np.ndarray | None = None,
    shape: np.ndarray | None = None,
    mano: ManoAssets | None = None,
    left: bool = False,
    hand_box: np.ndarray | None = None,
    hand_mask: np.ndarray | None = None,
    has_joints: bool = True,
    verts: np.ndarray | None = None,
) -> dict[str, Any]:
    """Raw record (records.py) + extras, from OpenCV-frame canonical-order annotations.

    joints_cam (21, 3) metres (NaN rows allowed when has_joints is False, joint 0 known);
    pose (48,) flat-convention axis-angle of the *annotated* hand side (None when unknown);
    left=True mirrors everything into a right hand first. The mesh is MANO(pose, shape) with
    its wrist put on joints_cam[0] when ``mano`` is given and pose/shape are known, unless
    ``verts`` (V, 3) (already in the record's frame and side) is passed.
    """
    s = {"image": image, "K": K, "joints_cam": joints_cam, "pose": pose,
         "hand_box": hand_box, "hand_mask": hand_mask}  # fmt: skip
    if left:
        s = flip_left_to_right(s)
    joints = np.asarray(s["joints_cam"], np.float64)
    has_mano = s["pose"] is not None and shape is not None
    if verts is None:
        verts = np.zeros((0, 3))
    if has_mano and mano is not None and len(verts) == 0:
        verts = mano.mesh(s["pose"], shape, joints[0])
    vis = np.ones(21, np.float32) if has_joints else (np.arange(21) == 0).astype(np.float32)
    raw = make_record(
        s["image"], s["K"], joints, verts, index,
        pose=s["pose"] if has_mano else None, shape=shape if has_mano else None,
        hand_box=s["hand_box"], joints_vis=vis, hand_mask=s["hand_mask"],
    )  # fmt: skip
    raw.update(has_joints=float(has_joints), has_verts=float(len(verts) > 0),
               root_cam=joints[0].astype(np.float32), flipped=bool(left),
               image_path=str(image_path))  # fmt: skip
    return raw


class RealSetBase:
    """Common index / skipping logic. Subclasses fill ``self.samples`` (one entry per sample,
    with key ``image_path``) and implement ``_load(i)``.

    skip_missing=False: a missing or corrupt image raises ImageReadError naming the file.
    skip_missing=True: samples whose image file is missing are dropped when the index is built,
    and a corrupt image met while reading is replaced by the next readable sample; both are
    counted in ``self.skipped`` (the file paths)."""

    samples: list[dict[str, Any]]

    def __init__(self, skip_missing: bool = False) -> None:
        self.skip_missing = skip_missing
        self.skipped: list[str] = []

    def _drop_missing(self) -> None:
        if not self.skip_missing:
            return
        exists = [os.path.isfile(s["image_path"]) for s in self.samples]
        self.skipped += [
            s["image_path"] for s, ok in zip(self.samples, exists, strict=True) if not ok
        ]
        self.samples = [s for s, ok in zip(self.samples, exists, strict=True) if ok]

    def __len__(self) -> int:
        return len(self.samples)

    def record(self, idx: int) -> dict[str, Any]:
        """The raw record of sample idx (see the module docstring for the extra keys)."""
        n = len(self)
        if not 0 <= idx < n:
            raise IndexError(f"index {idx} out of range for a dataset of {n} samples.")
        for k in range(n):
            j = (idx + k) % n
            try:
                return self._load(j)
            except ImageReadError:
                if not self.skip_missing:
                    raise
                self.skipped.append(self.samples[j]["image_path"])
        raise ImageReadError(f"no readable image in the whole dataset ({n} samples).")

    def _load(self, idx: int) -> dict[str, Any]:
        raise NotImplementedError


class RealHandDataset:
    """A torch Dataset over a real-set loader: ``augment_sample`` (the same crop/augmentation as
    SynthOcc) applied to ``loader.record(i)``; items also carry has_joints, has_verts, root_cam
    (3,) and flipped. Items of one dataset share V (778 with MANO, 0 without)."""

    def __init__(self, loader: RealSetBase, input_size: int = 256, augment: bool = False,
                 seed: int | None = None) -> None:  # fmt: skip
        from .dataset import AugmentConfig

        self.loader, self.seed, self.epoch = loader, seed, 0
        self.cfg = AugmentConfig(input_size=input_size, augment=augment)

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        import torch

        from .dataset import augment_sample

        idx = int(idx)
        seq = [self.seed, self.epoch, idx] if self.seed is not None else None
        raw = self.loader.record(idx)
        item = augment_sample(raw, self.cfg, np.random.default_rng(seq))
        item["index"] = torch.tensor(idx, dtype=torch.int64)
        for key in ("has_joints", "has_verts"):
            item[key] = torch.tensor(raw[key], dtype=torch.float32)
        item["root_cam"] = torch.as_tensor(raw["root_cam"], dtype=torch.float32)  # (3,)
        item["flipped"] = torch.tensor(raw["flipped"])
        return item
