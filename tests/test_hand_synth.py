"""SynthHand: geometry, skinning, shape space, rest frame, gradients, devices."""

import numpy as np
import pytest
import torch

from handoccnet_lite.hand import HandOutput, SynthHand, load_hand_model, sample_poses
from handoccnet_lite.hand import anatomy as A
from handoccnet_lite.hand import joints as J
from handoccnet_lite.hand.sampler import compose_hand_pose
from handoccnet_lite.hand.synth import SHAPE_NAMES, synth_geometry

F = {n: J.JOINT_NAMES.index(n) for n in J.JOINT_NAMES}  # canonical index by name


@pytest.fixture(scope="module")
def hand():
    return SynthHand()


def bone_lengths(joints):  # (B, 21, 3) -> (B, 20)
    p, c = zip(*J.SKELETON, strict=True)
    return (joints[:, list(c)] - joints[:, list(p)]).norm(dim=-1)


def finger_bones(joints, finger):  # (B, 21, 3) -> (B, 4) wrist->1, 1->2, 2->3, 3->4
    idx = [0] + [F[f"{finger}{k}"] for k in range(1, 5)]
    return (joints[:, idx[1:]] - joints[:, idx[:-1]]).norm(dim=-1)


def test_sizes(hand):
    out = hand(torch.zeros(2, 48))
    assert isinstance(out, HandOutput)
    assert out.joints.shape == (2, 21, 3)
    assert 700 <= hand.num_vertices <= 1500 and out.vertices.shape == (2, hand.num_vertices, 3)
    assert hand.faces.dtype == torch.long and hand.faces.shape[1] == 3
    assert hand.parents.tolist() == list(J.MANO_PARENTS)
    assert hand.posedirs.shape == (135, hand.num_vertices * 3) and hand.posedirs.abs().sum() == 0
    assert hand.shapedirs.shape == (hand.num_vertices, 3, 10)
    assert hand.J_regressor.shape == (16, hand.num_vertices)
    assert torch.allclose(hand.J_regressor.sum(1), torch.ones(16, dtype=torch.float32))


def test_anthropometric_size(hand):
    j = hand(torch.zeros(1, 48)).joints[0]
    hand_length = (j[F["middle4"]] - j[F["wrist"]]).norm()
    palm_breadth = (j[F["index1"]] - j[F["pinky1"]]).norm()
    assert 0.17 < hand_length < 0.20  # adult wrist-to-middle-tip ~0.185 m
    assert 0.045 < palm_breadth < 0.07  # knuckle joint centres


def test_skinning_weights_sum_to_one(hand):
    w = hand.lbs_weights
    assert (w >= 0).all()
    assert torch.allclose(w.sum(1), torch.ones(hand.num_vertices), atol=1e-6)
    assert (w.sum(0) > 0).all()  # every joint drives some vertices


def test_bone_lengths_preserved_under_random_poses(hand):
    pose = sample_poses(32, torch.Generator().manual_seed(0))
    shape = torch.randn(32, 10, generator=torch.Generator().manual_seed(1))
    rest = hand(torch.zeros(32, 48), shape).joints
    posed = hand(pose, shape).joints
    assert torch.allclose(bone_lengths(posed), bone_lengths(rest), atol=1e-5)
    assert (posed - rest).abs().max() > 0.05  # the poses really move the hand


def test_zero_pose_gives_rest_joints(hand):
    out = hand(torch.zeros(1, 48))
    kin = hand.J_regressor @ hand.v_template  # (16, 3)
    expected = J.mano_to_canonical(torch.cat([kin, hand.v_template[hand.tip_vertex_ids]]))
    assert torch.allclose(out.joints[0], expected, atol=1e-6)
    assert torch.allclose(out.vertices[0], hand.v_template, atol=1e-6)
    assert np.allclose(out.joints[0, 0].numpy(), A.WRIST, atol=1e-6)


def test_rest_frame_matches_mano_conventions(hand):
    j = hand(torch.zeros(1, 48)).joints[0]
    assert j[F["middle4"], 0] < j[F["wrist"], 0] - 0.15  # fingers point along -x
    assert j[F["thumb4"], 2] > j[F["index1"], 2] > j[F["pinky1"], 2]  # thumb side is +z
    ang = torch.zeros(1, 15, 3)
    ang[0, 0, 0] = 1.2  # flex index MCP
    bent = hand(torch.cat([torch.zeros(1, 3), compose_hand_pose(ang)], 1)).joints[0]
    assert bent[F["index4"], 1] < j[F["index4"], 1] - 0.03  # curls towards the palm (-y)
    normals = _face_normals(hand.v_template, hand.faces)
    palm = (synth_geometry().part_of_vertex[hand.faces[:, 0].numpy()] == 0) & (
        normals[:, 1].numpy() < -0.9
    )
    assert palm.sum() > 10  # the palm slab has a face looking down -y


def _face_normals(v, f):
    n = torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return n / n.norm(dim=1, keepdim=True)


def test_mesh_is_watertight_with_outward_winding():
    g = synth_geometry()
    f = g.faces
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    as_set = {tuple(e) for e in directed.tolist()}
    assert len(as_set) == len(directed)  # no directed edge twice: consistent winding
    assert all((b, a) in as_set for a, b in as_set)  # every edge shared by exactly 2 faces
    v = g.v_template
    for part in range(6):  # each closed part encloses positive volume: normals point out
        pf = f[g.part_of_vertex[f[:, 0]] == part]
        vol = np.einsum("ij,ij->i", v[pf[:, 0]], np.cross(v[pf[:, 1]], v[pf[:, 2]])).sum() / 6
        assert vol > 5e-6  # > 5 cm^3


def _shape_effect(hand, k, beta=2.0):
    shape = torch.zeros(2, 10)
    shape[1, k] = beta
    out = hand(torch.zeros(2, 48), shape)
    return out.joints, out.vertices


def test_scale_beta_grows_every_bone(hand):
    j, _ = _shape_effect(hand, SHAPE_NAMES.index("scale"))
    ratio = bone_lengths(j)[1] / bone_lengths(j)[0]
    assert torch.allclose(ratio, torch.full_like(ratio, 1.12), atol=1e-4)


def test_palm_width_beta_widens_knuckle_spread_only(hand):
    j, _ = _shape_effect(hand, SHAPE_NAMES.index("palm_width"))
    spread = (j[:, F["index1"]] - j[:, F["pinky1"]]).norm(dim=-1)
    assert spread[1] > spread[0] * 1.1
    assert torch.allclose(finger_bones(j, "middle")[:, 1:], finger_bones(j, "middle")[:1, 1:])


def test_finger_length_beta_lengthens_fingers_not_palm_or_thumb(hand):
    j, _ = _shape_effect(hand, SHAPE_NAMES.index("finger_length"))
    for finger in ("index", "middle", "ring", "pinky"):
        b = finger_bones(j, finger)
        assert (b[1, 1:] > b[0, 1:] * 1.08).all()
        assert torch.isclose(b[1, 0], b[0, 0], atol=1e-6)  # wrist -> knuckle unchanged
    assert torch.allclose(finger_bones(j, "thumb")[1], finger_bones(j, "thumb")[0], atol=1e-6)


def test_thickness_beta_thickens_without_changing_bones(hand):
    j, v = _shape_effect(hand, SHAPE_NAMES.index("thickness"))
    assert torch.allclose(bone_lengths(j)[1], bone_lengths(j)[0], atol=1e-6)
    mid = v - v.mean(1, keepdim=True)
    assert mid[1, :, 1].std() > mid[0, :, 1].std() * 1.05  # thicker along y (palm normal)


def test_palm_length_beta_moves_wrist_away_from_knuckles(hand):
    j, _ = _shape_effect(hand, SHAPE_NAMES.index("palm_length"))
    b = finger_bones(j, "middle")
    assert b[1, 0] > b[0, 0] * 1.08 and torch.allclose(b[1, 1:], b[0, 1:], atol=1e-6)


@pytest.mark.parametrize("name, finger", [("thumb_length", "thumb"), ("pinky_length", "pinky")])
def test_single_digit_length_betas(hand, name, finger):
    j, _ = _shape_effect(hand, SHAPE_NAMES.index(name))
    b = finger_bones(j, finger)
    assert (b[1, 2:] > b[0, 2:] * 1.08).all()
    assert torch.allclose(finger_bones(j, "middle")[1], finger_bones(j, "middle")[0], atol=1e-6)


def test_index_ring_beta(hand):
    j, _ = _shape_effect(hand, SHAPE_NAMES.index("index_ring"))
    index, ring = finger_bones(j, "index")[:, 1:].sum(1), finger_bones(j, "ring")[:, 1:].sum(1)
    assert index[1] > index[0] * 1.05 and ring[1] < ring[0] * 0.95


def test_taper_beta_thins_fingertips(hand):
    _, v = _shape_effect(hand, SHAPE_NAMES.index("taper"))
    g = synth_geometry()
    tip_ring = torch.as_tensor(np.nonzero(g.part_of_vertex == 2)[0][-13:-1])  # middle tip ring
    radius = (v[:, tip_ring] - v[:, tip_ring].mean(1, keepdim=True)).norm(dim=-1).mean(1)
    assert radius[1] < radius[0] * 0.85


def test_splay_beta_fans_fingers(hand):
    j, _ = _shape_effect(hand, SHAPE_NAMES.index("splay"))
    d_index = j[:, F["index4"]] - j[:, F["index1"]]
    d_pinky = j[:, F["pinky4"]] - j[:, F["pinky1"]]
    cos = torch.nn.functional.cosine_similarity(d_index, d_pinky, dim=-1)
    assert cos[1] < cos[0] - 0.02


def test_relaxed_hands_mean_option():
    flat, relaxed = SynthHand(flat_hand_mean=True), SynthHand(flat_hand_mean=False)
    zero = torch.zeros(1, 48)
    mean_pose = torch.cat([torch.zeros(1, 3), relaxed.hands_mean[None]], 1)
    assert relaxed.hands_mean.abs().sum() > 0
    assert torch.allclose(relaxed(zero).joints, flat(mean_pose).joints, atol=1e-6)


def test_transl_shifts_everything(hand):
    pose, t = sample_poses(3, torch.Generator().manual_seed(5)), torch.randn(3, 3)
    a, b = hand(pose), hand(pose, transl=t)
    assert torch.allclose(b.joints - a.joints, t[:, None].expand(3, 21, 3), atol=1e-6)


def test_gradients_flow_to_pose_and_shape(hand):
    pose = sample_poses(4, torch.Generator().manual_seed(6)).requires_grad_()
    shape = torch.zeros(4, 10, requires_grad=True)
    out = hand(pose, shape)
    (out.joints.square().sum() + out.vertices.square().sum()).backward()
    assert torch.isfinite(pose.grad).all() and pose.grad[:, 3:].abs().sum() > 0
    assert torch.isfinite(shape.grad).all() and (shape.grad.abs().sum(0) > 0).all()


def test_deterministic_and_cached():
    a, b = SynthHand(), SynthHand()
    assert torch.equal(a.v_template, b.v_template) and torch.equal(a.faces, b.faces)
    assert synth_geometry() is synth_geometry()


def test_load_hand_model_synth_without_mano(monkeypatch):
    monkeypatch.delenv("HANDOCCNET_MANO_DIR", raising=False)
    assert isinstance(load_hand_model("auto"), SynthHand)
    assert isinstance(load_hand_model("synth"), SynthHand)
    with pytest.raises(ValueError, match="kind"):
        load_hand_model("smpl")


def test_float64_model():
    hand = SynthHand(dtype=torch.float64)
    out = hand(torch.zeros(1, 48, dtype=torch.float64))
    assert out.vertices.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(hand):
    pose = sample_poses(8, torch.Generator().manual_seed(7))
    cpu = hand(pose).joints
    gpu = SynthHand().to("cuda")(pose.cuda()).joints.cpu()
    assert torch.allclose(cpu, gpu, atol=1e-5)


def test_hand_figure(hand):
    from handoccnet_lite.hand.view import hand_figure

    out = hand(sample_poses(1, torch.Generator().manual_seed(8)))
    fig = hand_figure(out.vertices[0], hand.faces, out.joints[0], title="t")
    mesh, lines, points = fig.data
    assert len(mesh.x) == hand.num_vertices and len(mesh.i) == hand.faces.shape[0]
    assert len(lines.x) == 3 * len(J.SKELETON) and len(points.x) == 21
    with pytest.raises(ValueError, match=r"out.vertices\[0\]"):
        hand_figure(out.vertices, hand.faces)
