"""Tests for handoccnet_lite.metrics against scipy references and hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from handoccnet_lite import metrics as M


def _hand(rng: np.random.Generator, batch: int = 4, joints: int = 21) -> np.ndarray:
    """Random hand-sized point sets in metres. -> (B, J, 3)."""
    return rng.normal(scale=0.04, size=(batch, joints, 3)) + np.array([0.0, 0.0, 0.5])


def _similar_copy(x: np.ndarray, rng: np.random.Generator, reflect: bool = False) -> np.ndarray:
    """Rotate, scale and translate every sample of x (B, P, 3); optionally mirror it first."""
    out = np.empty_like(x)
    for i, pts in enumerate(x):
        rot = Rotation.random(random_state=int(rng.integers(1 << 30))).as_matrix()
        if reflect:
            rot = rot @ np.diag([1.0, 1.0, -1.0])
        out[i] = 1.7 * pts @ rot.T + rng.normal(size=3) * 0.1
    return out


def _scipy_procrustes_reflect(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """HO-3D-style reference (reflections allowed) built on scipy's orthogonal_procrustes."""
    mu_g, mu_p = gt.mean(0), pred.mean(0)
    t, p = gt - mu_g, pred - mu_p
    s_g, s_p = np.linalg.norm(t), np.linalg.norm(p)
    r, s = orthogonal_procrustes(t / s_g, p / s_p)
    return (p / s_p) @ r.T * s * s_g + mu_g


def _svd_reference_rotation_only(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Independent Umeyama with det R = +1 via scipy.linalg.svd. (P, 3) -> (P, 3)."""
    import scipy.linalg

    mu_p, mu_g = pred.mean(0), gt.mean(0)
    x, y = pred - mu_p, gt - mu_g
    u, d, vt = scipy.linalg.svd(y.T @ x)
    e = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    r = u @ e @ vt
    s = np.trace(np.diag(d) @ e) / (x**2).sum()
    return s * x @ r.T + mu_g


# ------------------------------------------------------------------ procrustes
def test_similar_copy_scores_zero_only_after_pa() -> None:
    rng = np.random.default_rng(0)
    gt = _hand(rng)
    pred = _similar_copy(gt, rng)
    assert M.mpjpe(pred, gt) > 10.0
    assert M.mpjpe(pred, gt, align="root") > 10.0
    assert M.pa_mpjpe(pred, gt) < 1e-6
    np.testing.assert_allclose(M.procrustes_align(pred, gt), gt, atol=1e-10)


def test_reflected_copy_needs_allow_reflection() -> None:
    rng = np.random.default_rng(1)
    gt = _hand(rng)
    pred = _similar_copy(gt, rng, reflect=True)
    assert M.pa_mpjpe(pred, gt, allow_reflection=True) < 1e-6
    no_reflect = M.pa_mpjpe(pred, gt, allow_reflection=False, reduce=False)
    assert np.all(no_reflect > 1.0)


def test_procrustes_matches_scipy_references() -> None:
    rng = np.random.default_rng(2)
    gt = _hand(rng, batch=6)
    pred = gt + rng.normal(scale=0.01, size=gt.shape)
    pred[0] = pred[0] @ np.diag([-1.0, 1.0, 1.0])  # one sample where a reflection helps
    ours_r = M.procrustes_align(pred, gt, allow_reflection=True)
    ours = M.procrustes_align(pred, gt, allow_reflection=False)
    for i in range(len(gt)):
        np.testing.assert_allclose(ours_r[i], _scipy_procrustes_reflect(pred[i], gt[i]), atol=1e-12)
        np.testing.assert_allclose(
            ours[i], _svd_reference_rotation_only(pred[i], gt[i]), atol=1e-12
        )
    # the reflection-allowed fit can only be better
    assert np.all(
        M.pa_mpjpe(pred, gt, True, reduce=False) <= M.pa_mpjpe(pred, gt, False, reduce=False) + 1e-9
    )


def test_procrustes_without_scale_is_rigid() -> None:
    rng = np.random.default_rng(3)
    gt = _hand(rng, batch=2)
    aligned = M.procrustes_align(2.0 * gt, gt, scale=False)
    centred = aligned - aligned.mean(-2, keepdims=True)
    ref = 2.0 * (gt - gt.mean(-2, keepdims=True))
    np.testing.assert_allclose(np.linalg.norm(centred, axis=-1), np.linalg.norm(ref, axis=-1))


def test_collapsed_prediction_goes_to_centroid() -> None:
    gt = _hand(np.random.default_rng(4), batch=1)
    pred = np.zeros_like(gt)
    aligned = M.procrustes_align(pred, gt)
    assert np.all(np.isfinite(aligned))
    np.testing.assert_allclose(aligned, np.broadcast_to(gt.mean(-2, keepdims=True), gt.shape))


# ------------------------------------------------------------------ mpjpe variants
def test_known_offset_gives_known_error() -> None:
    gt = _hand(np.random.default_rng(5))
    pred = gt + np.array([0.003, 0.004, 0.0])  # 5 mm everywhere
    assert M.mpjpe(pred, gt) == pytest.approx(5.0)
    assert M.root_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    assert M.pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    per = M.mpjpe(pred, gt, reduce=False)
    assert per.shape == (4,)
    np.testing.assert_allclose(per, 5.0)


def test_root_alignment_uses_root_index() -> None:
    gt = np.zeros((1, 3, 3))
    gt[0, 1, 0] = 0.01
    gt[0, 2, 0] = 0.02
    pred = gt.copy()
    pred[0, 2, 0] += 0.003  # only joint 2 moves by 3 mm
    assert M.mpjpe(pred, gt, align="root", root_index=0) == pytest.approx(1.0)  # 3 mm / 3
    assert M.mpjpe(pred, gt, align="root", root_index=2) == pytest.approx(2.0)  # 2 x 3 mm / 3


def test_scale_translation_alignment_matches_hand_computation() -> None:
    rng = np.random.default_rng(6)
    gt = _hand(rng, batch=2)
    pred = 1.3 * gt + 0.05  # scaled and shifted copy: sc_tr removes both exactly
    assert M.mpjpe(pred, gt, align="scale_translation") == pytest.approx(0.0, abs=1e-9)
    pred2 = gt.copy()
    pred2[:, 9] = gt[:, 0] + 2.0 * (gt[:, 9] - gt[:, 0])  # middle1 bone twice as long
    expected = []
    for p, g in zip(pred2, gt, strict=True):
        f = np.linalg.norm(g[9] - g[0]) / np.linalg.norm(p[9] - p[0])
        q = p * f
        q = q - q[0] + g[0]
        expected.append(np.linalg.norm(q - g, axis=-1).mean() * 1000)
    got = M.mpjpe(pred2, gt, align="scale_translation", reduce=False)
    np.testing.assert_allclose(got, expected)


def test_mpvpe_variants() -> None:
    rng = np.random.default_rng(7)
    gv = rng.normal(scale=0.05, size=(3, 50, 3))
    pv = gv + np.array([0.0, 0.0, 0.01])  # 10 mm shift
    assert M.mpvpe(pv, gv) == pytest.approx(10.0)
    assert M.pa_mpvpe(pv, gv) == pytest.approx(0.0, abs=1e-9)
    pr = np.zeros((3, 3)) + np.array([0.0, 0.0, 0.01])
    assert M.mpvpe(pv, gv, align="root", pred_root=pr, gt_root=np.zeros((3, 3))) == pytest.approx(
        0.0, abs=1e-9
    )
    with pytest.raises(ValueError, match="pred_root and gt_root"):
        M.mpvpe(pv, gv, align="root")
    with pytest.raises(ValueError, match="not available for vertices"):
        M.mpvpe(pv, gv, align="scale_translation")


# ------------------------------------------------------------------ F-score
def test_f_score_edge_cases() -> None:
    rng = np.random.default_rng(8)
    gt = rng.normal(scale=0.05, size=(2, 40, 3))
    np.testing.assert_allclose(M.f_score(gt, gt, 0.005), 1.0)
    np.testing.assert_allclose(M.f_score(gt + 1.0, gt, 0.015), 0.0)
    f, p, r = M.f_score_prf(gt + 1.0, gt, 0.015)
    np.testing.assert_allclose(p, 0.0)
    np.testing.assert_allclose(r, 0.0)


def test_f_score_partial_known_fraction() -> None:
    gt = np.stack([np.arange(10) * 0.1, np.zeros(10), np.zeros(10)], axis=-1)[None]  # (1, 10, 3)
    pred = gt.copy()
    pred[0, :4, 1] += 0.02  # 4 of 10 points 20 mm off (neighbours are 100 mm apart)
    f, p, r = M.f_score_prf(pred, gt, 0.005)
    assert p[0] == pytest.approx(0.6) and r[0] == pytest.approx(0.6)
    assert f[0] == pytest.approx(0.6)
    # different point counts: 5 predicted points, all on GT points -> P = 1, R = 0.5
    f2, p2, r2 = M.f_score_prf(gt[:, ::2], gt, 0.005)
    assert (p2[0], r2[0]) == (pytest.approx(1.0), pytest.approx(0.5))
    assert f2[0] == pytest.approx(2 * 0.5 / 1.5)


def test_f_score_matches_ckdtree() -> None:
    rng = np.random.default_rng(9)
    gt = rng.normal(scale=0.03, size=(3, 120, 3))
    pred = gt[:, :100] + rng.normal(scale=0.006, size=(3, 100, 3))
    f, p, r = M.f_score_prf(pred, gt, 0.005)
    for i in range(3):
        d_pg = cKDTree(gt[i]).query(pred[i])[0]
        d_gp = cKDTree(pred[i]).query(gt[i])[0]
        pi, ri = np.mean(d_pg < 0.005), np.mean(d_gp < 0.005)
        assert p[i] == pytest.approx(pi) and r[i] == pytest.approx(ri)
        assert f[i] == pytest.approx(2 * pi * ri / (pi + ri))


def test_f_score_chunking_gives_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(10)
    gt = rng.normal(scale=0.03, size=(5, 30, 3))
    pred = gt + rng.normal(scale=0.004, size=gt.shape)
    full = M.f_score(pred, gt, 0.005)
    monkeypatch.setattr(M, "_CDIST_MAX_ELEMENTS", 30 * 30 * 2)  # chunks of 2 samples
    np.testing.assert_allclose(M.f_score(pred, gt, 0.005), full)


def test_f_score_rejects_millimetre_threshold() -> None:
    x = np.zeros((1, 4, 3))
    with pytest.raises(ValueError, match="metres"):
        M.f_score(x, x, 5.0)


# ------------------------------------------------------------------ PCK / AUC
def test_auc_edge_cases() -> None:
    gt = _hand(np.random.default_rng(11))
    assert M.auc_pck(gt, gt) == pytest.approx(1.0)
    assert M.auc_pck(gt + 0.06, gt) == pytest.approx(0.0)  # 60 mm > 50 mm everywhere
    for e_mm in (7.3, 20.0, 33.3):
        pred = gt + np.array([e_mm / 1000.0, 0.0, 0.0])
        assert abs(M.auc_pck(pred, gt) - (1 - e_mm / 50.0)) <= 1.0 / 99 + 1e-12


def test_auc_matches_numpy_trapezoid_reference() -> None:
    rng = np.random.default_rng(12)
    gt = _hand(rng, batch=8)
    pred = gt + rng.normal(scale=0.015, size=gt.shape)
    err = np.linalg.norm(pred - gt, axis=-1) * 1000  # (S, P) mm
    thr = np.linspace(0, 50, 100)
    pck = (err[..., None] <= thr).mean(axis=0)  # (P, T), pooled over samples as HO-3D does
    ref = np.mean([np.trapezoid(c, thr) / 50.0 for c in pck])
    assert M.auc_pck(pred, gt) == pytest.approx(ref, abs=1e-12)
    assert M.auc_pck(pred, gt, reduce=False).mean() == pytest.approx(ref, abs=1e-12)
    t, curve = M.pck_curve(pred, gt, per_keypoint=True)
    np.testing.assert_allclose(t, thr)
    np.testing.assert_allclose(curve, pck)
    t2, mean_curve = M.pck_curve(pred, gt)
    np.testing.assert_allclose(mean_curve, pck.mean(0))
    assert np.all(np.diff(mean_curve) >= 0)


# ------------------------------------------------------------------ torch / numpy, batching
def test_torch_and_numpy_agree() -> None:
    rng = np.random.default_rng(13)
    gt = _hand(rng)
    pred = gt + rng.normal(scale=0.01, size=gt.shape)
    for fn in (M.pa_mpjpe, M.root_mpjpe, M.mpjpe, M.auc_pck):
        ref = fn(pred, gt)
        got64 = fn(torch.from_numpy(pred), torch.from_numpy(gt))
        got32 = fn(torch.from_numpy(pred).float(), torch.from_numpy(gt).float())
        assert isinstance(ref, np.floating) and isinstance(got64, torch.Tensor)
        assert got64.dtype == torch.float64 and got32.dtype == torch.float32
        assert float(got64) == pytest.approx(float(ref), rel=1e-10, abs=1e-12)
        assert float(got32) == pytest.approx(float(ref), rel=1e-3, abs=1e-3)
    f_np = M.f_score(pred, gt, 0.015)
    f_t = M.f_score(torch.from_numpy(pred), torch.from_numpy(gt), 0.015)
    np.testing.assert_allclose(f_t.numpy(), f_np)
    aligned = M.procrustes_align(torch.from_numpy(pred), gt)  # mixed -> torch
    assert isinstance(aligned, torch.Tensor)
    np.testing.assert_allclose(aligned.numpy(), M.procrustes_align(pred, gt), atol=1e-12)


def test_torch_gradients_flow() -> None:
    gt = torch.from_numpy(_hand(np.random.default_rng(14), batch=2))
    pred = (
        gt + 0.01 * torch.randn_like(gt, generator=torch.Generator().manual_seed(0))
    ).requires_grad_()
    loss = M.pa_mpjpe(pred, gt)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_arbitrary_leading_dims() -> None:
    rng = np.random.default_rng(15)
    gt = rng.normal(scale=0.04, size=(2, 3, 21, 3))
    pred = gt + rng.normal(scale=0.01, size=gt.shape)
    per = M.pa_mpjpe(pred, gt, reduce=False)
    assert per.shape == (2, 3)
    flat = M.pa_mpjpe(pred.reshape(6, 21, 3), gt.reshape(6, 21, 3), reduce=False)
    np.testing.assert_allclose(per.reshape(6), flat)
    assert M.f_score(pred, gt, 0.005).shape == (2, 3)
    assert M.auc_pck(pred, gt, reduce=False).shape == (2, 3)
    single = M.pa_mpjpe(pred[0, 0], gt[0, 0], reduce=False)  # (P, 3) -> ()
    assert np.ndim(single) == 0 and single == pytest.approx(per[0, 0])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("pred", "gt", "match"),
    [
        (np.zeros((2, 21, 3)), np.zeros((2, 20, 3)), "same shape"),
        (np.zeros((2, 21, 2)), np.zeros((2, 21, 2)), r"\(\.\.\., P, 3\)"),
        (np.full((1, 21, 3), np.nan), np.zeros((1, 21, 3)), "NaN"),
        (np.zeros(3), np.zeros(3), r"\(\.\.\., P, 3\)"),
    ],
)
def test_bad_input_raises_clear_error(pred: np.ndarray, gt: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        M.mpjpe(pred, gt)


def test_other_bad_input() -> None:
    x = np.zeros((1, 21, 3))
    with pytest.raises(ValueError, match="known alignment"):
        M.mpjpe(x, x, align="pa")
    with pytest.raises(ValueError, match="root_index=30"):
        M.mpjpe(x, x, align="root", root_index=30)
    with pytest.raises(TypeError, match="numpy array or a torch tensor"):
        M.mpjpe("abc", x)
    with pytest.raises(ValueError, match="leading"):
        M.f_score(np.zeros((2, 5, 3)), np.zeros((3, 5, 3)), 0.005)
    with pytest.raises(ValueError, match="both pred_verts and gt_verts"):
        M.evaluate_batch(x, x, pred_verts=np.zeros((1, 5, 3)))


# ------------------------------------------------------------------ evaluate_batch
def test_evaluate_batch_records() -> None:
    rng = np.random.default_rng(16)
    gj = _hand(rng, batch=5)
    gv = rng.normal(scale=0.04, size=(5, 60, 3))
    pj = gj + np.array([0.0, 0.002, 0.0])
    pv = gv + np.array([0.0, 0.002, 0.0])
    rec = M.evaluate_batch(pj, gj, pv, gv)
    expected = {"mpjpe", "root_mpjpe", "pa_mpjpe", "auc_j", "mpvpe", "root_mpvpe", "pa_mpvpe"}
    assert set(rec) == expected | {"auc_v", "f5", "f15"}
    assert all(v.shape == (5,) for v in rec.values())
    np.testing.assert_allclose(rec["mpjpe"], 2.0)
    np.testing.assert_allclose(rec["mpvpe"], 2.0)
    np.testing.assert_allclose(rec["root_mpvpe"], 0.0, atol=1e-9)
    np.testing.assert_allclose(rec["pa_mpjpe"], M.pa_mpjpe(pj, gj, reduce=False))
    np.testing.assert_allclose(rec["f5"], 1.0)
    assert rec["auc_j"].mean() == pytest.approx(M.auc_pck(pj, gj, align="procrustes"))
    rec_t = M.evaluate_batch(*(torch.from_numpy(a).requires_grad_() for a in (pj, gj, pv, gv)))
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in rec_t.values())
    np.testing.assert_allclose(rec_t["pa_mpvpe"].numpy(), rec["pa_mpvpe"], atol=1e-9)
    assert set(M.evaluate_batch(pj, gj)) == {"mpjpe", "root_mpjpe", "pa_mpjpe", "auc_j"}
