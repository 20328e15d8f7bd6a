"""The numpy rasteriser and ray-cast occluders agree with geometry."""

from __future__ import annotations

import numpy as np
import pytest

from handoccnet_lite.data import render as R

K = np.array([[150.0, 0, 63.5], [0, 150.0, 63.5], [0, 0, 1]])


def uv_sphere(radius=0.05, centre=(0, 0, 0.4), n=16, m=32):
    """Closed UV-sphere mesh (V, 3), (F, 3)."""
    th, ph = np.meshgrid(np.linspace(0, np.pi, n), np.linspace(0, 2 * np.pi, m, endpoint=False),
                         indexing="ij")  # fmt: skip
    v = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1)
    i, j = np.meshgrid(np.arange(n - 1), np.arange(m), indexing="ij")
    a, b = i * m + j, i * m + (j + 1) % m
    c, d = a + m, b + m
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([b, d, c], -1)]).reshape(-1, 3)
    return v.reshape(-1, 3) * radius + np.asarray(centre), faces


def inside_triangle(p, tri):
    """Independent point-in-triangle test by cross products (either winding)."""
    cross = lambda a, b: a[0] * b[1] - a[1] * b[0]
    s = [cross(tri[(k + 1) % 3] - tri[k], p - tri[k]) for k in range(3)]
    return all(x >= -1e-9 for x in s) or all(x <= 1e-9 for x in s)


@pytest.fixture(scope="module")
def hand_mesh():
    import torch

    from handoccnet_lite.hand import SynthHand, sample_poses

    model = SynthHand().double()
    pose = sample_poses(1, torch.Generator().manual_seed(3), mode="grasp").double()
    out = model(pose)
    verts = out.vertices[0].numpy() - out.vertices[0].numpy().mean(0) + [0, 0, 0.45]
    return verts, model.faces.numpy()


def test_single_triangle_coverage_matches_point_in_triangle():
    verts = np.array([[-0.05, -0.04, 0.5], [0.06, -0.01, 0.5], [0.0, 0.05, 0.6]])
    r = R.rasterize(verts, np.array([[0, 1, 2]]), K, 128, 128)
    uv = verts[:, :2] / verts[:, 2:] * 150 + 63.5
    ys, xs = np.mgrid[0:128, 0:128]
    expect = np.array(
        [inside_triangle(np.array([x, y]), uv) for x, y in zip(xs.ravel(), ys.ravel(), strict=True)]
    )
    assert r.mask.sum() > 200
    assert (r.mask.ravel() == expect).mean() > 0.999  # boundary ties only
    assert np.allclose(r.bary[r.mask].sum(-1), 1.0)


def test_nearer_surface_wins_regardless_of_face_order():
    quad = lambda z, s: np.array([[-s, -s, z], [s, -s, z], [s, s, z], [-s, s, z]])
    verts = np.concatenate([quad(0.3, 0.02), quad(0.5, 0.05)])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    for order in (faces, faces[::-1]):
        r = R.rasterize(verts, order, K, 128, 128)
        assert np.isclose(r.depth[64, 64], 0.3) and np.isclose(r.depth[64, 50], 0.5)
        assert (order[r.face[r.depth < 0.4]] < 4).all()  # near quad's faces


def test_hand_mask_pixels_project_from_the_mesh(hand_mesh):
    verts, faces = hand_mesh
    r = R.rasterize(verts, faces, K, 128, 128)
    uv = verts[:, :2] / verts[:, 2:] * 150 + 63.5
    ys, xs = np.nonzero(r.mask)
    assert len(xs) > 500
    rng = np.random.default_rng(0)
    for k in rng.choice(len(xs), 60, replace=False):
        p = np.array([xs[k], ys[k]], float)
        assert inside_triangle(p, uv[faces[r.face[ys[k], xs[k]]]])
        covering = [f for f in range(len(faces)) if inside_triangle(p, uv[faces[f]])]
        # the stored depth is the nearest covering triangle's depth at the pixel (plane z)
        zs = [_plane_depth(p, uv[faces[f]], verts[faces[f], 2]) for f in covering]
        assert np.isclose(r.depth[ys[k], xs[k]], min(zs), atol=1e-9)
    # and pixels well inside some triangle are covered
    tri = uv[faces[rng.choice(len(faces), 100)]]
    centres = np.round(tri.mean(1)).astype(int)
    hit = [inside_triangle(c.astype(float), t) for c, t in zip(centres, tri, strict=True)]
    ok = np.array(hit) & (centres >= 0).all(1) & (centres < 128).all(1)
    assert r.mask[centres[ok, 1], centres[ok, 0]].all()


def _plane_depth(p, tri_uv, z):
    """Perspective-correct depth of pixel p on a projected triangle (independent formula)."""
    T = np.array([[tri_uv[0, 0], tri_uv[1, 0], tri_uv[2, 0]],
                  [tri_uv[0, 1], tri_uv[1, 1], tri_uv[2, 1]], [1, 1, 1]])  # fmt: skip
    lam = np.linalg.solve(T, [p[0], p[1], 1.0])
    return 1.0 / (lam / z).sum()


def test_painter_agrees_with_zbuffer_on_a_closed_mesh():
    verts, faces = uv_sphere()
    a = R.rasterize(verts, faces, K, 128, 128)
    b = R.rasterize_painter(verts, faces, K, 128, 128)
    iou = (a.mask & b.mask).sum() / (a.mask | b.mask).sum()
    assert iou > 0.95  # fillPoly also covers boundary pixels: they differ on the rim only
    both = a.mask & b.mask
    assert np.median(np.abs(a.depth[both] - b.depth[both])) < 1e-6


def test_sphere_mesh_and_raycast_sphere_agree():
    verts, faces = uv_sphere(n=40, m=80)
    mesh = R.rasterize(verts, faces, K, 128, 128)
    rays = R.camera_rays(K, 128, 128).reshape(-1, 3)
    t, n = R.Sphere((0, 0, 0.4), 0.05).raycast(rays)
    hit = np.isfinite(t).reshape(128, 128)
    assert (hit ^ mesh.mask).sum() < 0.03 * hit.sum()
    assert np.allclose(np.linalg.norm(n[np.isfinite(t)], axis=1), 1.0)
    # hit points lie on the sphere; t is the depth z because rays have d_z = 1
    pts = rays[np.isfinite(t)] * t[np.isfinite(t), None]
    assert np.allclose(np.linalg.norm(pts - [0, 0, 0.4], axis=1), 0.05)
    assert np.allclose(pts[:, 2], t[np.isfinite(t)])


@pytest.mark.parametrize(
    "occ",
    [
        R.Cylinder((-0.03, 0.01, 0.35), (0.03, -0.01, 0.38), 0.012),
        R.Box(
            (0.01, 0.0, 0.3),
            tuple(map(tuple, np.eye(3)[[1, 0, 2]] * [1, -1, 1])),
            (0.02, 0.01, 0.015),
        ),  # fmt: skip
    ],
)
def test_cylinder_and_box_hits_lie_on_their_surface(occ):
    rays = R.camera_rays(K, 128, 128).reshape(-1, 3)
    t, n = occ.raycast(rays)
    hit = np.isfinite(t)
    assert 20 < hit.sum() < rays.shape[0]
    pts = rays[hit] * t[hit, None]
    if isinstance(occ, R.Cylinder):
        p0, p1 = np.asarray(occ.p0), np.asarray(occ.p1)
        ax = (p1 - p0) / np.linalg.norm(p1 - p0)
        h = (pts - p0) @ ax
        radial = np.linalg.norm(pts - p0 - h[:, None] * ax, axis=1)
        on_side = np.isclose(radial, occ.radius, atol=1e-9)
        on_cap = np.isclose(h, 0, atol=1e-9) | np.isclose(h, np.linalg.norm(p1 - p0), atol=1e-9)
        assert (on_side | on_cap).all() and (h > -1e-9).all()
    else:
        local = (pts - occ.center) @ np.asarray(occ.rotation)
        on_face = np.isclose(np.abs(local), occ.half, atol=1e-9).any(1)
        assert on_face.all() and (np.abs(local) <= np.asarray(occ.half) + 1e-9).all()
    assert np.allclose(np.linalg.norm(n[hit], axis=1), 1.0)
    assert ((n[hit] * rays[hit]).sum(1) <= 1e-9).all()  # outward normals face the camera


def test_lambert_ignores_winding_and_is_bounded():
    n = np.array([[0, 0, -1.0], [0, 0, 1.0]])  # same surface, both windings
    p = np.array([[0, 0, 0.5], [0, 0, 0.5]])
    light = np.array([0, 0, -1.0])
    out = R.lambert(n, p, light, 0.3, 0.6)
    assert np.allclose(out, 0.9)
    assert np.isclose(R.lambert(np.array([1.0, 0, 0]), p[0], light, 0.3, 0.6), 0.3)
