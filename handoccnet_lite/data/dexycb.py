"""Dex-YCB (split setup s0) from its native files as raw records, and HandOccNet's evaluation.

Layout (github NVlabs/dex-ycb-toolkit; facts only)::

    ROOT/
      SUBJECT/SEQ/meta.yml                  serials, num_frames, mano_sides, mano_calib, ...
      SUBJECT/SEQ/SERIAL/color_%06d.jpg
      SUBJECT/SEQ/SERIAL/labels_%06d.npz    joint_3d (1, 21, 3) m, joint_2d (1, 21, 2) px,
                                            pose_m (1, 51), seg (H, W) (255 = hand)
      calibration/mano_<calib>/mano.yml     betas: [10]
      calibration/intrinsics/<SERIAL>_640x480.yml   color: {fx, fy, ppx, ppy}

Split s0 (the split of HandOccNet's CVPR numbers): with the 10 subjects in date order and the
sequences of a subject sorted by name (index i), train = all subjects, i % 5 != 4; val =
subjects 0-1, i % 5 == 4; test = subjects 2-9, i % 5 == 4; all 8 cameras and all frames.
Frames without a hand (joint_3d filled with -1) are dropped when the index is built
(``skip_handless=True``, which reads joint_3d of every label file once; on the full set this takes
minutes: HandOccNet's COCO-style JSON, ``coco_json.py``, starts faster).

Annotations are already in the OpenCV camera frame, metres, canonical ("simple") joint order.
``pose_m`` = 3 global axis-angle + **45 PCA coefficients** (manopth, flat_hand_mean=False) + 3
translation. Turning the coefficients into the 45 axis-angle values needs MANO's
hands_components and hands_mean, i.e. the user's MANO files: **without MANO, has_mano = 0,
pose/shape are zeros, verts_cam is empty (0, 3), and the joints come from joint_3d** (they are
always ground truth). With MANO, pose = [global, hands_mean + coeffs @ hands_components] and
the mesh is MANO(pose, betas) with its wrist on joint_3d's wrist.

Left hands are mirrored into right hands (realsets module docstring: image flip, x -> -x,
cx -> W - 1 - cx, axis-angle (a_x, -a_y, -a_z)); ``flipped`` marks them. The evaluation helper
below flips predictions back, as HandOccNet's Dex-YCB evaluation does.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

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

SUBJECTS: tuple[str, ...] = (
    "20200709-subject-01", "20200813-subject-02", "20200820-subject-03", "20200903-subject-04",
    "20200908-subject-05", "20200918-subject-06", "20200928-subject-07", "20201002-subject-08",
    "20201015-subject-09", "20201022-subject-10",
)  # fmt: skip
SERIALS: tuple[str, ...] = (
    "836212060125", "839512060362", "840412060917", "841412060263",
    "932122060857", "932122060861", "932122061900", "932122062010",
)  # fmt: skip
SPLITS = ("train", "val", "test")
DEXYCB_TREE = """  ROOT/
    20200709-subject-01/ ... 20201022-subject-10/   (the split's subjects)
      SEQ/meta.yml
      SEQ/SERIAL/color_000000.jpg, labels_000000.npz, ...
    calibration/
      mano_<mano_calib>/mano.yml
      intrinsics/<SERIAL>_640x480.yml"""


def s0_selection(split: str) -> tuple[list[int], list[int]]:
    """(subject indices, sequence indices' residues kept) of split s0; see the module docstring."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    subjects = {"train": range(10), "val": range(2), "test": range(2, 10)}[split]
    return list(subjects), ([0, 1, 2, 3] if split == "train" else [4])


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping; AnnotationError naming the file when absent or not a mapping."""
    if not path.is_file():
        raise AnnotationError(f"annotation file {str(path)!r} does not exist.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise AnnotationError(f"{path}: not valid YAML ({err}).") from err
    if not isinstance(data, dict):
        raise annotation_error(path, "<root>", "a YAML mapping", data)
    return data


def read_sequence_meta(path: Path) -> dict[str, Any]:
    """meta.yml checked: serials (list), num_frames (int > 0), mano_sides, mano_calib."""
    meta = read_yaml(path)
    checks = {
        "serials": lambda v: isinstance(v, list) and all(isinstance(s, (str, int)) for s in v),
        "num_frames": lambda v: isinstance(v, int) and v > 0,
        "mano_sides": lambda v: (
            isinstance(v, list) and len(v) >= 1 and all(s in ("right", "left") for s in v)
        ),
        "mano_calib": lambda v: isinstance(v, list) and len(v) >= 1,
    }
    expect = {
        "serials": "a list of camera serials",
        "num_frames": "a positive int",
        "mano_sides": "a list of 'right'/'left'",
        "mano_calib": "a list of names",
    }
    for key, ok in checks.items():
        if not ok(meta.get(key)):
            raise annotation_error(path, key, expect[key], meta.get(key))
    return meta


@lru_cache(maxsize=64)
def read_intrinsics(path: str) -> np.ndarray:
    """K (3, 3) from calibration/intrinsics/<serial>_640x480.yml (its 'color' block)."""
    col = read_yaml(Path(path)).get("color")
    if not isinstance(col, dict):
        raise annotation_error(path, "color", "a mapping with fx, fy, ppx, ppy", col)
    vals = [get_array(col, k, (), f"{path} [color]") for k in ("fx", "fy", "ppx", "ppy")]
    fx, fy, cx, cy = (float(v) for v in vals)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@lru_cache(maxsize=256)
def read_betas(path: str) -> np.ndarray:
    """(10,) betas from calibration/mano_<calib>/mano.yml."""
    return get_array(read_yaml(Path(path)), "betas", (10,), path)


def read_labels(path: str | os.PathLike, with_seg: bool = True) -> dict[str, np.ndarray]:
    """labels_%06d.npz checked: joint_3d (21, 3), pose_m (51,), seg (H, W) when present."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(f"annotation file {str(path)!r} does not exist.")
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files if with_seg or k != "seg"}
    except Exception as err:
        raise AnnotationError(f"{path}: cannot be read as an npz ({err}).") from err
    out = {"joint_3d": get_array(data, "joint_3d", (21, 3), path),
           "pose_m": get_array(data, "pose_m", (51,), path)}  # fmt: skip
    if with_seg and "seg" in data:
        out["seg"] = data["seg"]
    return out


def has_hand(joint_3d: np.ndarray) -> bool:
    """False for frames whose joint_3d is the toolkit's 'no hand' fill value (-1)."""
    return not bool(np.all(joint_3d == -1))


class DexYCBNative(RealSetBase):
    """Dex-YCB split (setup s0) from native files; ``record(i)`` -> raw record.

    Args:
        root: the Dex-YCB folder (subjects and calibration/).
        split: "train", "val" or "test" (s0).
        mano: ManoAssets, a MANO folder, "auto" ($HANDOCCNET_MANO_DIR) or None.
        skip_missing: see ``RealSetBase``.
        skip_handless: drop frames without a hand (reads joint_3d of every label once).
    """

    #: Alignment protocol of its evaluation (engine.protocols.PROTOCOLS): HandOccNet's Dex-YCB one.
    eval_protocol = "dexycb"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        mano: ManoAssets | str | os.PathLike | None = "auto",
        skip_missing: bool = False,
        skip_handless: bool = True,
    ) -> None:
        super().__init__(skip_missing)
        subjects, residues = s0_selection(split)
        names = [SUBJECTS[i] for i in subjects]
        self.root = check_root(root, names + ["calibration"], DEXYCB_TREE, "Dex-YCB")
        self.split, self.mano = split, resolve_mano(mano)
        self.samples = []
        for subject in names:
            seqs = sorted(p for p in (self.root / subject).iterdir() if (p / "meta.yml").is_file())
            for i, seq in enumerate(seqs):
                if i % 5 in residues:
                    self.samples += self._sequence_samples(seq)
        self._drop_missing()
        self.n_handless = 0
        if skip_handless:
            keep = [has_hand(read_labels(s["label_path"], False)["joint_3d"]) for s in self.samples]
            self.n_handless = len(keep) - sum(keep)
            self.samples = [s for s, k in zip(self.samples, keep, strict=True) if k]

    def _sequence_samples(self, seq: Path) -> list[dict[str, Any]]:
        meta = read_sequence_meta(seq / "meta.yml")
        serials = [str(s) for s in meta["serials"] if str(s) in SERIALS]
        calib = self.root / "calibration"
        side = meta["mano_sides"][0]
        betas_path = str(calib / f"mano_{meta['mano_calib'][0]}" / "mano.yml")
        return [
            {"image_path": str(seq / ser / f"color_{f:06d}.jpg"),
             "label_path": str(seq / ser / f"labels_{f:06d}.npz"),
             "intr_path": str(calib / "intrinsics" / f"{ser}_640x480.yml"),
             "betas_path": betas_path, "side": side,
             "name": f"{seq.parent.name}/{seq.name}/{ser}/color_{f:06d}.jpg"}
            for ser in serials for f in range(meta["num_frames"])
        ]  # fmt: skip

    def _load(self, idx: int) -> dict[str, Any]:
        s = self.samples[idx]
        lab = read_labels(s["label_path"])
        if not has_hand(lab["joint_3d"]):
            raise AnnotationError(
                f"{s['label_path']}: field 'joint_3d' is -1 (no hand in this frame); build the "
                "dataset with skip_handless=True to leave such frames out."
            )
        K = read_intrinsics(s["intr_path"])
        shape = read_betas(s["betas_path"])
        left = s["side"] == "left"
        pose = None
        if self.mano is not None and self.mano.hands_components is not None:
            hand = self.mano.pca_to_axis_angle(lab["pose_m"][3:48], left=left)
            pose = np.concatenate([lab["pose_m"][:3], hand])
        image = read_image(s["image_path"])
        seg = lab.get("seg")
        mask = seg == 255 if seg is not None and seg.shape == image.shape[:2] else None
        raw = build_record(image, K, lab["joint_3d"], idx, s["image_path"], pose=pose,
                           shape=shape if pose is not None else None, mano=self.mano,
                           left=left, hand_mask=mask)  # fmt: skip
        raw["name"] = s["name"]
        return raw


def unflip_joints(joints: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """(N, 21, 3) joints in the mirrored (right-hand) frame -> the original frame for the samples
    with flipped[n] True (x negated); others unchanged."""
    out = np.array(joints, np.float64)
    out[np.asarray(flipped, bool), :, 0] *= -1
    return out


def evaluate_dexycb(
    pred_joints: np.ndarray, gt_joints: np.ndarray, flipped: np.ndarray | None = None
) -> dict[str, float]:
    """HandOccNet's own Dex-YCB protocol, in **mm** (inputs metres, canonical order).

    pred_joints (N, 21, 3): the network's joints in the record frame (mirrored for left hands),
    absolute or root-relative; gt_joints (N, 21, 3): ground truth in the *original* camera frame
    (left hands not mirrored); flipped (N,) bool. The prediction is made root-relative, flipped
    back (x negated) for left hands, moved onto the GT root; then MPJPE and PA-MPJPE (similarity
    Procrustes, **no reflection**, as HandOccNet's rigid_align) are averaged over samples.
    Returns {"mpjpe", "pa_mpjpe", "auc_root"} (AUC over 0-50 mm of the root-aligned joints).
    """
    from ..metrics import auc_pck, mpjpe, pa_mpjpe

    pred = np.asarray(pred_joints, np.float64)
    gt = np.asarray(gt_joints, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[1:] != (21, 3):
        raise ValueError(
            f"pred_joints and gt_joints must both be (N, 21, 3) metres, got {pred.shape} and "
            f"{gt.shape}."
        )
    flipped = np.zeros(len(pred), bool) if flipped is None else np.asarray(flipped, bool)
    rel = unflip_joints(pred - pred[:, :1], flipped)
    moved = rel + gt[:, :1]  # (N, 21, 3)
    return {
        "mpjpe": float(mpjpe(moved, gt)),
        "pa_mpjpe": float(pa_mpjpe(moved, gt, allow_reflection=False)),
        "auc_root": float(auc_pck(moved, gt)),
    }
