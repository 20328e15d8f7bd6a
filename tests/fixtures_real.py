"""Tiny fixture datasets written in the *native* formats of HO-3D, Dex-YCB and HandOccNet's
COCO-style JSONs (made-up hands from SynthHand, random images; never real data).

Each writer returns a dict of the values a test needs to check the loaders independently of
them (known 2D joints, the OpenGL MANO parameters, which samples are left hands, ...).
Images are small (64 x 48) with intrinsics to match; the loaders do not assume 640 x 480.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from handoccnet_lite.hand import SynthHand
from handoccnet_lite.hand.joints import MANO_PARENTS, canonical_to_ho3d

W, H = 64, 48
K_HO3D = np.array([[90.0, 0.0, 30.5], [0.0, 92.0, 22.0], [0.0, 0.0, 1.0]])
DEX_SUBJECTS = (
    "20200709-subject-01", "20200813-subject-02", "20200820-subject-03", "20200903-subject-04",
    "20200908-subject-05", "20200918-subject-06", "20200928-subject-07", "20201002-subject-08",
    "20201015-subject-09", "20201022-subject-10",
)  # fmt: skip
DEX_SERIAL = "836212060125"
DEX_INTR = {"fx": 88.0, "fy": 90.0, "ppx": 27.25, "ppy": 25.0}  # off-centre: tests the flip


_MODEL: SynthHand | None = None


def hand_model() -> SynthHand:
    """One float64 SynthHand shared by the fixtures (and tests that re-pose the same hands)."""
    global _MODEL
    if _MODEL is None:
        _MODEL = SynthHand(dtype=torch.float64).double().eval()
    return _MODEL


def pose_hand(pose: np.ndarray, betas: np.ndarray, trans: np.ndarray | None = None):
    """(verts (V, 3), joints (21, 3) canonical) of SynthHand, numpy float64."""
    t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)[None]  # noqa: E731
    with torch.no_grad():
        out = hand_model()(t(pose), t(betas), None if trans is None else t(trans))
    return out.vertices[0].numpy(), out.joints[0].numpy()


def random_hand_gl(rng: np.random.Generator, depth: float = 0.5) -> dict[str, np.ndarray]:
    """A hand in HO-3D's OpenGL frame (wrist near (0, 0, -depth)): pose, betas, trans, joints
    (21, 3) canonical, verts."""
    pose = np.concatenate([rng.normal(0, 1.0, 3), rng.normal(0, 0.2, 45)])
    betas = rng.normal(0, 0.5, 10)
    _, j = pose_hand(pose, betas)
    trans = np.array([0.01, -0.015, -depth]) + rng.normal(0, 0.01, 3) - j[0]
    verts, joints = pose_hand(pose, betas, trans)
    return {"pose": pose, "betas": betas, "trans": trans, "joints": joints, "verts": verts}


def ho3d_pixels(K: np.ndarray, xyz_gl: np.ndarray) -> np.ndarray:
    """HO-3D's projection of OpenGL points, written out: u = fx X / -Z + cx, v = -fy Y / -Z + cy."""
    X, Y, Z = xyz_gl[..., 0], xyz_gl[..., 1], xyz_gl[..., 2]
    return np.stack([K[0, 0] * X / -Z + K[0, 2], -K[1, 1] * Y / -Z + K[1, 2]], -1)


def write_image(path: Path, rng: np.random.Generator) -> np.ndarray:
    """A random RGB image written as png/jpg (by suffix); returns the RGB array written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    return rgb


def _pickle(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)  # HO-3D's files are Python 2 pickles


# ----------------------------------------------------------------------------- HO-3D native
def write_ho3d(
    root: Path,
    version: str = "v2",
    seqs: tuple[str, ...] = ("ABF10", "MC1"),
    frames: int = 2,
    eval_seqs: tuple[str, ...] = ("SM1",),
    seed: int = 0,
) -> dict:
    """HO-3D layout with train (len(seqs) x frames) and evaluation (len(eval_seqs) x frames)
    frames, meta pickles with HO-3D's keys and shapes, the split files, and the evaluation GT
    json files (evaluation_xyz.json, evaluation_verts.json in ``root/eval_gt``)."""
    rng = np.random.default_rng(seed)
    ext = ".png" if version == "v2" else ".jpg"
    info: dict = {"train": [], "evaluation": [], "root": root, "ext": ext}
    for split, names in (("train", seqs), ("evaluation", eval_seqs)):
        lines = []
        for seq in names:
            for f in range(frames):
                fid = f"{f:04d}"
                hand = random_hand_gl(rng)
                write_image(root / split / seq / "rgb" / f"{fid}{ext}", rng)
                meta = {"camMat": K_HO3D.astype(np.float32),
                        "objRot": rng.normal(size=(3, 1)).astype(np.float32),
                        "objTrans": np.array([0.0, 0.0, -0.5], np.float32),
                        "objName": "006_mustard_bottle",
                        "objCorners3DRest": rng.normal(size=(8, 3)).astype(np.float32)}  # fmt: skip
                xyz_ho3d = canonical_to_ho3d(hand["joints"])
                if split == "train":
                    meta.update(handPose=hand["pose"].astype(np.float32),
                                handBeta=hand["betas"].astype(np.float32),
                                handTrans=hand["trans"].astype(np.float32),
                                handJoints3D=xyz_ho3d.astype(np.float32))  # fmt: skip
                    # stored in float32: keep the rounded values as the ground truth
                    for k, src in (("pose", "handPose"), ("betas", "handBeta"),
                                   ("trans", "handTrans")):  # fmt: skip
                        hand[k] = meta[src].astype(np.float64)
                    hand["joints"] = canonical_from_ho3d32(meta["handJoints3D"])
                else:
                    uv = ho3d_pixels(K_HO3D, hand["joints"])
                    box = np.r_[uv.min(0) - 2, uv.max(0) + 2]
                    meta.update(handJoints3D=hand["joints"][0].astype(np.float32),
                                handBoundingBox=box.astype(np.float32))  # fmt: skip
                    hand["box"] = box.astype(np.float32).astype(np.float64)
                    hand["root"] = meta["handJoints3D"].astype(np.float64)
                _pickle(root / split / seq / "meta" / f"{fid}.pkl", meta)
                hand["uv"] = ho3d_pixels(K_HO3D, hand["joints"])  # canonical order (21, 2)
                hand["name"] = f"{seq}/{fid}"
                info[split].append(hand)
                lines.append(f"{seq}/{fid}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    gt = root / "eval_gt"
    gt.mkdir(parents=True, exist_ok=True)
    ev = info["evaluation"]
    (gt / "evaluation_xyz.json").write_text(
        json.dumps([canonical_to_ho3d(h["joints"]).tolist() for h in ev]))  # fmt: skip
    (gt / "evaluation_verts.json").write_text(json.dumps([h["verts"].tolist() for h in ev]))
    info["gt_folder"] = gt
    return info


def canonical_from_ho3d32(xyz: np.ndarray) -> np.ndarray:
    """(21, 3) HO-3D order (float32 as stored) -> canonical float64."""
    from handoccnet_lite.hand.joints import ho3d_to_canonical

    return ho3d_to_canonical(np.asarray(xyz, np.float64))


# ----------------------------------------------------------------------------- Dex-YCB native
def project(K: np.ndarray, p: np.ndarray) -> np.ndarray:
    uvw = p @ K.T
    return uvw[..., :2] / uvw[..., 2:]


def dex_side(subject: int, seq: int) -> str:
    """Which fixture sequences hold a left hand."""
    return "left" if (subject + seq) % 2 == 1 else "right"


def random_hand_cv(rng: np.random.Generator, left: bool) -> np.ndarray:
    """(21, 3) canonical joints in the OpenCV frame (z ~ 0.5 m); a left hand is a mirrored
    right hand."""
    pose = np.concatenate([rng.normal(0, 1.0, 3), rng.normal(0, 0.2, 45)])
    _, j = pose_hand(pose, rng.normal(0, 0.5, 10))
    j = j - j[0] + np.array([0.01, 0.0, 0.5]) + rng.normal(0, 0.01, 3)
    if left:
        j[:, 0] = 0.02 - j[:, 0]
    return j


def write_dexycb(root: Path, seqs_per_subject: int = 5, frames: int = 2, seed: int = 0) -> dict:
    """Dex-YCB layout: 10 subjects x seqs_per_subject sequences x 1 camera x frames, meta.yml,
    labels npz (seg, pose_m, joint_3d, joint_2d), colour jpgs and calibration yml files. The
    frame 1 of subject 0's first sequence has no hand (joint_3d = -1). Returns {name: info}."""
    rng = np.random.default_rng(seed)
    K = np.array([[DEX_INTR["fx"], 0, DEX_INTR["ppx"]], [0, DEX_INTR["fy"], DEX_INTR["ppy"]],
                  [0, 0, 1.0]])  # fmt: skip
    calib = root / "calibration"
    (calib / "intrinsics").mkdir(parents=True, exist_ok=True)
    (calib / "intrinsics" / f"{DEX_SERIAL}_640x480.yml").write_text(yaml.safe_dump(
        {"color": DEX_INTR, "depth": DEX_INTR}))  # fmt: skip
    samples: dict[str, dict] = {}
    for si, subject in enumerate(DEX_SUBJECTS):
        side_calib = {}
        for side in ("right", "left"):
            name = f"20200709_140042_subject-{si + 1:02d}_{side}"
            betas = rng.normal(0, 0.5, 10)
            (calib / f"mano_{name}").mkdir(parents=True, exist_ok=True)
            (calib / f"mano_{name}" / "mano.yml").write_text(yaml.safe_dump(
                {"betas": betas.tolist()}))  # fmt: skip
            side_calib[side] = (name, betas)
        for qi in range(seqs_per_subject):
            seq = root / subject / f"2020{si:02d}{qi:02d}_1{qi:05d}"
            side = dex_side(si, qi)
            meta = {"serials": [DEX_SERIAL], "num_frames": frames, "ycb_ids": [1, 5],
                    "ycb_grasp_ind": 0, "mano_sides": [side],
                    "mano_calib": [side_calib[side][0]]}  # fmt: skip
            seq.mkdir(parents=True, exist_ok=True)
            (seq / "meta.yml").write_text(yaml.safe_dump(meta))
            for f in range(frames):
                cam = seq / DEX_SERIAL
                rgb = write_image(cam / f"color_{f:06d}.jpg", rng)
                joints = random_hand_cv(rng, side == "left")
                uv = project(K, joints)
                seg = np.zeros((H, W), np.uint8)
                seg[int(H * 0.3) : int(H * 0.6), 5:20] = 255
                pose_m = np.concatenate([rng.normal(0, 1, 3), rng.normal(0, 1, 45),
                                         joints[0]])[None].astype(np.float32)  # fmt: skip
                handless = si == 0 and qi == 0 and f == 1
                j3 = np.full((1, 21, 3), -1.0, np.float32) if handless else joints[None]
                np.savez(cam / f"labels_{f:06d}.npz", seg=seg, pose_m=pose_m,
                         pose_y=np.zeros((2, 3, 4), np.float32), joint_3d=j3.astype(np.float32),
                         joint_2d=(uv[None] if not handless else -np.ones((1, 21, 2)))
                         .astype(np.float32))  # fmt: skip
                rel = f"{subject}/{seq.name}/{DEX_SERIAL}/color_{f:06d}.jpg"
                samples[rel] = {"subject": si, "seq": qi, "side": side, "handless": handless,
                                "joints": joints.astype(np.float32).astype(np.float64),
                                "uv": uv, "rgb": rgb, "pose_m": pose_m[0].astype(np.float64),
                                "betas": side_calib[side][1], "K": K}  # fmt: skip
    return {"root": root, "samples": samples, "K": K}


# ----------------------------------------------------------------------------- MANO stand-in
def fake_mano_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Random arrays with MANO_RIGHT's keys and shapes (never real MANO weights)."""
    rng = np.random.default_rng(seed)
    V = 778
    weights = rng.random((V, 16)) ** 4
    j_reg = rng.random((16, V)) * (rng.random((16, V)) < 0.05)
    j_reg[:, 0] += 1e-3
    return {
        "v_template": rng.normal(scale=0.04, size=(V, 3)),
        "shapedirs": rng.normal(scale=1e-3, size=(V, 3, 10)),
        "posedirs": rng.normal(scale=1e-3, size=(V, 3, 135)),
        "J_regressor": j_reg / j_reg.sum(1, keepdims=True),
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": np.array(
            [[4294967295] + list(MANO_PARENTS[1:]), list(range(16))], dtype=np.uint32
        ),  # fmt: skip
        "f": rng.integers(0, V, size=(1538, 3)).astype(np.uint32),
        "hands_components": rng.normal(size=(45, 45)),
        "hands_mean": rng.normal(scale=0.2, size=45),
    }


# ----------------------------------------------------------------------------- COCO JSONs
def _coco(images: list[dict], anns: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": anns}))


def _cam(K: np.ndarray) -> dict:
    return {"focal": [K[0, 0], K[1, 1]], "princpt": [K[0, 2], K[1, 2]]}


def write_ho3d_json(root: Path, n_train: int = 3, n_eval: int = 2, seed: int = 0) -> dict:
    """HandOccNet's HO-3D folder: annotations/HO3D_{train,evaluation}_data.json and images
    under {train,evaluation}/SEQ/rgb/ (file_name relative to ROOT/<split>)."""
    rng = np.random.default_rng(seed)
    info: dict = {"root": root, "train": [], "evaluation": []}
    for split, n in (("train", n_train), ("evaluation", n_eval)):
        images, anns = [], []
        for i in range(n):
            rel = f"SEQ{i % 2}/rgb/{i:04d}.png"
            write_image(root / split / rel, rng)
            joints = random_hand_cv(rng, left=False)
            images.append({"id": 10 + i, "file_name": rel, "width": W, "height": H})
            ann = {"id": 100 + i, "image_id": 10 + i, "cam_param": _cam(K_HO3D)}
            item = {"joints": joints, "uv": project(K_HO3D, joints), "file_name": rel}
            if split == "train":
                pose, shape = rng.normal(0, 0.3, 48), rng.normal(0, 0.5, 10)
                ann.update(
                    joints_coord_cam=joints.tolist(),
                    mano_param={"pose": pose.tolist(), "shape": shape.tolist()},
                )
                item.update(pose=pose, shape=shape)
            else:
                uv = item["uv"]
                bbox = [*(uv.min(0) - 1), *(uv.max(0) - uv.min(0) + 2)]
                ann.update(root_joint_cam=joints[0].tolist(), bbox=bbox)
                item["bbox"] = np.array(bbox)
            anns.append(ann)
            info[split].append(item)
        _coco(images, anns, root / "annotations" / f"HO3D_{split}_data.json")
    return info


def write_dexycb_json(root: Path, n_train: int = 4, n_test: int = 2, seed: int = 0) -> dict:
    """HandOccNet's Dex-YCB folder: annotations/DEX_YCB_s0_{train,test}_data.json with
    hand_type alternating right/left, and images at ROOT/SUBJECT/SEQ/SERIAL/color_*.jpg."""
    rng = np.random.default_rng(seed)
    K = np.array([[DEX_INTR["fx"], 0, DEX_INTR["ppx"]], [0, DEX_INTR["fy"], DEX_INTR["ppy"]],
                  [0, 0, 1.0]])  # fmt: skip
    info: dict = {"root": root, "K": K, "train": [], "test": []}
    for split, n in (("train", n_train), ("test", n_test)):
        images, anns = [], []
        for i in range(n):
            side = "left" if i % 2 else "right"
            rel = f"{DEX_SUBJECTS[2]}/20200820_1355{i:02d}/{DEX_SERIAL}/color_{i:06d}.jpg"
            rgb = write_image(root / rel, rng)
            joints = random_hand_cv(rng, side == "left")
            uv = project(K, joints)
            pose, shape = rng.normal(0, 0.3, 48), rng.normal(0, 0.5, 10)
            images.append({"id": i, "file_name": rel, "width": W, "height": H})
            mano_param = {"pose": pose.tolist(), "shape": shape.tolist()}
            anns.append({"id": i, "image_id": i, "joints_coord_cam": joints.tolist(),
                         "joints_img": uv.tolist(), "hand_type": side, "cam_param": _cam(K),
                         "mano_param": mano_param})  # fmt: skip
            info[split].append({"joints": joints, "uv": uv, "side": side, "rgb": rgb,
                                "pose": pose, "shape": shape})  # fmt: skip
        _coco(images, anns, root / "annotations" / f"DEX_YCB_s0_{split}_data.json")
    return info
