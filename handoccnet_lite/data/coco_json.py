"""HandOccNet's COCO-style annotation JSONs (HO-3D and Dex-YCB s0), read with ``json``.

The authors shared these files with their release (the script that made them is unpublished);
they are loaded with pycocotools there, here with the standard library. Structure::

    {"images": [{"id", "file_name", "width", "height", ...}],
     "annotations": [{"id", "image_id", ...}]}

Annotation fields (metres, **OpenCV** camera frame, canonical "simple" joint order):

* with 3D joints (HO3D_train_data.json, DEX_YCB_s0_{train,test}_data.json):
  joints_coord_cam (21, 3), cam_param {focal [fx, fy], princpt [cx, cy]}, and optionally
  mano_param {pose (48), shape (10)}, joints_img (21, 2), hand_type 'right' | 'left'
  (Dex-YCB; absent = right);
* without (HO3D_evaluation_data.json): root_joint_cam (3), bbox [x, y, w, h], cam_param.

``mano_param.pose`` is in the convention of HandOccNet's MANO layer (manopth, use_pca=False,
flat_hand_mean=False: the layer adds hands_mean), so the package's flat-convention pose is
``pose + [0, 0, 0, hands_mean]`` (MANO_LEFT's mean for left hands, or the mirror of the right
one). That needs the user's MANO: without it has_mano = 0 and the joints come from
joints_coord_cam. Left hands are mirrored into right hands (realsets docstring).

Layouts of HandOccNet's data folders (``HandOccNetJSON.ho3d`` / ``.dexycb`` build from them)::

    HO3D_ROOT/annotations/HO3D_{train,evaluation}_data.json   images: HO3D_ROOT/{split}/file_name
    DEXYCB_ROOT/annotations/DEX_YCB_s0_{train,test}_data.json  images: DEXYCB_ROOT/file_name
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .frames import mirror_pose
from .mano_assets import ManoAssets, resolve_mano
from .realsets import (
    AnnotationError,
    RealSetBase,
    annotation_error,
    build_record,
    check_root,
    get_array,
    read_image,
)

HO3D_JSON_TREE = """  ROOT/
    annotations/HO3D_train_data.json, HO3D_evaluation_data.json
    train/SEQ/rgb/ID.png          (file_name in the JSON is relative to ROOT/<split>)
    evaluation/SEQ/rgb/ID.png"""
DEXYCB_JSON_TREE = """  ROOT/
    annotations/DEX_YCB_s0_train_data.json, DEX_YCB_s0_test_data.json
    20200709-subject-01/SEQ/SERIAL/color_000000.jpg ...  (file_name relative to ROOT)"""


def _check_entries(entries: Any, name: str, keys: tuple[str, ...], path: Path) -> list[dict]:
    if not isinstance(entries, list):
        raise annotation_error(path, name, "a list", entries)
    for k, e in enumerate(entries):
        for key in keys:
            if not isinstance(e, dict) or key not in e:
                raise annotation_error(path, f"{name}[{k}].{key}", "present", None)
    return entries


def load_coco_json(path: str | os.PathLike) -> tuple[dict[int, dict], list[dict]]:
    """(images by id, annotations) of a COCO-style JSON, structure checked (errors name the
    field and the file)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation file {str(path)!r} does not exist.")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{path}: not valid JSON ({err}).") from err
    if not isinstance(data, dict):
        raise annotation_error(path, "<root>", "an object with images and annotations", data)
    images = _check_entries(data.get("images"), "images", ("id", "file_name", "width",
                                                           "height"), path)  # fmt: skip
    anns = _check_entries(data.get("annotations"), "annotations", ("id", "image_id"), path)
    by_id = {img["id"]: img for img in images}
    for k, a in enumerate(anns):
        if a["image_id"] not in by_id:
            raise annotation_error(path, f"annotations[{k}].image_id",
                                   "the id of an entry of 'images'", a["image_id"])  # fmt: skip
    return by_id, anns


def parse_intrinsics(ann: dict[str, Any], where: str) -> np.ndarray:
    """K (3, 3) from cam_param {focal [fx, fy], princpt [cx, cy]}."""
    cam = ann.get("cam_param")
    if not isinstance(cam, dict):
        raise annotation_error(where, "cam_param", "{focal: [fx, fy], princpt: [cx, cy]}", cam)
    (fx, fy), (cx, cy) = (get_array(cam, k, (2,), f"{where}.cam_param")
                          for k in ("focal", "princpt"))  # fmt: skip
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def parse_annotation(ann: dict[str, Any], where: str) -> dict[str, Any]:
    """One annotation -> K, joints_cam (21, 3) (NaN but the wrist without 3D joints),
    has_joints, hand_box (x0, y0, x1, y1) or None, pose_rel (48,) or None (HandOccNet's layer
    convention), shape (10,) or None, left (bool)."""
    out: dict[str, Any] = {"K": parse_intrinsics(ann, where), "hand_box": None,
                           "pose_rel": None, "shape": None}  # fmt: skip
    if "joints_coord_cam" in ann:
        out["joints_cam"] = get_array(ann, "joints_coord_cam", (21, 3), where)
        out["has_joints"] = True
    else:
        root = get_array(ann, "root_joint_cam", (3,), where)
        x, y, w, h = get_array(ann, "bbox", (4,), where)
        if w <= 0 or h <= 0:
            raise annotation_error(where, "bbox", "[x, y, w, h] with w, h > 0", [x, y, w, h])
        out["joints_cam"] = np.full((21, 3), np.nan)
        out["joints_cam"][0] = root
        out["hand_box"], out["has_joints"] = np.array([x, y, x + w, y + h]), False
    if "mano_param" in ann:
        mp = ann["mano_param"]
        if not isinstance(mp, dict):
            raise annotation_error(where, "mano_param", "{pose: [48], shape: [10]}", mp)
        out["pose_rel"] = get_array(mp, "pose", (48,), f"{where}.mano_param")
        out["shape"] = get_array(mp, "shape", (10,), f"{where}.mano_param")
    side = ann.get("hand_type", "right")
    if side not in ("right", "left"):
        raise annotation_error(where, "hand_type", "'right' or 'left'", side)
    out["left"] = side == "left"
    return out


def flat_pose(pose_rel: np.ndarray, mano: ManoAssets, left: bool) -> np.ndarray:
    """HandOccNet-layer pose (hands_mean excluded) -> flat convention (48,) of the same side."""
    mean = mano.hands_mean
    if left:
        mean = mano.left_mean if mano.left_mean is not None else mirror_pose(
            np.r_[0.0, 0.0, 0.0, mano.hands_mean])[3:]  # fmt: skip
    return np.asarray(pose_rel, np.float64) + np.r_[0.0, 0.0, 0.0, mean]


class HandOccNetJSON(RealSetBase):
    """Samples of a HandOccNet COCO-style JSON (one per annotation, in file order).

    Args:
        json_path: the JSON file.
        image_root: folder that ``images[].file_name`` is relative to.
        mano: ManoAssets, a MANO folder, "auto" ($HANDOCCNET_MANO_DIR) or None.
        skip_missing: see ``RealSetBase``.

    Every annotation is checked when the file is opened (errors name the field and the file).
    """

    def __init__(
        self,
        json_path: str | os.PathLike,
        image_root: str | os.PathLike,
        mano: ManoAssets | str | os.PathLike | None = "auto",
        skip_missing: bool = False,
    ) -> None:
        super().__init__(skip_missing)
        self.json_path, self.image_root = Path(json_path), Path(image_root)
        # alignment protocol of its evaluation (engine.protocols.PROTOCOLS), from the file's name
        stem = self.json_path.name
        self.eval_protocol = (
            "ho3d"
            if stem.startswith("HO3D")
            else ("dexycb" if stem.startswith("DEX_YCB") else None)
        )
        images, anns = load_coco_json(self.json_path)
        self.mano = resolve_mano(mano)
        self.samples = []
        for k, ann in enumerate(anns):
            img = images[ann["image_id"]]
            parsed = parse_annotation(ann, f"{self.json_path} annotations[{k}]")
            parsed.update(image_path=str(self.image_root / img["file_name"]),
                          name=img["file_name"], ann_id=ann["id"])  # fmt: skip
            self.samples.append(parsed)
        self._drop_missing()

    @classmethod
    def ho3d(cls, root: str | os.PathLike, split: str = "train", **kw) -> HandOccNetJSON:
        """HO3D_{split}_data.json of HandOccNet's HO-3D folder (split train or evaluation)."""
        if split not in ("train", "evaluation"):
            raise ValueError(f"split must be 'train' or 'evaluation', got {split!r}.")
        name = f"annotations/HO3D_{split}_data.json"
        root = check_root(root, [name, split], HO3D_JSON_TREE, "HO-3D (HandOccNet JSON)")
        return cls(root / name, root / split, **kw)

    @classmethod
    def dexycb(cls, root: str | os.PathLike, split: str = "train", **kw) -> HandOccNetJSON:
        """DEX_YCB_s0_{split}_data.json of HandOccNet's Dex-YCB folder (train or test)."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
        name = f"annotations/DEX_YCB_s0_{split}_data.json"
        root = check_root(root, [name], DEXYCB_JSON_TREE, "Dex-YCB (HandOccNet JSON)")
        return cls(root / name, root, **kw)

    def _load(self, idx: int) -> dict[str, Any]:
        s = self.samples[idx]
        pose = None
        if s["pose_rel"] is not None and self.mano is not None and self.mano.hands_mean is not None:
            pose = flat_pose(s["pose_rel"], self.mano, s["left"])
        image = read_image(s["image_path"])
        raw = build_record(image, s["K"], s["joints_cam"], idx, s["image_path"], pose=pose,
                           shape=s["shape"] if pose is not None else None, mano=self.mano,
                           left=s["left"], hand_box=s["hand_box"],
                           has_joints=s["has_joints"])  # fmt: skip
        raw["name"] = s["name"]
        return raw
