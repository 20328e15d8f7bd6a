"""Loading the authors' checkpoint: key mapping on a synthetic state dict of the release's keys."""

from __future__ import annotations

import functools
import re

import pytest
import torch

from handoccnet_lite.model.checkpoint import (
    IGNORED_PATTERNS,
    convert_official_state,
    load_official_checkpoint,
    map_official_key,
    official_config,
    official_key_shapes,
)
from handoccnet_lite.model.handoccnet import HandOccNet

SHAPES = official_key_shapes()


def _synthetic_value(key: str, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    """A plausible tensor for one release key (small weights, positive BN variances)."""
    if key.endswith("num_batches_tracked") or key.endswith(("th_faces", "init_joints_idxs")):
        return torch.zeros(shape, dtype=torch.long)
    if key.endswith("running_var"):
        return 0.5 + torch.rand(shape, generator=g)
    if key.endswith(".weight") and len(shape) == 1:  # BN / LayerNorm scale
        return 1.0 + 0.1 * torch.randn(shape, generator=g)
    fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
    return torch.randn(shape, generator=g) / fan_in**0.5 * 0.5


@functools.cache
def synthetic_official_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors of the release's key shapes (cached: treat as read-only)."""
    g = torch.Generator().manual_seed(seed)
    return {k: _synthetic_value(k, s, g) for k, s in SHAPES.items()}


def _is_ignored(key: str) -> bool:
    return any(re.fullmatch(p, key.removeprefix("module.")) for p in IGNORED_PATTERNS)


def test_asset_lists_the_release_model() -> None:
    assert len(SHAPES) == 904
    assert SHAPES["module.backbone.layer0.0.weight"] == (64, 3, 7, 7)
    assert SHAPES["module.FIT.layers.0.q_embedding"] == (1, 256, 32, 32)
    assert SHAPES["module.regressor.mano_regHead.pose_reg.weight"] == (96, 512)
    assert all(k.startswith("module.") for k in SHAPES)


def test_hourglass_key_mapping() -> None:
    key = "regressor.hand_regHead.hg.0.hg.3.0.0.bn1.weight"  # outermost level, skip branch
    assert map_official_key(key) == "regressor.head.hourglass.skip.bn1.weight"
    key = "regressor.hand_regHead.hg.0.hg.0.3.0.conv2.bias"  # innermost bottleneck
    expected = "regressor.head.hourglass.inner.inner.inner.inner.conv2.bias"
    assert map_official_key(key) == expected
    key = "regressor.hand_Encoder.reg.7.bn.running_mean"
    assert map_official_key(key) == "regressor.encoder.blocks.7.bn1.running_mean"


def test_every_non_mano_backbone_and_regressor_key_maps() -> None:
    state = {k: v for k, v in synthetic_official_state().items() if ".FIT." not in k}
    state = {k: v for k, v in state.items() if ".SET." not in k}
    ours, ignored, unexpected = convert_official_state(state)
    assert unexpected == []
    assert {k.split(".")[0] for k in ignored} == {"regressor", "backbone", "fitting_loss"}
    assert len(ignored) == 9 + 2 + 2 + 3  # MANO buffers, uu/vv, smooth2, fitting constants
    assert len(ours) == len(state) - len(ignored)
    assert len(set(ours)) == len(ours)


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ckpt") / "snapshot_70.pth.tar"
    torch.save({"epoch": 70, "network": synthetic_official_state()}, path)
    return str(path)


@pytest.fixture(scope="module")
def loaded(checkpoint_file: str):
    torch.manual_seed(1)
    return load_official_checkpoint(checkpoint_file)


def test_load_into_paper_model(loaded) -> None:
    model, report = loaded
    assert report.ok, report.summary()
    n_ignored = sum(_is_ignored(k) for k in SHAPES)
    assert len(report.loaded) == len(SHAPES) - n_ignored
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    assert not model.training
    state = synthetic_official_state()
    torch.testing.assert_close(
        model.regressor.head.hourglass.skip.conv1.weight,
        state["module.regressor.hand_regHead.hg.0.hg.3.0.0.conv1.weight"],
    )
    torch.testing.assert_close(
        model.backbone.fpn.lateral[3].weight, state["module.backbone.toplayer.weight"]
    )
    torch.testing.assert_close(
        model.fit.blocks[1].pos_key, state["module.FIT.layers.1.k_embedding"]
    )


def test_loaded_state_does_not_depend_on_the_init(loaded, checkpoint_file: str) -> None:
    """Every weight and buffer of the network (not the hand layer) comes from the checkpoint."""
    torch.manual_seed(3)
    other, _ = load_official_checkpoint(checkpoint_file)
    a, b = loaded[0].state_dict(), other.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


@pytest.mark.slow
def test_outputs_follow_the_checkpoint(loaded, checkpoint_file: str) -> None:
    """Two differently initialised models agree once loaded, and differ from a fresh one."""
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(2)
    fresh = HandOccNet(official_config()).eval()
    torch.manual_seed(3)
    other, _ = load_official_checkpoint(checkpoint_file)
    with torch.no_grad():
        before, ref, again = (m(x)["joints"] for m in (fresh, loaded[0], other))
    torch.testing.assert_close(again, ref, rtol=0, atol=0)
    assert not torch.allclose(before, ref)
    assert torch.isfinite(ref).all() and ref[:, 1:].abs().sum() > 0


def test_partial_checkpoint_is_reported(tmp_path) -> None:
    state = dict(synthetic_official_state())
    state.pop("module.backbone.toplayer.weight")
    state["module.backbone.extra.weight"] = torch.zeros(3)
    state["module.FIT.layers.0.bogus.weight"] = torch.zeros(3)
    path = tmp_path / "partial.pth.tar"
    torch.save({"network": state}, path)
    flat = official_config().replace(pose_convention="flat")  # the loader overrides it
    model, report = load_official_checkpoint(path, cfg=flat)
    assert model.cfg.pose_convention == "mean"  # the release's weights are relative to hands_mean
    assert report.missing == ["backbone.fpn.lateral.3.weight"]
    assert report.unexpected == ["backbone.extra.weight", "FIT.layers.0.bogus.weight"]
    assert not report.ok
    with pytest.raises(ValueError, match="did not load cleanly"):
        load_official_checkpoint(path, strict=True)


def test_not_a_handoccnet_checkpoint(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_official_checkpoint(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a loadable PyTorch checkpoint"):
        load_official_checkpoint(junk)
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"conv.weight": torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match="not a HandOccNet checkpoint"):
        load_official_checkpoint(other)
    pickled = tmp_path / "pickled.pth"
    torch.save({"network": {"module.backbone.x": torch.zeros(1)}, "obj": object()}, pickled)
    with pytest.raises(ValueError, match="not a loadable"):  # weights_only refuses objects
        load_official_checkpoint(pickled)


def _release_mesh(arrays: dict, rot6d: torch.Tensor, shape: torch.Tensor):
    """The release's hand for its network outputs: 6D -> matrices -> axis-angle, then a MANO
    layer with flat_hand_mean=False (smplx, built from the same arrays), 16 joints + manopth
    tips in the canonical order, root-relative. Returns (verts (B, V, 3), joints (B, 21, 3))."""
    import smplx
    from smplx.utils import Struct

    from handoccnet_lite.hand import joints as J
    from handoccnet_lite.hand.joints import MANO_TIP_VERTEX_IDS
    from handoccnet_lite.model.rotations import matrix_to_axis_angle, rot6d_to_matrix

    pose = matrix_to_axis_angle(rot6d_to_matrix(rot6d)).flatten(1)  # (B, 48)
    layer = smplx.MANO("", data_struct=Struct(**arrays), is_rhand=True, use_pca=False,
                       flat_hand_mean=False)  # fmt: skip
    out = layer(betas=shape, global_orient=pose[:, :3], hand_pose=pose[:, 3:])
    tips = out.vertices[:, list(MANO_TIP_VERTEX_IDS["manopth"])]  # (B, 5, 3)
    joints = J.mano_to_canonical(torch.cat([out.joints, tips], 1))  # (B, 21, 3)
    root = joints[:, :1]
    return out.vertices - root, joints - root


def test_loaded_model_with_mano_gives_the_release_mesh(checkpoint_file, tmp_path, monkeypatch):
    """With MANO supplied, the loaded checkpoint's mesh and joints equal the release's (whose
    MANO layer adds hands_mean), and its pose stays in the package's flat convention."""
    import numpy as np
    from fixtures_real import fake_mano_arrays

    from handoccnet_lite.hand import MANOHand
    from handoccnet_lite.model.rotations import axis_angle_to_matrix

    arrays = fake_mano_arrays()
    np.savez(tmp_path / "MANO_RIGHT.npz", **arrays)
    monkeypatch.setenv("HANDOCCNET_MANO_DIR", str(tmp_path))
    model, report = load_official_checkpoint(checkpoint_file)
    assert report.ok and isinstance(model.hand, MANOHand) and model.hand.flat_hand_mean
    captured = {}
    model.regressor.mano.register_forward_hook(lambda m, i, o: captured.update(out=o))
    feat = torch.randn(1, 256, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.forward_features(feat)
        verts, joints = _release_mesh(arrays, *captured["out"])
        flat = MANOHand(arrays=arrays, flat_hand_mean=True)(out["pose"], out["shape"])
    torch.testing.assert_close(out["joints"], joints, rtol=0, atol=1e-5)  # metres: 0.01 mm
    torch.testing.assert_close(out["verts"], verts, rtol=0, atol=1e-5)
    torch.testing.assert_close(flat.vertices - flat.joints[:, :1], out["verts"], rtol=0, atol=1e-6)
    rotmats = axis_angle_to_matrix(out["pose"].view(1, 16, 3))
    torch.testing.assert_close(out["rotmats"], rotmats, rtol=0, atol=1e-5)
    assert model.cfg.pose_convention == "mean" == official_config().pose_convention


def test_a_trained_model_loads_without_the_imagenet_file_it_started_from(tmp_path) -> None:
    """A run started from ImageNet weights stores their path; its model.pt holds every weight,
    so loading it elsewhere must not need (or read) that file."""
    from handoccnet_lite.cli import load_trained
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine.checkpoint import save_model

    cfg = preset("tiny")
    model = HandOccNet(cfg)
    stored = cfg.to_dict() | {"pretrained_backbone": str(tmp_path / "gone" / "resnet18.pth")}
    path = save_model(tmp_path / "model.pt", model, stored)
    loaded, loaded_cfg = load_trained(path)
    assert loaded_cfg.pretrained_backbone is None
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
