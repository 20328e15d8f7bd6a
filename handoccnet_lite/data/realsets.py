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

Left hands are mirrored into right hands and HO-3D's OpenGL frame is turned into OpenCV's by
``frames``; the user's MANO (mesh and PCA basis) comes in as ``mano_assets.ManoAssets``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .frames import flip_left_to_right
from .mano_assets import ManoAssets
from .records import make_record


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
# ----------------------------------------------------------------------------- MANO
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
