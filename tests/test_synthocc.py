"""SynthOcc: occlusion ground truth, determinism, committed samples, bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from handoccnet_lite.data import render as R
from handoccnet_lite.data import scene as S
from handoccnet_lite.data import shards
from handoccnet_lite.data import synthocc as so
from handoccnet_lite.data.records import project
from handoccnet_lite.utils import DATA_SAMPLES_DIR

COMMITTED = DATA_SAMPLES_DIR / "synthocc"


def _spec(mix, seed=7, **scene):
    cfg = dataclasses.replace(S.SceneConfig(), **scene)
    return {"seed": seed, "split": "train", "hand_model": "synth",
            "scene": dataclasses.asdict(cfg), "occlusion_mix": so.normalise_mix(mix)}  # fmt: skip


@pytest.fixture(scope="module")
def heavy_records():
    return so.render_indices(range(6), _spec("heavy"))


def test_unoccluded_render_has_zero_occlusion():
    for rec in so.render_indices(range(4), _spec("none", distractor_prob=1.0)):
        assert rec["occlusion"] == 0.0 and not rec["occlusion_mask"].any()
        assert rec["hand_mask"].sum() > 200
        inside = ((rec["joints_2d"] >= 0) & (rec["joints_2d"] <= 127)).all(1)
        assert (rec["joints_vis"] == inside).all()


def test_full_frame_occluder_in_front_hides_everything(heavy_records):
    rec = heavy_records[0]
    K = rec["K"].astype(np.float64)
    verts = rec["verts_cam"].astype(np.float64)
    from handoccnet_lite.hand import SynthHand

    faces = SynthHand().faces.numpy()
    raster = R.rasterize(verts, faces, K, 128, 128)
    wall = R.Box((0, 0, 0.05), tuple(map(tuple, np.eye(3))), (1.0, 1.0, 0.001))
    scene = S.sample_scene(np.random.default_rng(0), S.SceneConfig())
    scene.K = K
    out = S.composite(verts, faces, raster, scene, [wall], np.array([[0.5, 0.5, 0.5]]))
    assert out.occluder_mask.all() and (out.occlusion_mask == out.hand_mask).all()
    assert out.occlusion_mask.sum() / out.hand_mask.sum() == 1.0
    vis = S.joint_visibility(rec["joints_2d"], rec["joints_cam"][:, 2], out)
    assert (vis == 0).all()


def test_occlusion_levels_hit_their_targets(heavy_records):
    lo, hi = S.OCCLUSION_LEVELS["heavy"]
    occ = np.array([r["occlusion"] for r in heavy_records])
    assert ((occ >= lo - 0.02) & (occ <= hi + 0.02)).mean() >= 5 / 6
    for r in heavy_records:  # the stored fraction is the masks' ratio
        assert r["occlusion"] == r["occlusion_mask"].sum() / r["hand_mask"].sum()
        assert not (r["occlusion_mask"] & ~r["hand_mask"]).any()
        assert (r["occlusion_mask"] == (r["hand_mask"] & r["occluder_mask"])).all()


def test_joint_visibility_matches_the_occlusion_mask(heavy_records):
    checked = 0
    for r in heavy_records:
        px = np.round(r["joints_2d"]).astype(int)
        for j, (x, y) in enumerate(px):
            if 0 <= x < 128 and 0 <= y < 128 and r["hand_mask"][y, x]:
                assert r["joints_vis"][j] == 1 - r["occlusion_mask"][y, x]
                checked += 1
    assert checked > 60
    assert 0 < np.mean([r["joints_vis"].mean() for r in heavy_records]) < 1


def test_ground_truth_geometry_is_consistent(heavy_records):
    for r in heavy_records:
        assert np.allclose(project(r["K"].astype(np.float64), r["joints_cam"]), r["joints_2d"],
                           atol=1e-3)  # fmt: skip
        assert (r["joints_cam"][:, 2] > 0).all() and r["verts_cam"].shape == (840, 3)
        x0, y0, x1, y1 = r["hand_box"]
        assert np.isclose(x0, r["joints_2d"][:, 0].min()) and np.isclose(
            y1, r["joints_2d"][:, 1].max()
        )


def test_sample_does_not_depend_on_its_chunk():
    spec = _spec("light")
    alone = so.render_indices([3], spec)[0]
    batch = so.render_indices([0, 1, 2, 3], spec)[3]
    assert np.array_equal(alone["image"], batch["image"])
    assert np.array_equal(alone["verts_cam"], batch["verts_cam"])


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes(tmp_path):
    kw = dict(n=6, seed=3, split="test", resolution=64, workers=1, progress=False, shard_size=4)
    a = so.generate_synthocc(tmp_path / "a", **kw)
    b = so.generate_synthocc(tmp_path / "b", **kw)
    assert _hashes(a) == _hashes(b) and len(_hashes(a)) == 3
    c = so.generate_synthocc(tmp_path / "c", **{**kw, "seed": 4})
    assert _hashes(c)["shard_00000.npz"] != _hashes(a)["shard_00000.npz"]


@pytest.mark.slow
def test_two_workers_give_the_same_bytes(tmp_path):
    kw = dict(n=70, seed=5, split="train", resolution=64, progress=False, shard_size=40)
    a = so.generate_synthocc(tmp_path / "a", workers=1, **kw)
    b = so.generate_synthocc(tmp_path / "b", workers=2, **kw)
    assert _hashes(a) == _hashes(b)


@pytest.mark.parametrize("split", ["train", "test"])
def test_committed_samples_regenerate_identically(split):
    folder = COMMITTED / split
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["count"] == so.COMMITTED[split] and manifest["seed"] == so.COMMITTED_SEED
    stored = shards.read_shard(
        folder / manifest["shards"][0]["file"], manifest["shards"][0]["sha256"]
    )
    idx = [0, 1, 2]
    fresh = shards.encode_records(so.render_indices(idx, manifest), manifest["png_level"])
    ref = shards.concat_arrays([_slice(stored, i) for i in idx])
    assert fresh.keys() == ref.keys()
    for key in fresh:
        assert fresh[key].tobytes() == ref[key].tobytes(), key


def _slice(arrays, i):
    a, b = arrays["png_offsets"][i], arrays["png_offsets"][i + 1]
    out = {k: v[i : i + 1] for k, v in arrays.items() if k not in ("png", "png_offsets")}
    out["png"] = arrays["png"][a:b]
    out["png_offsets"] = np.array([0, b - a], np.int64)
    return out


def test_committed_set_size_and_mix():
    total = sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file())
    assert total < 20e6
    test = json.loads((COMMITTED / "test" / "manifest.json").read_text())
    assert abs(test["occlusion_stats"]["zero"] - 1 / 3) < 0.02


# ----------------------------------------------------------------------------- bad input
@pytest.fixture()
def small_set(tmp_path):
    so.generate_synthocc(tmp_path, 4, seed=1, split="val", resolution=48, workers=1,
                         progress=False, shard_size=2)  # fmt: skip
    return tmp_path


def test_missing_shard_names_the_file(small_set):
    from handoccnet_lite.data.dataset import SynthOccDataset

    (small_set / "val" / "shard_00001.npz").unlink()
    ds = SynthOccDataset(small_set, "val", input_size=32)
    ds[0]
    with pytest.raises(shards.ShardError, match="shard_00001.npz is missing"):
        ds[3]


def test_corrupt_shard_names_the_file(small_set):
    from handoccnet_lite.data.dataset import SynthOccDataset

    path = small_set / "val" / "shard_00000.npz"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(shards.ShardError, match="shard_00000.npz is corrupt"):
        SynthOccDataset(small_set, "val", input_size=32)[0]
    with pytest.raises(shards.ShardError, match="shard_00000.npz is unreadable"):
        shards.read_shard(path)


def test_manifest_mismatch_names_the_field(small_set):
    from handoccnet_lite.data.dataset import SynthOccDataset

    path = small_set / "val" / "manifest.json"
    good = json.loads(path.read_text())
    for field, value in [("count", 5), ("format_version", 99), ("hand_model", "robot")]:
        path.write_text(json.dumps({**good, field: value}))
        with pytest.raises(ValueError, match=f"field '{field}'"):
            SynthOccDataset(small_set, "val")
    bad = json.loads(json.dumps(good))
    bad["shards"][0]["count"] = 3
    bad["count"] = 5
    bad["shards"][0].pop("sha256")
    path.write_text(json.dumps(bad))
    with pytest.raises(shards.ShardError, match=r"shards\[0\].count"):
        SynthOccDataset(small_set, "val", input_size=32)[0]


def test_missing_root_shows_the_expected_tree(tmp_path):
    from handoccnet_lite.data.dataset import SynthOccDataset

    with pytest.raises(FileNotFoundError, match="(?s)manifest.json.*shard_00000.npz"):
        SynthOccDataset(tmp_path / "nowhere", "train")


def test_bad_generator_arguments_are_explained(tmp_path):
    with pytest.raises(ValueError, match="levels"):
        so.generate_synthocc(tmp_path, 2, occlusion_mix={"medium": 1.0}, progress=False)
    with pytest.raises(ValueError, match="split must be one of"):
        so.generate_synthocc(tmp_path, 2, split="dev", workers=1, progress=False)
    with pytest.raises(ValueError, match="target occlusion"):
        so.normalise_mix(1.5)
    shutil.rmtree(tmp_path, ignore_errors=True)
