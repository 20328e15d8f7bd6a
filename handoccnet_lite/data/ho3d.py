"""HO-3D v2 / v3 from its native files (per-frame meta pickles) as raw records.

Layout (github shreyashampali/ho3d; v2 images are png, v3 jpg; 640x480)::

    ROOT/
      train.txt            "SEQ/ID" per line (v2: 66,034; v3: 78,297)
      evaluation.txt       (v2: 11,524; v3: 20,137)
      train/SEQ/rgb/ID.png|jpg   train/SEQ/meta/ID.pkl
      evaluation/SEQ/rgb/ID.png|jpg   evaluation/SEQ/meta/ID.pkl

Meta pickles (Python 2, latin1): train frames hold handPose (48,) (flat-hand-mean axis-angle,
MANO order), handBeta (10,), handTrans (3,), handJoints3D (21, 3) in HO-3D order, camMat (3, 3);
evaluation frames hold only the wrist handJoints3D (3,), handBoundingBox (4,) [x0, y0, x1, y1]
and camMat. HO-3D's 3D data are in the **OpenGL** camera frame (hand at negative z).

Conversions to the package's record (records.py):

* points: OpenCV = C OpenGL with C = diag(1, -1, -1); joints reordered HO-3D -> canonical;
  then ``project(camMat, joints_cam)`` gives the pixels (HO-3D projects exactly this way);
* MANO: R' = C R for the global rotation and t' = C (J0 + t) - J0 for the translation
  (``frames.opengl_to_opencv_root``), so the OpenCV mesh is MANO(pose', beta) + t';
* evaluation frames: ``has_joints = 0``; joints_cam is NaN except the wrist (joint 0),
  hand_box is the annotated handBoundingBox, pose/shape are unknown (has_mano = 0).

HO-3D contains right hands only, so nothing is flipped. The mesh (verts_cam, 778 vertices)
needs the user's MANO (``mano="auto"`` reads $HANDOCCNET_MANO_DIR); without it verts_cam has
shape (0, 3) and has_verts = 0, while joints, pose and shape are still ground truth
(has_mano = 1 on train frames: they are MANO parameters in the package's convention).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..hand.joints import ho3d_to_canonical
from .frames import opengl_to_opencv_points, opengl_to_opencv_root
from .mano_assets import ManoAssets, resolve_mano
from .realsets import (
    AnnotationError,
    RealSetBase,
    annotation_error,
    build_record,
    check_root,
    get_array,
    read_image,
    read_meta_pickle,
)

SPLITS = ("train", "evaluation")
HO3D_TREE = """  ROOT/
    train.txt              lines "SEQ/ID"
    evaluation.txt
    train/SEQ/rgb/ID.png   (v2; v3: ID.jpg)
    train/SEQ/meta/ID.pkl
    evaluation/SEQ/rgb/ID.png|jpg
    evaluation/SEQ/meta/ID.pkl"""
IMAGE_EXT = {"v2": ".png", "v3": ".jpg"}


def read_split_file(path: Path) -> list[tuple[str, str]]:
    """[(SEQ, ID), ...] from train.txt / evaluation.txt; AnnotationError on a malformed line."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.split("/")
        if len(parts) != 2 or not all(parts):
            raise AnnotationError(
                f"{path}, line {n}: expected 'SEQ/ID' (e.g. 'ABF10/0000'), got {line!r}."
            )
        out.append((parts[0], parts[1]))
    return out


def detect_version(root: Path, split: str, first: tuple[str, str]) -> str:
    """'v3' when the first listed frame has a jpg image, else 'v2'."""
    seq, fid = first
    return "v3" if (root / split / seq / "rgb" / f"{fid}.jpg").is_file() else "v2"


def convert_train_meta(
    meta: dict[str, Any], path: str | os.PathLike, mano: ManoAssets | None
) -> dict[str, Any]:
    """A train meta dict -> OpenCV canonical annotations: K, joints_cam (21, 3), pose (48,),
    shape (10,), verts (V, 3) or None. Errors name the field and the file."""
    K = get_array(meta, "camMat", (3, 3), path)
    joints_gl = get_array(meta, "handJoints3D", (21, 3), path)  # HO-3D order, OpenGL
    pose_gl = get_array(meta, "handPose", (48,), path)
    shape = get_array(meta, "handBeta", (10,), path)
    trans_gl = get_array(meta, "handTrans", (3,), path)
    joints = ho3d_to_canonical(opengl_to_opencv_points(joints_gl))  # (21, 3)
    j0 = mano.rest_root(shape) if mano is not None else np.zeros(3)
    pose, trans = opengl_to_opencv_root(pose_gl, trans_gl, j0)
    verts = mano.mesh_with_transl(pose, shape, trans) if mano is not None else None
    return {"K": K, "joints_cam": joints, "pose": pose, "shape": shape, "verts": verts}


def convert_eval_meta(meta: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """An evaluation meta dict -> K, joints_cam (NaN but the wrist), root (3,), hand_box (4,)."""
    K = get_array(meta, "camMat", (3, 3), path)
    root = opengl_to_opencv_points(get_array(meta, "handJoints3D", (3,), path))
    box = get_array(meta, "handBoundingBox", (4,), path)
    if not (box[2] > box[0] and box[3] > box[1]):
        raise annotation_error(path, "handBoundingBox", "[x0, y0, x1, y1] with x1>x0, y1>y0", box)
    joints = np.full((21, 3), np.nan)
    joints[0] = root
    return {"K": K, "joints_cam": joints, "root": root, "hand_box": box}


class HO3DNative(RealSetBase):
    """HO-3D (v2 or v3) split read from its native meta pickles; ``record(i)`` -> raw record.

    Args:
        root: the folder holding train.txt, evaluation.txt, train/ and evaluation/.
        split: "train" or "evaluation" (records in the order of ``{split}.txt``, the order the
            official evaluation server expects).
        version: "v2" (png), "v3" (jpg) or None to detect from the first image.
        mano: ManoAssets, a MANO folder, "auto" ($HANDOCCNET_MANO_DIR) or None (no mesh).
        skip_missing: see ``RealSetBase``.
    """

    #: Alignment protocol of its evaluation (engine.protocols.PROTOCOLS): the official eval.py's.
    eval_protocol = "ho3d"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        version: str | None = None,
        mano: ManoAssets | str | os.PathLike | None = "auto",
        skip_missing: bool = False,
    ) -> None:
        super().__init__(skip_missing)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
        if version is not None and version not in IMAGE_EXT:
            raise ValueError(f"version must be 'v2', 'v3' or None, got {version!r}.")
        self.root = check_root(root, [f"{split}.txt", split], HO3D_TREE, "HO-3D")
        self.split = split
        frames = read_split_file(self.root / f"{split}.txt")
        if not frames:
            raise AnnotationError(f"{self.root / f'{split}.txt'} lists no frames.")
        self.version = version or detect_version(self.root, split, frames[0])
        ext = IMAGE_EXT[self.version]
        base = self.root / split
        self.samples = [
            {"name": f"{seq}/{fid}", "image_path": str(base / seq / "rgb" / f"{fid}{ext}"),
             "meta_path": str(base / seq / "meta" / f"{fid}.pkl")}
            for seq, fid in frames
        ]  # fmt: skip
        self.mano = resolve_mano(mano)
        self._drop_missing()

    def _load(self, idx: int) -> dict[str, Any]:
        s = self.samples[idx]
        meta = read_meta_pickle(s["meta_path"])
        if self.split == "train":
            a = convert_train_meta(meta, s["meta_path"], self.mano)
            extra = {"pose": a["pose"], "shape": a["shape"], "verts": a["verts"]}
            image = read_image(s["image_path"])
            raw = build_record(image, a["K"], a["joints_cam"], idx, s["image_path"],
                               mano=self.mano, **extra)  # fmt: skip
        else:
            a = convert_eval_meta(meta, s["meta_path"])
            image = read_image(s["image_path"])
            raw = build_record(image, a["K"], a["joints_cam"], idx, s["image_path"],
                               hand_box=a["hand_box"], has_joints=False)  # fmt: skip
        raw["name"] = s["name"]
        return raw
