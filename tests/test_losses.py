"""HandOccNet loss: paper weights, MSE terms, root-relative 3D, has_mano masking, clear errors."""

from __future__ import annotations

import pytest
import torch

from handoccnet_lite.config import LossWeights
from handoccnet_lite.losses import compute_losses, loss_terms
from handoccnet_lite.model.rotations import axis_angle_to_matrix

B, V = 3, 50


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "joints_img": torch.rand(B, 21, 2, generator=g),
        "joints_cam": torch.randn(B, 21, 3, generator=g) * 0.05 + torch.tensor([0, 0, 0.5]),
        "verts_cam": torch.randn(B, V, 3, generator=g) * 0.05 + torch.tensor([0, 0, 0.5]),
        "mano_pose": torch.randn(B, 48, generator=g) * 0.3,
        "mano_shape": torch.randn(B, 10, generator=g),
        "has_mano": torch.ones(B),
    }


def _perfect(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    root = batch["joints_cam"][:, :1]
    return {
        "joints_img": batch["joints_img"].clone(),
        "joints": batch["joints_cam"] - root,
        "verts": batch["verts_cam"] - root,
        "rotmats": axis_angle_to_matrix(batch["mano_pose"].view(-1, 16, 3)),
        "shape": batch["mano_shape"].clone(),
    }


def test_perfect_prediction_gives_zero() -> None:
    batch = _batch()
    losses = compute_losses(_perfect(batch), batch)
    assert set(losses) == {"verts", "joints", "pose", "shape", "joints_img", "total"}
    for name, value in losses.items():
        assert value.abs() < 1e-8, name


def test_terms_are_weighted_mse() -> None:
    batch = _batch()
    pred = {k: v + 0.01 * torch.randn_like(v) for k, v in _perfect(batch).items()}
    terms = loss_terms(pred, batch)
    root = batch["joints_cam"][:, :1]
    expected_joints = torch.nn.functional.mse_loss(pred["joints"], batch["joints_cam"] - root)
    torch.testing.assert_close(terms["joints"], expected_joints)
    w = LossWeights(verts=1.0, joints=2.0, pose=3.0, shape=4.0, joints_img=5.0)
    losses = compute_losses(pred, batch, w)
    torch.testing.assert_close(losses["pose"], 3.0 * terms["pose"])
    torch.testing.assert_close(losses["joints_img"], 5.0 * terms["joints_img"])
    total = sum(losses[k] for k in ("verts", "joints", "pose", "shape", "joints_img"))
    torch.testing.assert_close(losses["total"], total)


def test_paper_weights_by_default() -> None:
    batch = _batch()
    pred = {k: v + 0.01 for k, v in _perfect(batch).items()}
    terms, losses = loss_terms(pred, batch), compute_losses(pred, batch)
    for name, w in [("verts", 1e4), ("joints", 1e4), ("pose", 10), ("shape", 0.1)]:
        torch.testing.assert_close(losses[name], w * terms[name])
    torch.testing.assert_close(losses["joints_img"], 100 * terms["joints_img"])


def test_3d_terms_are_root_relative() -> None:
    batch = _batch()
    pred = {k: v + 0.01 for k, v in _perfect(batch).items()}
    moved = dict(batch)
    moved["joints_cam"] = batch["joints_cam"] + 0.3
    moved["verts_cam"] = batch["verts_cam"] + 0.3
    a, b = loss_terms(pred, batch), loss_terms(pred, moved)
    torch.testing.assert_close(a["verts"], b["verts"])
    torch.testing.assert_close(a["joints"], b["joints"])


def test_has_mano_masks_pose_and_shape() -> None:
    batch = _batch()
    pred = _perfect(batch)
    pred["rotmats"][0] = torch.eye(3)  # wrong pose and shape for sample 0 only
    pred["shape"][0] += 1.0
    masked = dict(batch, has_mano=torch.tensor([0.0, 1.0, 1.0]))
    terms = loss_terms(pred, masked)
    assert terms["pose"] < 1e-10 and terms["shape"] < 1e-10
    assert loss_terms(pred, batch)["shape"] > 0.1
    none = loss_terms(pred, dict(batch, has_mano=torch.zeros(B)))
    assert none["pose"] == 0 and none["shape"] == 0


def test_gradients_reach_predictions() -> None:
    batch = _batch()
    pred = {k: (v + 0.01).requires_grad_(True) for k, v in _perfect(batch).items()}
    compute_losses(pred, batch)["total"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in pred.values())


def test_clear_errors() -> None:
    batch = _batch()
    pred = _perfect(batch)
    with pytest.raises(ValueError, match="same hand model"):
        compute_losses(dict(pred, verts=pred["verts"][:, :10]), batch)
    with pytest.raises(KeyError, match="has_mano"):
        compute_losses(pred, {k: v for k, v in batch.items() if k != "has_mano"})
    with pytest.raises(KeyError, match="rotmats"):
        compute_losses({k: v for k, v in pred.items() if k != "rotmats"}, batch)


def test_real_data_without_vertices_masks_the_vertex_term() -> None:
    """Real sets without MANO: verts_cam (B, 0, 3), has_verts 0 -> the vertex term is exactly 0,
    the other terms are unchanged; has_joints masks the 3D and 2D joint terms."""
    from handoccnet_lite.losses import compute_losses

    g = torch.Generator().manual_seed(3)
    B, V = 2, 50
    pred = {
        "joints_img": torch.rand(B, 21, 2, generator=g),
        "joints": torch.randn(B, 21, 3, generator=g) * 0.05,
        "verts": torch.randn(B, V, 3, generator=g) * 0.05,
        "rotmats": torch.eye(3).expand(B, 16, 3, 3).clone(),
        "shape": torch.zeros(B, 10),
    }
    batch = {
        "joints_img": torch.rand(B, 21, 2, generator=g),
        "joints_cam": torch.randn(B, 21, 3, generator=g) * 0.05,
        "verts_cam": torch.zeros(B, 0, 3),
        "mano_pose": torch.zeros(B, 48),
        "mano_shape": torch.zeros(B, 10),
        "has_mano": torch.zeros(B),
        "has_verts": torch.zeros(B),
    }
    out = compute_losses(pred, batch)
    assert out["verts"].item() == 0.0 and out["joints"].item() > 0
    batch["has_joints"] = torch.tensor([0.0, 0.0])
    out = compute_losses(pred, batch)
    assert out["joints"].item() == 0.0 and out["joints_img"].item() == 0.0
    batch["has_verts"] = torch.ones(B)
    with pytest.raises(ValueError, match="has_verts"):
        compute_losses(pred, batch)


def test_heatmap_targets_are_normalised_gaussians_on_the_joint() -> None:
    from handoccnet_lite.losses import gaussian_heatmap_targets

    G = 8
    joints = torch.tensor([[[2.5 / G, 5.5 / G], [0.5, 0.5]]])  # cell (x=2, y=5); grid centre
    t = gaussian_heatmap_targets(joints, G, sigma=1.0)  # (1, 2, G, G)
    torch.testing.assert_close(t.sum((2, 3)), torch.ones(1, 2))
    assert divmod(int(t[0, 0].argmax()), G) == (5, 2)  # (row y, column x)
    # its centre of mass is the joint: what the soft-argmax would read out of it
    c = (torch.arange(G) + 0.5) / G
    com = torch.stack([(t[0, 0].sum(0) * c).sum(), (t[0, 0].sum(1) * c).sum()])
    torch.testing.assert_close(com, joints[0, 0], atol=2e-3, rtol=0)


def test_heatmap_cross_entropy_prefers_the_right_map_and_skips_joints_outside() -> None:
    from handoccnet_lite.losses import gaussian_heatmap_targets, heatmap_cross_entropy

    G = 8
    joints = torch.rand(2, 21, 2) * 0.8 + 0.1
    right = gaussian_heatmap_targets(joints, G, 1.0)
    uniform = torch.full_like(right, 1.0 / G**2)
    ce_right = heatmap_cross_entropy(right, joints, 1.0)
    ce_uniform = heatmap_cross_entropy(uniform, joints, 1.0)
    torch.testing.assert_close(ce_uniform, torch.tensor(2 * torch.log(torch.tensor(8.0)).item()))
    assert ce_right < ce_uniform - 0.5  # the target's entropy is below log(G^2)
    # a joint outside the crop contributes nothing, whatever its heatmap says
    outside = joints.clone()
    outside[0, 0] = torch.tensor([1.7, -0.3])
    bad = right.clone()
    bad[0, 0] = uniform[0, 0]
    n_in = 2 * 21 - 1
    expected = (ce_right * 42 - heatmap_cross_entropy(right[:1, :1], joints[:1, :1], 1.0)) / n_in
    torch.testing.assert_close(heatmap_cross_entropy(bad, outside, 1.0), expected)


def test_heatmap_term_only_when_weighted() -> None:
    batch = _batch()
    pred = _perfect(batch)
    assert "heatmap" not in compute_losses(pred, batch)  # the paper's loss: no such term
    with pytest.raises(KeyError, match="heatmaps"):
        compute_losses(pred, batch, LossWeights(heatmap=1.0))
    pred["heatmaps"] = torch.full((B, 21, 8, 8), 1 / 64)
    losses = compute_losses(pred, batch, LossWeights(heatmap=2.0))
    expected = 2.0 * torch.log(torch.tensor(64.0))
    torch.testing.assert_close(losses["heatmap"], expected, rtol=1e-4, atol=0)


def test_gate_mask_bce_matches_the_formula_and_masks_samples() -> None:
    from handoccnet_lite.losses import gate_mask_bce

    g = torch.Generator().manual_seed(1)
    gate = torch.rand(3, 1, 4, 4, generator=g) * 0.98 + 0.01
    visible = torch.rand(3, 4, 4, generator=g)
    expected = torch.nn.functional.binary_cross_entropy(gate.squeeze(1), visible)
    torch.testing.assert_close(gate_mask_bce(gate, visible), expected)
    # a sample without mask ground truth does not count, whatever its gate says
    has = torch.tensor([1.0, 1.0, 0.0])
    bad = gate.clone()
    bad[2] = 0.999
    only = torch.nn.functional.binary_cross_entropy(gate[:2].squeeze(1), visible[:2])
    torch.testing.assert_close(gate_mask_bce(bad, visible, has), only)
    # the right gate beats a uniform one
    assert gate_mask_bce(visible[:, None].clamp(0.01, 0.99), visible) < gate_mask_bce(
        torch.full_like(gate, 0.5), visible
    )
    with pytest.raises(ValueError, match="grid"):
        gate_mask_bce(gate, torch.rand(3, 8, 8))


def _hand_batch(pose: torch.Tensor, hand: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A batch whose 3D ground truth is the hand model's output for `pose` (B, 48)."""
    shape = torch.zeros(pose.shape[0], 10)
    verts, joints = hand(pose, shape)
    return {
        "joints_img": torch.rand(pose.shape[0], 21, 2),
        "joints_cam": joints + torch.tensor([0, 0, 0.5]),
        "verts_cam": verts + torch.tensor([0, 0, 0.5]),
        "mano_pose": pose,
        "mano_shape": shape,
        "has_mano": torch.ones(pose.shape[0]),
    }


def test_joints_hand_term_ignores_the_orientation_and_sees_the_articulation() -> None:
    from handoccnet_lite.hand import load_hand_model
    from handoccnet_lite.hand.sampler import sample_poses

    hand = load_hand_model("synth")
    g = torch.Generator().manual_seed(0)
    truth = sample_poses(4, g)  # (4, 48) random orientation and fingers
    other_root = torch.cat([sample_poses(4, g)[:, :3], truth[:, 3:]], 1)  # fingers kept
    other_fingers = torch.cat([truth[:, :3], sample_poses(4, g)[:, 3:]], 1)  # orientation kept
    batch = _hand_batch(truth, hand)
    weights = LossWeights(joints=1.0, joints_hand=1.0)
    terms = {}
    for name, pose in (("root", other_root), ("fingers", other_fingers)):
        pred = _perfect(_hand_batch(pose, hand) | {"joints_img": batch["joints_img"]})
        terms[name] = compute_losses(pred, batch, weights)
    assert "joints_hand" not in compute_losses(pred, batch)  # off by default (the paper's loss)
    # a wrong orientation alone: the camera-frame joint term is large, the hand-frame one ~0
    assert terms["root"]["joints"] > 1e-4  # (10 mm)^2
    assert terms["root"]["joints_hand"] < 1e-10
    # wrong fingers under the right orientation: both see it, and they agree
    assert terms["fingers"]["joints_hand"] > 1e-5
    torch.testing.assert_close(terms["fingers"]["joints_hand"], terms["fingers"]["joints"])
