"""Dex-YCB native loader (split s0, left-hand flip, PCA pose) and HandOccNet's Dex-YCB eval."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import yaml
from fixtures_real import DEX_SUBJECTS, W, fake_mano_arrays, write_dexycb

from handoccnet_lite.data.dexycb import DexYCBNative, evaluate_dexycb, s0_selection
from handoccnet_lite.data.mano_assets import ManoAssets
from handoccnet_lite.data.realsets import AnnotationError, DatasetRootError, ImageReadError
from handoccnet_lite.data.records import project


@pytest.fixture(scope="module")
def dex(tmp_path_factory):
    return write_dexycb(tmp_path_factory.mktemp("dexycb"))


@pytest.fixture(scope="module")
def mano():
    return ManoAssets.from_arrays(fake_mano_arrays())


def test_s0_split_counts(dex):
    # 10 subjects x 5 sequences x 1 camera x 2 frames; one train frame has no hand
    counts = {s: len(DexYCBNative(dex["root"], s, mano=None)) for s in ("train", "val", "test")}
    assert counts == {"train": 10 * 4 * 2 - 1, "val": 2 * 1 * 2, "test": 8 * 1 * 2}
    ds = DexYCBNative(dex["root"], "train", mano=None)
    assert ds.n_handless == 1
    assert len(DexYCBNative(dex["root"], "train", mano=None, skip_handless=False)) == 80
    subjects = {int(s["name"][17:19]) - 1 for s in DexYCBNative(dex["root"], "val", None).samples}
    assert subjects == {0, 1}
    names = [s["name"] for s in DexYCBNative(dex["root"], "test", mano=None).samples]
    assert all(n.split("/")[1].endswith("00004") for n in names)  # sequence index 4 only
    assert s0_selection("test") == (list(range(2, 10)), [4])


def test_records_shapes_units_and_no_mano(dex):
    ds = DexYCBNative(dex["root"], "val", mano=None)
    for i in range(len(ds)):
        raw = ds.record(i)
        ref = dex["samples"][raw["name"]]
        assert raw["joints_cam"].shape == (21, 3) and (raw["joints_cam"][:, 2] > 0.3).all()
        assert raw["has_mano"] == 0.0 and raw["verts_cam"].shape == (0, 3)
        assert not raw["pose"].any() and not raw["shape"].any()  # unknown without MANO
        assert raw["hand_mask"].shape == (48, 64) and raw["hand_mask"].sum() > 0
        sign = np.array([-1.0, 1, 1]) if ref["side"] == "left" else np.ones(3)
        np.testing.assert_allclose(raw["joints_cam"], ref["joints"] * sign, atol=1e-6)


def test_left_hand_flip_is_consistent(dex):
    ds = DexYCBNative(dex["root"], "train", mano=None)
    seen = set()
    for i in range(0, len(ds), 7):
        raw = ds.record(i)
        ref = dex["samples"][raw["name"]]
        seen.add(ref["side"])
        left = ref["side"] == "left"
        assert raw["flipped"] == left
        uv = ref["uv"].copy()  # the annotated 2D joints in the original image
        if left:
            uv[:, 0] = W - 1 - uv[:, 0]
        # flipped 2D == projection of flipped 3D with the flipped intrinsics
        np.testing.assert_allclose(project(raw["K"], raw["joints_cam"]), uv, atol=1e-3)
        orig = cv2.imread(raw["image_path"])[:, :, ::-1]
        np.testing.assert_array_equal(raw["image"], orig[:, ::-1] if left else orig)
        box = raw["hand_box"]
        assert (uv.min(0) >= box[:2] - 1e-3).all() and (uv.max(0) <= box[2:] + 1e-3).all()
    assert seen == {"left", "right"}


def test_pca_pose_with_mano(dex, mano):
    ds = DexYCBNative(dex["root"], "test", mano=mano)
    sides = set()
    for i in range(len(ds)):
        raw = ds.record(i)
        ref = dex["samples"][raw["name"]]
        sides.add(ref["side"])
        coeffs = ref["pose_m"][3:48]
        hand = mano.hands_mean + coeffs @ mano.hands_components
        pose = np.r_[ref["pose_m"][:3], hand]
        if ref["side"] == "left":
            # left model = mirror of the right (no MANO_LEFT given): its hand pose is
            # mirror(hand); flipping to a right hand mirrors everything again
            pose = np.r_[ref["pose_m"][:3] * [1, -1, -1], hand]
        assert raw["has_mano"] == 1.0 and raw["has_verts"] == 1.0
        np.testing.assert_allclose(raw["pose"], pose, atol=1e-5)
        np.testing.assert_allclose(raw["shape"], ref["betas"], atol=1e-6)
        assert raw["verts_cam"].shape == (778, 3)
        # the mesh's wrist sits on the annotated wrist
        out = mano.mesh(raw["pose"], raw["shape"], raw["joints_cam"][0])
        np.testing.assert_allclose(raw["verts_cam"], out, atol=1e-5)
    assert sides == {"left", "right"}


def test_evaluate_dexycb_protocol(dex):
    ds = DexYCBNative(dex["root"], "test", mano=None)
    recs = [ds.record(i) for i in range(len(ds))]
    flipped = np.array([r["flipped"] for r in recs])
    gt_orig = np.stack([dex["samples"][r["name"]]["joints"] for r in recs])  # original frame
    pred = np.stack([r["joints_cam"] for r in recs]).astype(np.float64)  # record (right) frame
    assert flipped.any()
    res = evaluate_dexycb(pred - pred[:, :1], gt_orig, flipped)  # root-relative predictions
    assert res["mpjpe"] == pytest.approx(0, abs=1e-3) and res["pa_mpjpe"] < 1e-3
    assert res["auc_root"] > 0.99
    # not flipping back would be wrong for the left hands
    wrong = evaluate_dexycb(pred, gt_orig, np.zeros_like(flipped))
    assert wrong["mpjpe"] > 5.0
    # PA without reflection: a mirrored prediction is NOT aligned away
    mirrored = gt_orig * [-1, 1, 1]
    assert evaluate_dexycb(mirrored, gt_orig)["pa_mpjpe"] > 1.0


# ----------------------------------------------------------------------------- bad input
def test_missing_root_and_subject_show_tree(tmp_path):
    with pytest.raises(DatasetRootError, match=r"(?s)does not exist.*labels_000000\.npz"):
        DexYCBNative(tmp_path / "nowhere", mano=None)
    (tmp_path / "calibration").mkdir()
    with pytest.raises(DatasetRootError, match=f"(?s)lacks.*{DEX_SUBJECTS[0]}.*meta.yml"):
        DexYCBNative(tmp_path, mano=None)


def test_bad_meta_and_labels_named(tmp_path):
    write_dexycb(tmp_path, seqs_per_subject=5, frames=1)
    seq = sorted((tmp_path / DEX_SUBJECTS[2]).iterdir())[4]
    meta = yaml.safe_load((seq / "meta.yml").read_text())
    bad = dict(meta, num_frames="two")
    (seq / "meta.yml").write_text(yaml.safe_dump(bad))
    with pytest.raises(AnnotationError, match=r"meta\.yml: field 'num_frames'"):
        DexYCBNative(tmp_path, "test", mano=None)
    (seq / "meta.yml").write_text(yaml.safe_dump(meta))
    lab = seq / "836212060125" / "labels_000000.npz"
    with np.load(lab) as z:
        arrays = dict(z)
    arrays["joint_3d"] = arrays["joint_3d"][:, :20]
    np.savez(lab, **arrays)
    with pytest.raises(AnnotationError, match=r"labels_000000\.npz: field 'joint_3d'"):
        DexYCBNative(tmp_path, "test", mano=None)


def test_missing_and_corrupt_images(tmp_path):
    write_dexycb(tmp_path, seqs_per_subject=5, frames=1)
    ds = DexYCBNative(tmp_path, "val", mano=None)
    assert len(ds) == 2
    img = ds.samples[0]["image_path"]
    (tmp_path / img).unlink()
    with pytest.raises(ImageReadError, match="color_000000.jpg.*does not exist"):
        DexYCBNative(tmp_path, "val", mano=None).record(0)
    skipping = DexYCBNative(tmp_path, "val", mano=None, skip_missing=True)
    assert len(skipping) == 1 and skipping.skipped == [img]
    other = skipping.samples[0]["image_path"]
    open(other, "wb").write(b"\xff\xd8 broken jpeg")
    with pytest.raises(ImageReadError, match="cannot be decoded"):
        DexYCBNative(tmp_path, "val", mano=None).record(1)
