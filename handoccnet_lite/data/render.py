"""Rendering with numpy + OpenCV only: a vectorised z-buffer rasteriser for triangle meshes,
per-pixel ray casting for analytic occluders (sphere, capped cylinder, box), Lambert shading.

Pixel convention (OpenCV): pixel (column i, row j) has its centre at (x, y) = (i, j); a pixel is
covered by a triangle when its centre is inside the projected triangle (edge functions >= 0 after
orienting the triangle). Depths are camera-frame z in metres; `inf` marks empty pixels.

Two mesh rasterisers are provided: `rasterize` (vectorised z-buffer, exact per-pixel depth test,
the default) and `rasterize_painter` (depth-sorted triangles filled one by one with cv2.fillPoly,
approximate where triangles overlap in depth). benchmarks/bench_render.py measures both.

Occluders are ray-cast: with the camera at the origin and rays d = K^-1 (x, y, 1) (so d_z = 1),
the ray parameter t of a hit *is* the hit's depth z, directly comparable with the mesh z-buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NEAR = 1e-3  # metres: triangles with a vertex nearer than this are dropped


@dataclass
class Raster:
    """Output of the mesh rasteriser. H, W image size."""

    depth: np.ndarray  # (H, W) float64, z in metres, inf where empty
    face: np.ndarray  # (H, W) int32 face index, -1 where empty
    bary: np.ndarray  # (H, W, 3) float64 perspective-correct barycentrics (0 where empty)

    @property
    def mask(self) -> np.ndarray:
        return self.face >= 0  # (H, W) bool


# ----------------------------------------------------------------------------- mesh raster
def _edge_coefficients(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tri (F, 3, 2) pixel coords -> affine edge functions (F, 3, 3) with rows (A, B, C) so that
    l_k(x, y) = A x + B y + C is the barycentric of vertex k; and the signed doubled area (F,)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]  # (F, 2)
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    coef = np.empty((tri.shape[0], 3, 3))
    for k, (p, q) in enumerate(((b, c), (c, a), (a, b))):  # edge opposite vertex k
        coef[:, k, 0] = p[:, 1] - q[:, 1]
        coef[:, k, 1] = q[:, 0] - p[:, 0]
        coef[:, k, 2] = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        coef /= area[:, None, None]
    return coef, area


def _candidates(tri: np.ndarray, H: int, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enumerate every pixel centre inside each triangle's bounding box.
    Returns face ids, x, y (each (M,), M = sum of the boxes' areas)."""
    x0 = np.clip(np.ceil(tri[:, :, 0].min(1)), 0, W).astype(np.int64)  # (F,)
    x1 = np.clip(np.floor(tri[:, :, 0].max(1)), -1, W - 1).astype(np.int64)
    y0 = np.clip(np.ceil(tri[:, :, 1].min(1)), 0, H).astype(np.int64)
    y1 = np.clip(np.floor(tri[:, :, 1].max(1)), -1, H - 1).astype(np.int64)
    w = np.maximum(x1 - x0 + 1, 0)
    h = np.maximum(y1 - y0 + 1, 0)
    counts = w * h  # (F,)
    fid = np.repeat(np.arange(tri.shape[0]), counts)  # (M,)
    start = np.cumsum(counts) - counts
    local = np.arange(fid.shape[0]) - start[fid]  # (M,) index inside the face's box
    wf = w[fid]
    return fid, x0[fid] + local % wf, y0[fid] + local // wf


def rasterize(verts_cam: np.ndarray, faces: np.ndarray, K: np.ndarray, H: int, W: int) -> Raster:
    """Z-buffer rasterisation of a mesh. verts_cam (V, 3) camera frame, faces (F, 3) int.

    Every candidate (face, pixel) pair inside the faces' bounding boxes is tested at once; the
    nearest candidate per pixel wins (lexsort on (pixel, depth))."""
    verts_cam = np.asarray(verts_cam, np.float64)
    z = verts_cam[:, 2]  # (V,)
    uv = verts_cam[:, :2] / np.maximum(z, NEAR)[:, None] * np.diag(K)[:2] + K[:2, 2]  # (V, 2)
    uv[:, 0] += K[0, 1] * verts_cam[:, 1] / np.maximum(z, NEAR)  # skew (0 for real cameras)
    keep = (z[faces] > NEAR).all(1)
    faces = faces[keep]
    tri = uv[faces]  # (F, 3, 2)
    coef, area = _edge_coefficients(tri)
    ok = np.abs(area) > 1e-12
    faces, tri, coef = faces[ok], tri[ok], coef[ok]
    fid, px, py = _candidates(tri, H, W)  # (M,)
    c = coef[fid]  # (M, 3, 3)
    lam = c[:, :, 0] * px[:, None] + c[:, :, 1] * py[:, None] + c[:, :, 2]  # (M, 3)
    inside = (lam >= 0).all(1)
    fid, px, py, lam = fid[inside], px[inside], py[inside], lam[inside]
    inv_z = 1.0 / z[faces[fid]]  # (M, 3)
    w = lam * inv_z
    depth = 1.0 / w.sum(1)  # (M,) perspective-correct depth
    pid = py * W + px
    order = np.lexsort((depth, pid))  # by pixel, then nearest first
    first = np.ones(order.shape[0], bool)
    first[1:] = pid[order[1:]] != pid[order[:-1]]
    win = order[first]
    return _to_raster(pid[win], depth[win], np.flatnonzero(keep)[ok][fid[win]],
                      w[win] * depth[win, None], H, W)  # fmt: skip


def _to_raster(pid, depth, face, bary, H: int, W: int) -> Raster:
    """Scatter per-pixel winners into dense buffers."""
    out = Raster(np.full(H * W, np.inf), np.full(H * W, -1, np.int32), np.zeros((H * W, 3)))
    out.depth[pid], out.face[pid], out.bary[pid] = depth, face, bary
    return Raster(out.depth.reshape(H, W), out.face.reshape(H, W), out.bary.reshape(H, W, 3))


def rasterize_painter(
    verts_cam: np.ndarray, faces: np.ndarray, K: np.ndarray, H: int, W: int
) -> Raster:
    """Painter's algorithm: triangles sorted far to near, each filled with cv2.fillPoly (8 bits of
    sub-pixel precision) into a face-index image. Depth and barycentrics are then computed per
    pixel from the winning face's plane. Not exact where triangles interpenetrate in depth."""
    verts_cam = np.asarray(verts_cam, np.float64)
    z = verts_cam[:, 2]
    uv = verts_cam[:, :2] / np.maximum(z, NEAR)[:, None] * np.diag(K)[:2] + K[:2, 2]
    _, area = _edge_coefficients(uv[faces])
    keep = np.flatnonzero((z[faces] > NEAR).all(1) & (np.abs(area) > 1e-12))
    order = keep[np.argsort(-z[faces[keep]].mean(1), kind="stable")]  # far first
    pts = np.round(uv[faces[order]] * 256).astype(np.int32)  # (F, 3, 2) fixed point
    buf = np.full((H, W), -1, np.int32)
    for f, p in zip(order, pts, strict=True):
        cv2.fillPoly(buf, [p], int(f), lineType=cv2.LINE_8, shift=8)
    ys, xs = np.nonzero(buf >= 0)
    fid = buf[ys, xs]
    coef, _ = _edge_coefficients(uv[faces[fid]])
    lam = coef[:, :, 0] * xs[:, None] + coef[:, :, 1] * ys[:, None] + coef[:, :, 2]  # (M, 3)
    w = lam / z[faces[fid]]
    depth = 1.0 / w.sum(1)
    return _to_raster(ys * W + xs, depth, fid, w * depth[:, None], H, W)


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals. verts (V, 3), faces (F, 3) -> (V, 3)."""
    tri = verts[faces]  # (F, 3, 3)
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # (F, 3), |fn| = 2 area
    vn = np.zeros_like(verts)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


# ----------------------------------------------------------------------------- occluders
def camera_rays(K: np.ndarray, H: int, W: int) -> np.ndarray:
    """Ray directions through every pixel centre, d = K^-1 (x, y, 1): (H, W, 3) with d_z = 1."""
    xs, ys = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    pix = np.stack([xs, ys, np.ones_like(xs)], -1)  # (H, W, 3)
    return pix @ np.linalg.inv(K).T


@dataclass(frozen=True)
class Sphere:
    center: tuple[float, float, float]
    radius: float

    def raycast(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """d (N, 3) rays from the origin -> t (N,) (inf on a miss), unit normals (N, 3)."""
        c = np.asarray(self.center)
        a = (d * d).sum(1)
        b = d @ c
        disc = b * b - a * (c @ c - self.radius**2)
        t = np.where(disc >= 0, (b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
        t = np.where(t > NEAR, t, np.inf)
        n = (d * t[:, None] - c) / self.radius
        return t, np.nan_to_num(n)


@dataclass(frozen=True)
class Cylinder:
    """Capped cylinder of the given radius between points p0 and p1."""

    p0: tuple[float, float, float]
    p1: tuple[float, float, float]
    radius: float

    def raycast(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p0, p1 = np.asarray(self.p0), np.asarray(self.p1)
        length = np.linalg.norm(p1 - p0)
        ax = (p1 - p0) / length
        # side: |(t d - p0) x ax| = r  <=>  quadratic in t on the components orthogonal to ax
        dp = d - (d @ ax)[:, None] * ax  # (N, 3)
        op = -p0 - (-p0 @ ax) * ax  # (3,)
        a, b, c = (dp * dp).sum(1), dp @ op, op @ op - self.radius**2
        disc = b * b - a * c
        with np.errstate(divide="ignore", invalid="ignore"):
            t_side = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
        h = t_side * (d @ ax) - p0 @ ax  # height of the hit along the axis
        t_side = np.where((h >= 0) & (h <= length) & (t_side > NEAR), t_side, np.inf)
        t_caps, n_caps = self._caps(d, p0, p1, ax)
        hit_cap = t_caps < t_side
        t = np.where(hit_cap, t_caps, t_side)
        q = d * np.where(np.isfinite(t_side), t_side, 0)[:, None] - p0
        n_side = (q - (q @ ax)[:, None] * ax) / self.radius
        return t, np.where(hit_cap[:, None], n_caps, n_side)

    def _caps(self, d, p0, p1, ax) -> tuple[np.ndarray, np.ndarray]:
        t_best, n_best = np.full(d.shape[0], np.inf), np.zeros_like(d)
        dn = d @ ax
        for p, n in ((p0, -ax), (p1, ax)):
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (p @ ax) / dn
            rad2 = ((d * np.nan_to_num(t, posinf=0, neginf=0)[:, None] - p) ** 2).sum(1)
            good = np.isfinite(t) & (t > NEAR) & (rad2 <= self.radius**2) & (t < t_best)
            t_best = np.where(good, t, t_best)
            n_best[good] = n
        return t_best, n_best


@dataclass(frozen=True)
class Box:
    """Oriented box: centre, rotation (3, 3) as nested tuples (columns = box axes), half sizes."""

    center: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]
    half: tuple[float, float, float]

    def raycast(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R, h = np.asarray(self.rotation), np.asarray(self.half)
        o = -np.asarray(self.center) @ R  # ray origin in box coordinates
        dl = d @ R  # (N, 3)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / dl
            ta, tb = (-h - o) * inv, (h - o) * inv  # (N, 3) slabs
        tmin, tmax = np.minimum(ta, tb), np.maximum(ta, tb)
        t_near, axis = np.nanmax(tmin, 1), np.nanargmax(tmin, 1)
        t_far = np.nanmin(tmax, 1)
        hit = (t_near <= t_far) & (t_near > NEAR)
        t = np.where(hit, t_near, np.inf)
        sign = -np.sign(dl[np.arange(d.shape[0]), axis])
        n = R[:, axis].T * sign[:, None]  # (N, 3)
        return t, n


Occluder = Sphere | Cylinder | Box


def raycast_occluders(
    occluders: list, rays: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest hit among occluders. rays (N, 3) -> depth (N,), normal (N, 3), id (N,) (-1 miss)."""
    depth = np.full(rays.shape[0], np.inf)
    normal = np.zeros_like(rays)
    oid = np.full(rays.shape[0], -1, np.int32)
    for i, occ in enumerate(occluders):
        t, n = occ.raycast(rays)
        nearer = t < depth
        depth = np.where(nearer, t, depth)
        normal[nearer] = n[nearer]
        oid[nearer] = i
    return depth, normal, oid


def lambert(
    normals: np.ndarray, points: np.ndarray, light_dir: np.ndarray, ambient: float, diffuse: float
) -> np.ndarray:
    """Lambert + ambient intensity. normals, points (..., 3) camera frame; light_dir (3,) unit,
    from the surface towards the light. Normals are first turned towards the camera (at the
    origin), so the mesh winding does not matter. Returns (...,) intensity."""
    facing = np.sign((normals * -points).sum(-1, keepdims=True))  # (..., 1)
    n = normals * np.where(facing == 0, 1.0, facing)
    return ambient + diffuse * np.maximum(n @ light_dir, 0.0)
