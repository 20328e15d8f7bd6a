"""HandOccNet's COCO-style JSONs (HO-3D, Dex-YCB s0) read with json, on tiny fixtures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures_real import K_HO3D, W, fake_mano_arrays, write_dexycb_json, write_ho3d_json

from handoccnet_lite.data.coco_json import HandOccNetJSON, load_coco_json
from handoccnet_lite.data.mano_assets import ManoAssets
from handoccnet_lite.data.realsets import (
    AnnotationError,
    DatasetRootError,
    ImageReadError,
    RealHandDataset,
)
from handoccnet_lite.data.records import project


@pytest.fixture(scope="module")
def ho3d(tmp_path_factory):
    return write_ho3d_json(tmp_path_factory.mktemp("ho3d_json"))


@pytest.fixture(scope="module")
def dex(tmp_path_factory):
    return write_dexycb_json(tmp_path_factory.mktemp("dex_json"))


@pytest.fixture(scope="module")
def mano():
    return ManoAssets.from_arrays(fake_mano_arrays())


def test_ho3d_train_records(ho3d):
    ds = HandOccNetJSON.ho3d(ho3d["root"], "train", mano=None)
    assert len(ds) == 3
    for i, ref in enumerate(ho3d["train"]):
        raw = ds.record(i)
        np.testing.assert_allclose(raw["K"], K_HO3D)
        np.testing.assert_allclose(raw["joints_cam"], ref["joints"], atol=1e-6)
        np.testing.assert_allclose(raw["joints_2d"], ref["uv"], atol=1e-3)
        assert raw["has_mano"] == 0.0 and raw["has_joints"] == 1.0  # no MANO: no hands_mean
        assert raw["image"].shape == (48, 64, 3) and raw["name"] == ref["file_name"]


def test_ho3d_pose_convention_with_mano(ho3d, mano):
    ds = HandOccNetJSON.ho3d(ho3d["root"], "train", mano=mano)
    raw = ds.record(0)
    ref = ho3d["train"][0]
    expected = ref["pose"] + np.r_[0, 0, 0, mano.hands_mean]  # layer adds hands_mean
    np.testing.assert_allclose(raw["pose"], expected, atol=1e-5)
    assert raw["has_mano"] == 1.0 and raw["verts_cam"].shape == (778, 3)


def test_ho3d_evaluation_json(ho3d):
    ds = HandOccNetJSON.ho3d(ho3d["root"], "evaluation", mano=None)
    for i, ref in enumerate(ho3d["evaluation"]):
        raw = ds.record(i)
        x, y, w, h = ref["bbox"]
        np.testing.assert_allclose(raw["hand_box"], [x, y, x + w, y + h], atol=1e-5)
        np.testing.assert_allclose(raw["root_cam"], ref["joints"][0], atol=1e-6)
        assert raw["has_joints"] == 0.0 and np.isnan(raw["joints_cam"][1:]).all()
    item = RealHandDataset(ds, input_size=32)[0]
    assert item["image"].shape == (3, 32, 32) and item["has_joints"] == 0.0


def test_dexycb_json_left_flip(dex, mano):
    ds = HandOccNetJSON.dexycb(dex["root"], "test", mano=mano)
    assert len(ds) == 2
    for i, ref in enumerate(dex["test"]):
        raw = ds.record(i)
        left = ref["side"] == "left"
        assert raw["flipped"] == left
        uv = ref["uv"].copy()
        if left:
            uv[:, 0] = W - 1 - uv[:, 0]
        np.testing.assert_allclose(project(raw["K"], raw["joints_cam"]), uv, atol=1e-3)
        np.testing.assert_allclose(raw["joints_cam"][:, 0],
                                   -ref["joints"][:, 0] if left else ref["joints"][:, 0],
                                   atol=1e-6)  # fmt: skip
        hand_mean = mano.hands_mean
        glob = ref["pose"][:3]
        expected = np.r_[glob, ref["pose"][3:] + hand_mean]
        if left:  # the left pose is mirrored into a right pose; the left mean mirrors the right
            expected = np.r_[
                glob * [1, -1, -1],
                (ref["pose"][3:].reshape(15, 3) * [1, -1, -1]).ravel() + hand_mean,
            ]
        np.testing.assert_allclose(raw["pose"], expected, atol=1e-5)


# ----------------------------------------------------------------------------- bad input
def test_missing_root_shows_tree(tmp_path):
    with pytest.raises(DatasetRootError, match=r"(?s)does not exist.*annotations/HO3D_train"):
        HandOccNetJSON.ho3d(tmp_path / "nowhere", "train")
    with pytest.raises(DatasetRootError, match=r"(?s)lacks.*DEX_YCB_s0_test_data\.json"):
        HandOccNetJSON.dexycb(tmp_path, "test")


def _rewrite(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def test_schema_errors_name_field_and_file(tmp_path):
    write_ho3d_json(tmp_path, n_train=2, n_eval=1)
    path = tmp_path / "annotations" / "HO3D_train_data.json"
    _rewrite(path, lambda d: d["annotations"][1].pop("cam_param"))
    with pytest.raises(AnnotationError, match=r"HO3D_train_data\.json annotations\[1\].*cam_param"):
        HandOccNetJSON.ho3d(tmp_path, "train", mano=None)
    write_ho3d_json(tmp_path, n_train=2, n_eval=1)
    _rewrite(path, lambda d: d["annotations"][0].update(joints_coord_cam=[[0, 0, 1]] * 20))
    with pytest.raises(AnnotationError, match=r"'joints_coord_cam'.*\(21, 3\).*\(20, 3\)"):
        HandOccNetJSON.ho3d(tmp_path, "train", mano=None)
    _rewrite(path, lambda d: d["annotations"][0].update(image_id=999))
    with pytest.raises(AnnotationError, match=r"annotations\[0\]\.image_id"):
        load_coco_json(path)
    _rewrite(path, lambda d: d.pop("images"))
    with pytest.raises(AnnotationError, match="field 'images'"):
        load_coco_json(path)
    path.write_text("{not json")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        load_coco_json(path)


def test_bad_hand_type_and_bbox(tmp_path):
    info = write_dexycb_json(tmp_path, n_train=1, n_test=1)
    path = info["root"] / "annotations" / "DEX_YCB_s0_test_data.json"
    _rewrite(path, lambda d: d["annotations"][0].update(hand_type="both"))
    with pytest.raises(AnnotationError, match="'hand_type'.*'right' or 'left'"):
        HandOccNetJSON.dexycb(tmp_path, "test", mano=None)
    write_ho3d_json(tmp_path / "h", n_train=1, n_eval=1)
    ev = tmp_path / "h" / "annotations" / "HO3D_evaluation_data.json"
    _rewrite(ev, lambda d: d["annotations"][0].update(bbox=[1, 2, 0, 5]))
    with pytest.raises(AnnotationError, match="'bbox'"):
        HandOccNetJSON.ho3d(tmp_path / "h", "evaluation", mano=None)


def test_missing_image_named_or_skipped(tmp_path):
    info = write_ho3d_json(tmp_path, n_train=3, n_eval=1)
    gone = tmp_path / "train" / info["train"][1]["file_name"]
    gone.unlink()
    with pytest.raises(ImageReadError, match=r"0001\.png"):
        HandOccNetJSON.ho3d(tmp_path, "train", mano=None).record(1)
    ds = HandOccNetJSON.ho3d(tmp_path, "train", mano=None, skip_missing=True)
    assert len(ds) == 2 and ds.skipped == [str(gone)]
