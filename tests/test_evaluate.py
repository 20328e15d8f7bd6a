"""Evaluation helpers: the Procrustes mean, the prediction spread, the two constant baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from handoccnet_lite.engine import evaluate as ev
from handoccnet_lite.engine import protocols
from handoccnet_lite.hand.sampler import random_rotations
from handoccnet_lite.model.rotations import axis_angle_to_matrix


def _rotations(n: int, seed: int) -> np.ndarray:
    """(n, 3, 3) rotations uniform on SO(3)."""
    aa = random_rotations(n, torch.Generator().manual_seed(seed))
    return axis_angle_to_matrix(aa).double().numpy()


def _hand(rng: np.random.Generator, n_pts: int) -> np.ndarray:
    """(n_pts, 3) an irregular rigid point set of hand size (metres), wrist at the origin."""
    pts = rng.normal(0, 0.04, (n_pts, 3))
    return pts - pts[0]


class _Hands(Dataset):
    """Items with the keys the baselines and evaluation read, from given root-relative hands."""

    def __init__(self, joints: np.ndarray, verts: np.ndarray, offset: np.ndarray) -> None:
        self.j, self.v, self.o = joints, verts, offset  # (N, 21, 3), (N, V, 3), (N, 3)

    def __len__(self) -> int:
        return len(self.j)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        o = torch.tensor(self.o[i], dtype=torch.float32)
        return {
            "joints_cam": torch.tensor(self.j[i], dtype=torch.float32) + o,
            "verts_cam": torch.tensor(self.v[i], dtype=torch.float32) + o,
            "index": torch.tensor(i),
            "occlusion": torch.tensor(0.2),
            "joints_vis": torch.ones(21),
        }


def _rotated_copies(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One rigid hand (joints (21, 3), verts (30, 3)) under n uniform rotations, plus offsets."""
    rng = np.random.default_rng(seed)
    hand = _hand(rng, 51)
    rot = _rotations(n, seed)
    posed = np.einsum("nij,pj->npi", rot, hand)  # (n, 51, 3)
    posed -= posed[:, :1]
    offset = rng.normal(0, 0.1, (n, 3)) + [0, 0, 0.5]
    return hand, posed[:, :21], posed[:, 21:], offset


def test_procrustes_mean_recovers_the_shape_under_random_rotations() -> None:
    hand, joints, verts, _ = _rotated_copies(64, 0)
    mean = ev.procrustes_mean(np.concatenate([joints, verts], 1))  # (51, 3), centred
    centred = hand - hand.mean(0)
    from handoccnet_lite.metrics import procrustes_align

    aligned = procrustes_align(mean, centred, scale=False)
    assert np.abs(aligned - centred).max() < 1e-6  # the same shape, up to a rotation
    # whereas the plain average of the rotated copies shrinks towards a point
    plain = np.concatenate([joints, verts], 1).mean(0)
    assert (
        np.linalg.norm(plain - plain.mean(0), axis=1).mean()
        < 0.5 * np.linalg.norm(centred, axis=1).mean()
    )
    with pytest.raises(ValueError, match=r"\(N, P, 3\)"):
        ev.procrustes_mean(np.zeros((4, 21)))


def test_rigid_spread_is_zero_for_a_constant_and_positive_for_varied_hands() -> None:
    rng = np.random.default_rng(1)
    hand = _hand(rng, 21)
    rotated = np.einsum("nij,pj->npi", _rotations(16, 1), hand)  # same shape, many poses
    assert ev.rigid_spread_mm(rotated).max() < 1e-3  # mm
    varied = rotated + rng.normal(0, 0.005, rotated.shape)  # 5 mm per-axis shape noise
    spread = ev.rigid_spread_mm(varied)
    assert spread.shape == (16,) and 4 < spread.mean() < 12
    assert ev.rigid_spread_mm(hand[None]).tolist() == [0.0]


def test_mean_hand_baseline_beats_the_camera_mean_under_random_orientations(
    tmp_path: Path,
) -> None:
    hand, joints, verts, offset = _rotated_copies(48, 2)
    rng = np.random.default_rng(3)
    noisy_j = joints + rng.normal(0, 0.003, joints.shape)  # articulation noise per sample
    data = _Hands(noisy_j, verts, offset)
    camera = ev.MeanPoseBaseline.fit(data, batch_size=16, frame="camera")
    hand_base = ev.MeanPoseBaseline.fit(data, batch_size=16, frame="hand")
    assert (camera.name, hand_base.name) == ("mean pose", "mean hand")
    assert np.allclose(hand_base.joints[0], 0, atol=1e-7)  # root-relative like predictions
    res = {
        b.name: ev.summary_table(ev.evaluate_baseline(b, data, batch_size=16)).iloc[0]
        for b in (camera, hand_base)
    }
    # the camera-frame average is nearly a point; the hand-frame one is the rigid hand (+ noise)
    assert res["mean hand"]["pa_mpjpe"] < 0.5 * res["mean pose"]["pa_mpjpe"]
    assert res["mean hand"]["pa_mpjpe"] < 6.0  # mm: about the 3 mm per-axis noise
    for r in res.values():  # a constant predicts one hand: no spread; the truth varies
        assert r["pred_spread"] < 1e-3 and r["gt_spread"] > 2.0
    path = tmp_path / "mean_hand.npz"
    hand_base.save(path)
    loaded = ev.MeanPoseBaseline.load(path)
    assert loaded.frame == "hand" and np.array_equal(loaded.verts, hand_base.verts)
    with pytest.raises(ValueError, match="frame must be one of"):
        ev.MeanPoseBaseline.fit(data, frame="world")


def test_mean_hand_on_a_strided_subset_of_a_large_set(monkeypatch) -> None:
    _, joints, verts, offset = _rotated_copies(48, 4)  # one rigid hand, 48 orientations
    full = ev.MeanPoseBaseline.fit(_Hands(joints, verts, offset), frame="hand")
    monkeypatch.setattr(ev, "MAX_HANDS_FOR_MEAN", 10)  # every 5th hand: 10 of 48
    sub = ev.MeanPoseBaseline.fit(_Hands(joints, verts, offset), frame="hand")
    assert np.abs(sub.joints - full.joints).max() < 1e-5  # the same rigid hand either way


def test_old_baseline_files_load_as_camera_frame(tmp_path: Path) -> None:
    path = tmp_path / "mean_pose.npz"
    np.savez(path, joints=np.zeros((21, 3)), verts=np.zeros((30, 3)))  # written before `frame`
    assert ev.MeanPoseBaseline.load(path).frame == "camera"


# ----------------------------------------------------------------------------- protocols
class _Labelled(_Hands):
    """_Hands that names its evaluation protocol, as the package's datasets do."""

    def __init__(self, *args, protocol: str) -> None:
        super().__init__(*args)
        self.eval_protocol = protocol


def _mirrored_set(n: int = 4) -> tuple[_Hands, np.ndarray, np.ndarray]:
    """Hands and their mirror images (x negated): a reflection aligns them exactly."""
    _, joints, verts, offset = _rotated_copies(n, seed=3)
    mirror = np.array([-1.0, 1.0, 1.0])
    return (joints, verts, offset), joints * mirror, verts * mirror


def _constant(pred_j: np.ndarray, pred_v: np.ndarray) -> ev.Predictor:
    def predict(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        i = batch["index"]
        return torch.as_tensor(pred_j[i]).float(), torch.as_tensor(pred_v[i]).float()

    return predict


def test_each_dataset_names_its_own_protocol(tmp_path: Path) -> None:
    from fixtures_real import write_ho3d_json
    from torch.utils.data import Subset

    from handoccnet_lite.data.coco_json import HandOccNetJSON
    from handoccnet_lite.data.dataset import SynthOccDataset
    from handoccnet_lite.data.dexycb import DexYCBNative
    from handoccnet_lite.data.ho3d import HO3DNative
    from handoccnet_lite.data.realsets import RealHandDataset
    from handoccnet_lite.engine.ablation import FeatureDataset

    assert ev.resolve_protocol(None, HO3DNative).allow_reflection  # official eval.py
    assert not ev.resolve_protocol(None, DexYCBNative).allow_reflection  # HandOccNet's Dex-YCB
    assert protocols.dataset_protocol(DexYCBNative) == "dexycb"
    assert protocols.PROTOCOLS["dexycb_toolkit"].allow_reflection
    for synth in (SynthOccDataset, FeatureDataset):
        assert protocols.dataset_protocol(synth) == "synthocc"
        assert not ev.resolve_protocol(None, synth).allow_reflection  # as committed results
    info = write_ho3d_json(tmp_path / "ho3d", n_train=1, n_eval=1)
    wrapped = Subset(RealHandDataset(HandOccNetJSON.ho3d(info["root"], "train", mano=None)), [0])
    assert protocols.dataset_protocol(wrapped) == "ho3d"  # through the Subset and the loader
    assert protocols.dataset_protocol(_Hands(*_mirrored_set()[0])) == protocols.DEFAULT_PROTOCOL
    with pytest.raises(ValueError, match="Unknown evaluation protocol"):
        ev.resolve_protocol("ho-3d")


def test_records_and_results_carry_the_protocol_and_reflections_help() -> None:
    """Default = the dataset's protocol, recorded per sample and in results_record; on mirrored
    hands, allowing reflections gives no larger errors (here ~0) than forbidding them."""
    arrays, pred_j, pred_v = _mirrored_set()
    ho3d = _Labelled(*arrays, protocol="ho3d")
    allowed = ev.evaluate_predictor(_constant(pred_j, pred_v), ho3d, 2, "cpu", False)
    assert set(allowed["alignment"]) == {"ho3d"} and allowed["allow_reflection"].all()
    forbidden = ev.evaluate_predictor(
        _constant(pred_j, pred_v), ho3d, 2, "cpu", False, protocol="synthocc"
    )
    assert not forbidden["allow_reflection"].any()
    for col in ("pa_mpjpe", "pa_mpvpe"):
        assert (allowed[col] <= forbidden[col] + 1e-6).all()
        assert allowed[col].max() < 1e-3 < forbidden[col].min()  # mm: exact vs not
    assert (allowed["f5"] >= forbidden["f5"]).all() and allowed["f5"].min() == 1.0
    record = ev.results_record(allowed)
    assert record["alignment"] == {"protocol": "ho3d", "allow_reflection": True}
    assert record["n"] == len(allowed) and record["pa_mpjpe"] < 1e-3
    with pytest.raises(ValueError, match="mix evaluation protocols"):
        ev.results_record(pd.concat([allowed, forbidden]))
