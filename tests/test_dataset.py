"""Crop + augmentation keep 2D, 3D, intrinsics and root pose consistent; SynthOccDataset items."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from handoccnet_lite.data import dataset as D
from handoccnet_lite.data.records import make_record, project, validate_record
from handoccnet_lite.utils import DATA_SAMPLES_DIR

COMMITTED = DATA_SAMPLES_DIR / "synthocc"


@pytest.fixture(scope="module")
def test_set():
    return D.SynthOccDataset(COMMITTED, "test", input_size=64, augment=True, seed=0)


@pytest.fixture(scope="module")
def raw(test_set):
    return test_set.record(5)


def test_item_follows_interfaces(test_set):
    item = test_set[7]
    shapes = {"image": (3, 64, 64), "joints_img": (21, 2), "joints_cam": (21, 3),
              "verts_cam": (840, 3), "mano_pose": (48,), "mano_shape": (10,), "joints_vis": (21,),
              "has_mano": (), "occlusion": (), "index": (), "K": (3, 3),
              "visible_mask": (8, 8), "occluded_mask": (8, 8), "has_mask": ()}  # fmt: skip
    assert {k: tuple(v.shape) for k, v in item.items()} == shapes
    assert item["index"].dtype == torch.int64 and item["image"].dtype == torch.float32
    assert 0 <= item["image"].min() and item["image"].max() <= 1 and int(item["index"]) == 7
    batch = next(iter(torch.utils.data.DataLoader(test_set, batch_size=4)))
    assert batch["image"].shape == (4, 3, 64, 64)


@pytest.mark.parametrize("seed", range(8))
def test_augmentation_keeps_projection_and_root_pose_consistent(raw, seed):
    cfg = D.AugmentConfig(input_size=64, rot_prob=1.0)
    item = D.augment_sample(raw, cfg, np.random.default_rng(seed))
    K, X = item["K"].double().numpy(), item["joints_cam"].double().numpy()
    assert np.allclose(project(K, X) / 64, item["joints_img"].numpy(), atol=1e-5)
    # the 3D rotation applied to the joints ...
    rot, _ = Rotation.align_vectors(X, raw["joints_cam"].astype(np.float64))
    R3 = rot.as_matrix()
    assert np.allclose(R3[2], [0, 0, 1], atol=1e-5)  # ... is about the camera's z axis
    assert np.allclose(item["verts_cam"].double().numpy(), raw["verts_cam"] @ R3.T, atol=1e-5)
    # ... and equals the change of the root pose
    new = Rotation.from_rotvec(item["mano_pose"][:3].double().numpy()).as_matrix()
    old = Rotation.from_rotvec(raw["pose"][:3].astype(np.float64)).as_matrix()
    assert np.allclose(new @ old.T, R3, atol=1e-5)
    assert torch.equal(item["mano_pose"][3:], torch.from_numpy(raw["pose"][3:]))


def test_crop_image_follows_the_joints(raw):
    """A marker painted at a joint's pixel lands at that joint's joints_img in the crop."""
    marked = dict(raw, image=np.zeros_like(raw["image"]))
    x, y = np.round(raw["joints_2d"][0]).astype(int)
    marked["image"][y - 1 : y + 2, x - 1 : x + 2] = 255
    marked["joints_2d"] = np.array(raw["joints_2d"])
    marked["joints_2d"][0] = [x, y]
    cfg = D.AugmentConfig(input_size=128, rot_prob=1.0, color_range=(1.0, 1.0))
    item = D.augment_sample(marked, cfg, np.random.default_rng(3))
    img = item["image"][0].numpy()
    ys, xs = np.nonzero(img > 0.2)
    centre = np.average(np.stack([xs, ys], 1), axis=0, weights=img[ys, xs]) + 0.5
    assert np.allclose(centre / 128, item["joints_img"][0].numpy(), atol=1.0 / 128)


def test_eval_crop_is_centred_and_unaugmented(raw):
    item = D.augment_sample(raw, D.AugmentConfig(input_size=64, augment=False), None)
    box = raw["hand_box"]
    lo, hi = item["joints_img"].min(0).values, item["joints_img"].max(0).values
    assert torch.allclose((lo + hi) / 2, torch.tensor([0.5, 0.5]), atol=1e-5)
    assert np.isclose(float((hi - lo).max()), 1 / 1.5, atol=1e-5)  # 1.5x expanded, square
    assert torch.allclose(item["joints_cam"], torch.from_numpy(raw["joints_cam"]))
    assert box.shape == (4,)
    # no rotation: the pose comes through exactly (no round trip through scipy)
    assert torch.equal(item["mano_pose"], torch.as_tensor(raw["pose"], dtype=torch.float32))


def test_rotate_root_pose_composes_the_root_rotation_only() -> None:
    pose = np.random.default_rng(0).normal(0, 0.5, 48)
    assert np.array_equal(D.rotate_root_pose(pose, np.eye(3)), pose)
    rot = D.rotation_z(0.7)
    out = D.rotate_root_pose(pose, rot)
    expect = rot @ Rotation.from_rotvec(pose[:3]).as_matrix()
    assert np.allclose(Rotation.from_rotvec(out[:3]).as_matrix(), expect, atol=1e-12)
    assert np.array_equal(out[3:], pose[3:])


def test_augmentation_parameters_follow_the_paper():
    cfg = D.AugmentConfig()
    rng = np.random.default_rng(0)
    draws = [D.sample_augmentation(cfg, rng) for _ in range(3000)]
    scale = np.array([d[0] for d in draws])
    angle = np.rad2deg([d[1] for d in draws])
    color = np.stack([d[2] for d in draws])
    assert scale.min() >= 0.75 and scale.max() <= 1.25 and abs(scale.std() - 0.2) < 0.03
    assert np.abs(angle).max() <= 60 and abs((angle != 0).mean() - 0.6) < 0.04
    assert color.min() >= 0.8 and color.max() <= 1.2


def test_seeded_items_repeat_and_epochs_differ(test_set):
    a, b = test_set[3], test_set[3]
    assert torch.equal(a["image"], b["image"])
    test_set.set_epoch(1)
    c = test_set[3]
    test_set.set_epoch(0)
    assert not torch.equal(a["image"], c["image"])


def test_records_reject_bad_fields(raw):
    with pytest.raises(ValueError, match="'joints_cam'.*\\(21, 3\\)"):
        validate_record(dict(raw, joints_cam=np.zeros((16, 3), np.float32)))
    with pytest.raises(ValueError, match="missing \\['hand_box'\\]"):
        validate_record({k: v for k, v in raw.items() if k != "hand_box"})
    real = make_record(raw["image"], raw["K"], raw["joints_cam"], raw["verts_cam"], index=0)
    assert real["has_mano"] == 0.0 and np.isnan(real["occlusion"]) and real["joints_vis"].all()
    item = D.augment_sample(real, D.AugmentConfig(input_size=32), np.random.default_rng(0))
    assert item["has_mano"] == 0 and torch.isnan(item["occlusion"])


def test_hand_model_mismatch_is_detected(test_set):
    from handoccnet_lite.data import shards

    arrays, _ = test_set._shard(0)
    bent = dict(arrays, joints_cam=arrays["joints_cam"] + np.array([0, 0, 0.01], np.float32) *
                (np.arange(21) > 10)[None, :, None])  # fmt: skip
    with pytest.raises(shards.ShardError, match="different hand model"):
        shards.shard_vertices(bent, test_set._hand(), "bent")


def test_viz_draws_every_bone_and_marks_occluded_joints(test_set):
    import matplotlib.pyplot as plt

    from handoccnet_lite.data import viz

    rec = test_set.record(int(np.argmax([test_set.record(i)["occlusion"] for i in range(12)])))
    fig, axes = plt.subplots(1, 2)
    viz.show_record(rec, axes[0], masks=True)
    viz.show_item(test_set[0], axes[1])
    assert len(axes[0].lines) == 20 and len(axes[1].lines) == 20
    hidden = axes[0].collections[1].get_offsets()
    assert len(hidden) == int((rec["joints_vis"] == 0).sum()) > 0
    overlay = viz.mask_overlay(rec["image"], rec)
    assert not np.allclose(
        overlay[rec["occlusion_mask"]], rec["image"][rec["occlusion_mask"]] / 255
    )
    plt.close(fig)


def test_visible_mask_is_the_unoccluded_hand_in_feature_cells() -> None:
    """visible_mask = hand minus occlusion, warped like the image, averaged over 8 x 8 cells."""
    ds = D.SynthOccDataset(COMMITTED, "test", 128, augment=False)
    for i in range(6):
        raw = ds.record(i)
        item = ds[i]
        assert item["visible_mask"].shape == (16, 16) and float(item["has_mask"]) == 1.0
        assert 0.0 <= float(item["visible_mask"].min()) and float(item["visible_mask"].max()) <= 1.0
        hand = raw["hand_mask"].sum()
        vis = (raw["hand_mask"] & ~raw["occlusion_mask"]).sum()
        assert abs(vis / hand - (1 - raw["occlusion"])) < 1e-6
    # identity crop of a synthetic record: the cells are exact block means
    rec = dict(ds.record(0))
    mask = np.zeros(rec["image"].shape[:2], bool)
    mask[:8, :16] = True  # two full cells at the top-left when the crop is the identity
    rec["hand_mask"], rec["occlusion_mask"] = mask, np.zeros_like(mask)
    A = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    cells, has = D.visible_hand_cells(rec, A, 128)
    assert has == 1.0 and cells[0, 0] == 1.0 and cells[0, 1] == 1.0 and cells.sum() == 2.0
    rec["hand_mask"] = None  # real datasets: no mask, flagged
    item = D.augment_sample(rec, D.AugmentConfig(input_size=128, augment=False), None)
    assert float(item["has_mask"]) == 0.0 and float(item["visible_mask"].sum()) == 0.0


def test_occluded_mask_is_the_hidden_hand_in_feature_cells() -> None:
    """occluded_mask = occlusion_mask warped and pooled like visible_mask; known cell values."""
    ds = D.SynthOccDataset(COMMITTED, "test", 128, augment=False)
    rec = dict(ds.record(0))
    hand = np.zeros(rec["image"].shape[:2], bool)
    hand[:8, :16] = True  # cells (0, 0) and (0, 1) of the identity crop are all hand
    hidden = np.zeros_like(hand)
    hidden[:8, 12:16] = True  # the right half of cell (0, 1) is hidden by an object
    rec["hand_mask"], rec["occlusion_mask"] = hand, hidden
    shift = np.array([[1.0, 0, 8], [0, 1.0, 0]])  # 8 px to the right: one whole cell
    occluded, has = D.occluded_hand_cells(rec, shift, 128)
    visible, _ = D.visible_hand_cells(rec, shift, 128)
    assert has == 1.0 and occluded.shape == (16, 16) and occluded.dtype == np.float32
    assert occluded[0, 2] == 0.5 and occluded.sum() == 0.5  # only the shifted cell (0, 2)
    assert visible[0, 1] == 1.0 and visible[0, 2] == 0.5 and visible.sum() == 1.5
    rec["occlusion_mask"] = None  # masks unknown: zeros, flagged
    item = D.augment_sample(rec, D.AugmentConfig(input_size=128, augment=False), None)
    assert float(item["has_mask"]) == 0.0 and float(item["occluded_mask"].abs().sum()) == 0.0


def test_visible_plus_occluded_is_the_hand_fraction() -> None:
    """On bundled items (augmented crops) the two masks add up to the warped hand_mask."""
    ds = D.SynthOccDataset(COMMITTED, "test", 64, augment=True, seed=3)
    for i in range(4):
        item, raw = ds[i], ds.record(i)
        assert item["occluded_mask"].shape == (8, 8) and float(item["has_mask"]) == 1.0
        total = item["visible_mask"] + item["occluded_mask"]  # (8, 8)
        assert float(total.min()) >= 0.0 and float(total.max()) <= 1.0 + 1e-5
        assert bool((item["occluded_mask"] > 0).any()) == bool(raw["occlusion"] > 0)
    item, raw = ds[2], ds.record(2)  # item 2 of epoch 0 draws from rng [seed, epoch, index]
    scale, angle, _ = D.sample_augmentation(ds.cfg, np.random.default_rng([3, 0, 2]))
    centre, side = D.crop_square(np.asarray(raw["hand_box"], np.float64), ds.cfg.expand)
    A = D.crop_affine(centre, side * scale, angle, 64)
    hand = D.mask_cell_fractions(raw["hand_mask"], A, 64)  # (8, 8)
    torch.testing.assert_close(item["visible_mask"] + item["occluded_mask"], torch.from_numpy(hand))


def test_upright_viewpoint_turns_the_hand_fingers_up() -> None:
    import numpy as np

    from handoccnet_lite.data.dataset import AugmentConfig, SynthOccDataset, upright_angle
    from handoccnet_lite.utils import DATA_SAMPLES_DIR

    joints = np.zeros((21, 2))
    joints[9] = (1.0, 0.0)  # the middle knuckle right of the wrist: a quarter turn to go up
    angle = upright_angle(joints, 0.0, np.random.default_rng(0))
    c, s = np.cos(angle), np.sin(angle)
    assert np.allclose(np.array([[c, -s], [s, c]]) @ joints[9], (0.0, -1.0))

    root = DATA_SAMPLES_DIR / "synthocc"
    ups = []
    for augment in (False, True):
        aug = AugmentConfig(input_size=64, augment=augment, upright_sigma_deg=30.0)
        data = SynthOccDataset(root, "test", 64, seed=0, aug=aug)
        for i in range(20):
            j = data[i]["joints_img"].numpy()
            axis = j[9] - j[0]
            ups.append(np.degrees(np.arctan2(axis[0], -axis[1])))  # 0 = straight up
    ups = np.abs(np.array(ups))
    assert ups.max() <= 60.0 + 1e-3 and np.median(ups) < 30.0
    # evaluation view: the same jitter on every call
    aug = AugmentConfig(input_size=64, augment=False, upright_sigma_deg=30.0)
    a, b = SynthOccDataset(root, "test", 64, aug=aug), SynthOccDataset(root, "test", 64, aug=aug)
    assert torch.equal(a[3]["image"], b[3]["image"])
    plain = SynthOccDataset(root, "test", 64)
    assert not torch.equal(a[3]["image"], plain[3]["image"])
