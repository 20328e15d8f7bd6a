"""HO-3D submission export (CodaLab server format) and local evaluation with the released GT.

**Export.** The package's predictions are canonical order, OpenCV camera frame, metres. The
official server (github shreyashampali/ho3d, eval.py / pred.py) expects ``pred.json`` =
``[xyz list (N x 21 x 3), verts list (N x V x 3)]`` in metres, **HO-3D joint order** (16 MANO
joints then tips thumb, index, middle, ring, pinky) and the **OpenGL** camera frame (y and z
negated, hand at negative z), N in the order of evaluation.txt, zipped as ``pred.zip`` with
pred.json at the top (``zip -j``). HandOccNet first moves its root-relative predictions onto the
ground-truth wrist that HO-3D gives for each evaluation frame (``gt_root``).

**Local evaluation.** HO-3D released the evaluation ground truth in 2024 in the server's own
reference format: ``evaluation_xyz.json`` and ``evaluation_verts.json`` (lists, OpenGL, HO-3D
order, metres). ``evaluate_ho3d`` follows eval.py with the package's metrics:

* unaligned errors: the prediction as submitted (already on the GT root), no further alignment;
* Procrustes with scale (similarity), **reflection allowed** as scipy's orthogonal_procrustes
  in eval.py (``allow_reflection=True``), joints aligned on joints;
* scale-translation alignment: scale by the wrist -> middle1 bone, then the wrist;
* the mesh is aligned by its own Procrustes on the vertices (when the prediction has the GT's
  vertex count; otherwise, as eval.py, the joints' transform is applied to the vertices and the
  vertex errors are not defined: NaN);
* F@5 mm and F@15 mm on the vertices, unaligned and aligned (papers quote the aligned ones).
  The official alignment is defined for MANO meshes (778 vertices, MANO's order); for a mesh
  with another vertex count (SynthHand) the aligned F-score here (vertices moved by the joints'
  transform) differs from the official one and is not comparable with published numbers;
* AUC of the 3D PCK over 0-50 mm in 100 thresholds (per keypoint, then averaged).

Every error here is in **millimetres**; eval.py prints centimetres (divide by 10 to compare).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..hand.joints import canonical_to_ho3d, ho3d_to_canonical

GL = np.array([1.0, -1.0, -1.0])  # OpenCV <-> OpenGL (its own inverse)
EVAL_COUNTS = {"v2": 11524, "v3": 20137}  # frames in evaluation.txt
PRED_JSON = "pred.json"
GT_FILES = ("evaluation_xyz.json", "evaluation_verts.json")


def _as_points(x, name: str, count: int | None = None) -> np.ndarray:
    arr = np.asarray(x, np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3 or (count is not None and arr.shape[1] != count):
        need = f"(N, {count}, 3)" if count else "(N, P, 3)"
        raise ValueError(f"{name} must be an array of shape {need} in metres, got {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or inf values; every prediction must be finite.")
    return arr


def to_submission(
    joints: np.ndarray, verts: np.ndarray, gt_root: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical OpenCV (N, 21, 3), (N, V, 3) -> HO-3D order OpenGL arrays.

    gt_root (N, 3) OpenCV: when given, both are first shifted so that the predicted wrist sits on
    it (HandOccNet's protocol; HO-3D gives the wrist of each evaluation frame).
    """
    j = _as_points(joints, "joints", 21)
    v = _as_points(verts, "verts")
    if len(v) != len(j):
        raise ValueError(f"joints and verts must have the same N, got {len(j)} and {len(v)}.")
    if gt_root is not None:
        root = np.asarray(gt_root, np.float64)
        if root.shape != (len(j), 3):
            raise ValueError(f"gt_root must be (N, 3) = ({len(j)}, 3), got {root.shape}.")
        shift = (root - j[:, 0])[:, None]  # (N, 1, 3)
        j, v = j + shift, v + shift
    return canonical_to_ho3d(j) * GL, v * GL


def from_submission(xyz: np.ndarray, verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HO-3D order OpenGL -> canonical OpenCV (the inverse of ``to_submission`` without shift)."""
    x = _as_points(xyz, "xyz", 21)
    v = _as_points(verts, "verts")
    return ho3d_to_canonical(x * GL), v * GL


def write_submission(
    out_zip: str | os.PathLike,
    joints: np.ndarray,
    verts: np.ndarray,
    gt_root: np.ndarray | None = None,
    version: str | None = None,
) -> Path:
    """Write ``pred.zip`` holding ``pred.json`` (server format) from canonical OpenCV metres.

    version "v2" / "v3": check N against evaluation.txt's length (11,524 / 20,137).
    Raises when the converted predictions are not in front of an OpenGL camera (z < 0), the
    server's own sanity check (usually: predictions were root-relative and gt_root was omitted,
    or not in metres).
    """
    xyz, v = to_submission(joints, verts, gt_root)
    if version is not None and len(xyz) != EVAL_COUNTS[version]:
        raise ValueError(
            f"HO-3D {version} evaluation has {EVAL_COUNTS[version]} frames (evaluation.txt), "
            f"got {len(xyz)} predictions; predict every frame, in evaluation.txt order."
        )
    if np.all(xyz[..., 2] > 0) or np.all(v[..., 2] > 0):
        raise ValueError(
            "after conversion to OpenGL every point has z > 0, i.e. behind the camera: pass "
            "absolute OpenCV predictions in metres, or root-relative ones with gt_root."
        )
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps([xyz.tolist(), v.tolist()])
    with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(PRED_JSON, payload)
    return out_zip


def read_submission(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(xyz (N, 21, 3), verts (N, V, 3)) in HO-3D order / OpenGL from pred.zip or pred.json."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no submission file at {path}.")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if PRED_JSON not in zf.namelist():
                raise ValueError(f"{path} must hold {PRED_JSON} at its top level, has "
                                 f"{zf.namelist()}.")  # fmt: skip
            data = json.loads(zf.read(PRED_JSON))
    else:
        data = json.loads(path.read_text())
    if not (isinstance(data, list) and len(data) == 2):
        raise ValueError(f"{path}: expected [xyz list, verts list], got another structure.")
    return _as_points(data[0], "xyz", 21), _as_points(data[1], "verts")


def load_eval_ground_truth(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """HO-3D's released evaluation GT -> canonical OpenCV (xyz (N, 21, 3), verts (N, 778, 3)).

    folder holds evaluation_xyz.json and evaluation_verts.json (OpenGL, HO-3D order, metres).
    """
    folder = Path(folder)
    missing = [f for f in GT_FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {missing}. Expected the evaluation ground truth HO-3D released in "
            f"2024:\n  {folder}/\n    {GT_FILES[0]}\n    {GT_FILES[1]}"
        )
    xyz, verts = (json.loads((folder / f).read_text()) for f in GT_FILES)
    return from_submission(np.asarray(xyz), np.asarray(verts))


def _transform_from_joints(pred_j: np.ndarray, aligned_j: np.ndarray, pts: np.ndarray):
    """Apply the affine map taking pred_j to aligned_j (a similarity, fitted exactly) to pts.
    pred_j, aligned_j (N, J, 3); pts (N, P, 3) -> (N, P, 3)."""
    ones = np.ones(pred_j.shape[:2] + (1,))
    W = np.linalg.pinv(np.concatenate([pred_j, ones], -1)) @ aligned_j  # (N, 4, 3)
    return np.concatenate([pts, np.ones(pts.shape[:2] + (1,))], -1) @ W


def evaluate_ho3d(
    pred_joints: np.ndarray,
    pred_verts: np.ndarray,
    gt_joints: np.ndarray,
    gt_verts: np.ndarray,
) -> dict[str, float]:
    """HO-3D's official protocol (module docstring) on canonical OpenCV metres; results in mm.

    Inputs (N, 21, 3) / (N, V, 3) as submitted (i.e. already on the GT root). Keys: mpjpe,
    pa_mpjpe, st_mpjpe, auc_j, pa_auc_j, st_auc_j, mpvpe, pa_mpvpe, auc_v, pa_auc_v, f5, f15
    (aligned mesh), f5_unaligned, f15_unaligned. AUCs and F-scores are fractions. The aligned
    f5/f15 equal the official ones only for MANO meshes (V = 778; see the module docstring).
    """
    from ..metrics import HO3D_F_THRESHOLDS_M, auc_pck, f_score, mpjpe, mpvpe, procrustes_align

    pj, gj = _as_points(pred_joints, "pred_joints", 21), _as_points(gt_joints, "gt_joints", 21)
    pv, gv = _as_points(pred_verts, "pred_verts"), _as_points(gt_verts, "gt_verts")
    if not len(pj) == len(gj) == len(pv) == len(gv):
        raise ValueError(f"need the same N everywhere, got {len(pj)}, {len(gj)}, {len(pv)}, "
                         f"{len(gv)} (pred joints, gt joints, pred verts, gt verts).")  # fmt: skip
    out: dict[str, float] = {}
    for tag, align in (("", "none"), ("pa_", "procrustes"), ("st_", "scale_translation")):
        kw = {"align": align, "allow_reflection": True}
        out[f"{tag}mpjpe"] = float(mpjpe(pj, gj, **kw))
        out[f"{tag}auc_j"] = float(auc_pck(pj, gj, **kw))
    same_mesh = pv.shape[1] == gv.shape[1]
    if same_mesh:
        aligned_v = procrustes_align(pv, gv, allow_reflection=True)  # (N, V, 3)
        for tag, align in (("", "none"), ("pa_", "procrustes")):
            out[f"{tag}mpvpe"] = float(mpvpe(pv, gv, align=align, allow_reflection=True))
        out["auc_v"] = float(auc_pck(pv, gv))
        out["pa_auc_v"] = float(auc_pck(pv, gv, align="procrustes", allow_reflection=True))
    else:
        aligned_j = procrustes_align(pj, gj, allow_reflection=True)
        aligned_v = _transform_from_joints(pj, aligned_j, pv)
        out.update(mpvpe=np.nan, pa_mpvpe=np.nan, auc_v=np.nan, pa_auc_v=np.nan)
    for th in HO3D_F_THRESHOLDS_M:
        mm = f"{th * 1000:g}"
        out[f"f{mm}"] = float(np.mean(f_score(aligned_v, gv, th)))
        out[f"f{mm}_unaligned"] = float(np.mean(f_score(pv, gv, th)))
    return out


def evaluate_submission(
    submission: str | os.PathLike, gt_folder: str | os.PathLike
) -> dict[str, float]:
    """Score a pred.zip / pred.json against HO-3D's released evaluation GT folder (mm)."""
    xyz, verts = read_submission(submission)
    gt_j, gt_v = load_eval_ground_truth(gt_folder)
    if len(xyz) != len(gt_j):
        raise ValueError(f"{submission} has {len(xyz)} frames, the ground truth {len(gt_j)}; "
                         "predict every frame of evaluation.txt, in order.")  # fmt: skip
    pj, pv = from_submission(xyz, verts)
    return evaluate_ho3d(pj, pv, gt_j, gt_v)
