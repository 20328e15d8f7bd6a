"""SynthOcc scenes: camera, hand placement, skin, light, procedural background, occluders placed
to hide a target fraction of the hand, and the compositing render with its ground truth.

Every random choice takes a `np.random.Generator`; one sample's scene depends only on the
generator it is given (see `synthocc.sample_rng`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from . import render as R
from .records import make_record

# Occlusion levels: range of the fraction of hand pixels hidden by objects.
OCCLUSION_LEVELS: dict[str, tuple[float, float]] = {
    "none": (0.0, 0.0),
    "light": (0.1, 0.3),
    "heavy": (0.4, 0.7),
}
# Base skin tones (linear-ish RGB in [0, 1]), light to dark.
SKIN_TONES = np.array(
    [[0.96, 0.80, 0.69], [0.92, 0.72, 0.57], [0.84, 0.62, 0.47],
     [0.70, 0.49, 0.34], [0.52, 0.35, 0.24], [0.34, 0.23, 0.16]]
)  # fmt: skip
OCCLUDER_KINDS: tuple[str, ...] = ("sphere", "cylinder", "box")
RASTERIZERS = {"zbuffer": R.rasterize, "painter": R.rasterize_painter}


@dataclass(frozen=True)
class SceneConfig:
    """Knobs of the scene sampler (recorded in the manifest)."""

    resolution: int = 128
    focal_range: tuple[float, float] = (1.1, 1.8)  # focal length / resolution
    fill_range: tuple[float, float] = (0.45, 0.8)  # hand bounding-sphere diameter / resolution
    grasp_prob: float = 0.5  # pose sampler mode "grasp" vs "random"
    beta_std: float = 0.8
    handheld_prob: float = 0.6  # occluder near the hand's depth, else "passing" nearer the camera
    distractor_prob: float = 0.4  # extra object behind the hand (never occludes)
    occlusion_tol: float = 0.02  # accepted miss when aiming at a target fraction
    blur_max: float = 0.7  # Gaussian blur sigma ~ U(0, blur_max) pixels
    rasterizer: str = "zbuffer"  # "zbuffer" (exact) or "painter" (cv2.fillPoly, faster >= 256 px)
    levels: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(OCCLUSION_LEVELS))


@dataclass
class Scene:
    """One sampled scene (everything but the hand mesh)."""

    K: np.ndarray  # (3, 3)
    skin: np.ndarray  # (3,) albedo
    light_dir: np.ndarray  # (3,) unit, towards the light
    light_color: np.ndarray  # (3,)
    ambient: float
    diffuse: float
    background: np.ndarray  # (H, W, 3) float in [0, 1]
    blur: float


# ----------------------------------------------------------------------------- sampling
def sample_camera(rng: np.random.Generator, cfg: SceneConfig) -> np.ndarray:
    """Pinhole intrinsics, square pixels, principal point jittered around the image centre."""
    res = cfg.resolution
    f = res * rng.uniform(*cfg.focal_range)
    c = (res - 1) / 2 + rng.normal(0, 0.02 * res, 2)
    return np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1.0]])


def place_hand(verts: np.ndarray, K: np.ndarray, rng: np.random.Generator, cfg: SceneConfig):
    """Translation (3,) putting the hand in view: its bounding sphere spans fill x resolution
    pixels, centred at a random pixel that keeps the sphere inside the frame."""
    centre = 0.5 * (verts.min(0) + verts.max(0))  # (3,)
    radius = np.linalg.norm(verts - centre, axis=1).max()
    fill = rng.uniform(*cfg.fill_range)
    z = 2 * radius * K[0, 0] / (fill * cfg.resolution)
    slack = 0.4 * (1 - fill) * cfg.resolution
    pix = K[:2, 2] + rng.uniform(-slack, slack, 2)
    target = z * np.linalg.solve(K, np.array([pix[0], pix[1], 1.0]))
    return target - centre


def sample_scene(rng: np.random.Generator, cfg: SceneConfig) -> Scene:
    """Camera, skin, light and background of one sample."""
    K = sample_camera(rng, cfg)
    tone = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.92, 1.08, 3)
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), -rng.uniform(0.3, 1.2)])
    return Scene(
        K=K,
        skin=np.clip(tone, 0, 1),
        light_dir=light / np.linalg.norm(light),
        light_color=rng.uniform(0.9, 1.1, 3),
        ambient=rng.uniform(0.25, 0.5),
        diffuse=rng.uniform(0.45, 0.8),
        background=procedural_texture(rng, cfg.resolution, cfg.resolution),
        blur=rng.uniform(0, cfg.blur_max),
    )


def procedural_texture(rng: np.random.Generator, H: int, W: int) -> np.ndarray:
    """Background: a colour gradient plus smooth noise, stripes or a checkerboard. (H, W, 3)."""
    ys, xs = np.mgrid[0:H, 0:W] / max(H, W)
    c0, c1 = rng.uniform(0.05, 0.95, (2, 3))
    ang = rng.uniform(0, 2 * np.pi)
    g = (np.cos(ang) * xs + np.sin(ang) * ys)[..., None]  # (H, W, 1)
    img = c0 + (c1 - c0) * (g - g.min()) / max(np.ptp(g), 1e-6)
    kind = rng.integers(3)
    if kind == 0:  # smooth noise: upsampled low-resolution random colours
        k = int(rng.integers(3, 9))
        small = rng.uniform(-0.25, 0.25, (k, k, 3)).astype(np.float32)
        img = img + cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:  # stripes
        freq, phase = rng.uniform(4, 20), rng.uniform(0, 2 * np.pi)
        a2 = rng.uniform(0, np.pi)
        s = np.sin(freq * np.pi * (np.cos(a2) * xs + np.sin(a2) * ys) + phase)
        img = img * (0.8 + 0.2 * (s > 0))[..., None]
    else:  # checkerboard
        n = rng.uniform(3, 10)
        chk = (np.floor(xs * n) + np.floor(ys * n)) % 2
        img = img * (0.75 + 0.25 * chk)[..., None]
    return np.clip(img, 0, 1)


# ----------------------------------------------------------------------------- occluders
def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) from a (not necessarily unit) quaternion (w, x, y, z); a Gaussian q gives
    a uniformly random rotation."""
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


def sample_shape_params(rng: np.random.Generator) -> np.ndarray:
    """(6,): a Gaussian quaternion (orientation) and two proportions in [0, 1)."""
    return np.concatenate([rng.normal(size=4), rng.uniform(0, 1, 2)])


def make_occluder(kind: str, centre: np.ndarray, size: float, shape_params: np.ndarray):
    """An occluder of the given kind scaled by `size` (metres) about `centre`.
    shape_params (6,) from `sample_shape_params`, fixed while `size` is searched."""
    c = tuple(float(v) for v in centre)
    if kind == "sphere":
        return R.Sphere(c, size)
    rot = quat_to_matrix(shape_params[:4])
    if kind == "cylinder":
        half_len = size * (1.5 + 3 * shape_params[4])
        axis = rot[:, 0] * half_len
        r = size * (0.35 + 0.4 * shape_params[5])
        return R.Cylinder(tuple(centre - axis), tuple(centre + axis), r)
    half = size * np.array([1.0, 0.3 + 1.2 * shape_params[4], 0.3 + 1.2 * shape_params[5]])
    return R.Box(c, tuple(map(tuple, rot)), tuple(float(h) for h in half))


def occlusion_of(occ, rays: np.ndarray, hand_depth: np.ndarray) -> float:
    """Fraction of hand pixels (rays (N, 3), their hand depths (N,)) hidden by occluder occ."""
    t, _ = occ.raycast(rays)
    return float((t < hand_depth).mean())


def place_occluder(
    rng: np.random.Generator,
    raster: R.Raster,
    K: np.ndarray,
    target: float,
    cfg: SceneConfig,
    tries: int = 4,
):
    """An occluder hiding about `target` of the hand's pixels: pick a kind, an anchor hand pixel
    and a depth (hand-held: near the hand's surface; passing: nearer the camera), then bisect the
    object's size. Returns (occluder, achieved fraction) of the best try."""
    ys, xs = np.nonzero(raster.mask)
    depth = raster.depth[ys, xs]  # (N,)
    rays = np.stack([xs, ys, np.ones_like(xs)], 1) @ np.linalg.inv(K).T  # (N, 3)
    best, best_err = None, np.inf
    for _ in range(tries):
        kind = OCCLUDER_KINDS[rng.integers(len(OCCLUDER_KINDS))]
        params = sample_shape_params(rng)
        i = rng.integers(len(xs))
        if rng.uniform() < cfg.handheld_prob:
            z = depth[i] - rng.uniform(-0.01, 0.04)
        else:
            z = depth[i] * rng.uniform(0.45, 0.8)
        centre = rays[i] * z
        occ, frac = _bisect_size(kind, centre, params, rays, depth, target, 0.5 * cfg.occlusion_tol)
        err = abs(frac - target)
        if err < best_err:
            best, best_err, best_frac = occ, err, frac
        if err <= cfg.occlusion_tol:
            break
    return best, best_frac


def _bisect_size(kind, centre, params, rays, depth, target, tol: float, steps: int = 14):
    """Geometric bisection of the object's size (occlusion grows with size for convex objects
    scaled about a fixed centre); stops early once within tol of the target."""
    lo, hi = 1e-3, 0.25  # metres
    occ, frac = make_occluder(kind, centre, hi, params), 1.0
    for _ in range(steps):
        mid = np.sqrt(lo * hi)
        cand = make_occluder(kind, centre, mid, params)
        f = occlusion_of(cand, rays, depth)
        if f < target:
            lo = mid
        else:
            hi = mid
        if abs(f - target) < abs(frac - target):
            occ, frac = cand, f
        if abs(f - target) <= tol:
            break
    return occ, frac


def distractor(rng: np.random.Generator, raster: R.Raster, K: np.ndarray, res: int):
    """An object behind the hand (farther than its farthest pixel): visible, never occluding."""
    far = raster.depth[raster.mask].max()
    z = far + rng.uniform(0.03, 0.15)
    pix = rng.uniform(0, res, 2)
    centre = z * np.linalg.solve(K, np.array([pix[0], pix[1], 1.0]))
    kind = OCCLUDER_KINDS[rng.integers(len(OCCLUDER_KINDS))]
    size = min(rng.uniform(0.03, 0.08), 0.9 * (z - far))
    return make_occluder(kind, centre, size, sample_shape_params(rng))


# ----------------------------------------------------------------------------- compositing
@dataclass
class Rendered:
    """A rendered image with its per-pixel ground truth."""

    image: np.ndarray  # (H, W, 3) uint8
    hand_mask: np.ndarray  # (H, W) bool: hand silhouette
    occluder_mask: np.ndarray  # (H, W) bool: visible object pixels
    occlusion_mask: np.ndarray  # (H, W) bool: hand pixels hidden by an object
    hand_depth: np.ndarray  # (H, W) hand z, inf off the hand
    occ_depth: np.ndarray  # (H, W) nearest object z, inf where none


def shade_hand(verts, faces, raster: R.Raster, scene: Scene, pix: np.ndarray) -> np.ndarray:
    """Gouraud-shaded hand colours (N, 3) at flat pixel indices pix (N,) of the hand mask."""
    vn = R.vertex_normals(verts, faces)
    albedo = scene.skin * (1 + 0.05 * np.sin(verts @ np.array([90.0, 60.0, 75.0])))[:, None]
    vcol = albedo * R.lambert(vn, verts, scene.light_dir, scene.ambient, scene.diffuse)[:, None]
    f = raster.face.reshape(-1)[pix]  # (N,)
    bary = raster.bary.reshape(-1, 3)[pix]  # (N, 3)
    return np.einsum("nk,nkc->nc", bary, vcol[faces[f]]) * scene.light_color


def shade_occluders(occluders, colors, rays, depth, normal, oid, scene: Scene) -> np.ndarray:
    """Lambert-shaded, striped object colours (N, 3) at the rays that hit an object."""
    pts = rays * np.where(np.isfinite(depth), depth, 0)[:, None]
    stripes = 0.85 + 0.15 * (np.sin(pts @ np.array([150.0, 110.0, 40.0])) > 0)
    light = R.lambert(normal, pts, scene.light_dir, scene.ambient, scene.diffuse)
    return colors[np.maximum(oid, 0)] * (stripes * light)[:, None] * scene.light_color


def composite(verts, faces, raster: R.Raster, scene: Scene, occluders, colors) -> Rendered:
    """Render background, hand and objects with per-pixel depth tests; build the masks."""
    H, W = raster.face.shape
    rays = R.camera_rays(scene.K, H, W).reshape(-1, 3)
    occ_d, occ_n, oid = R.raycast_occluders(occluders, rays)  # (HW,), (HW, 3), (HW,)
    hand_d = raster.depth.reshape(-1)
    occ_vis = occ_d < hand_d  # (HW,) object is the nearest surface
    img = scene.background.reshape(-1, 3).copy()
    hand_vis = raster.mask.reshape(-1) & ~occ_vis
    pix = np.flatnonzero(hand_vis)
    img[pix] = shade_hand(verts, faces, raster, scene, pix)
    if occ_vis.any():
        img[occ_vis] = shade_occluders(
            occluders, colors, rays[occ_vis], occ_d[occ_vis], occ_n[occ_vis], oid[occ_vis], scene
        )
    img = img.reshape(H, W, 3)
    if scene.blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), scene.blur)
    img8 = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    occ_mask = occ_vis.reshape(H, W)
    return Rendered(img8, raster.mask, occ_mask, raster.mask & occ_mask, raster.depth,
                    occ_d.reshape(H, W))  # fmt: skip


def joint_visibility(joints_2d: np.ndarray, joints_z: np.ndarray, r: Rendered) -> np.ndarray:
    """1 visible / 0 occluded or outside the image, per joint (see records.py for the rule)."""
    H, W = r.hand_mask.shape
    p = np.round(joints_2d).astype(np.int64)  # (J, 2)
    inside = (p[:, 0] >= 0) & (p[:, 0] < W) & (p[:, 1] >= 0) & (p[:, 1] < H)
    x, y = np.clip(p[:, 0], 0, W - 1), np.clip(p[:, 1], 0, H - 1)
    on_hand = r.hand_mask[y, x]
    hidden = np.where(on_hand, r.occlusion_mask[y, x], r.occ_depth[y, x] < joints_z)
    return (inside & ~hidden).astype(np.float32)


def render_sample(
    rng: np.random.Generator,
    verts: np.ndarray,
    joints: np.ndarray,
    faces: np.ndarray,
    pose: np.ndarray,
    shape: np.ndarray,
    target: float,
    index: int,
    cfg: SceneConfig,
) -> dict:
    """Place the posed hand (root at the origin) in a random scene with objects hiding about
    `target` of it; return the raw record (records.py). verts (V, 3), joints (21, 3)."""
    scene = sample_scene(rng, cfg)
    t = place_hand(verts, scene.K, rng, cfg)
    verts, joints = verts + t, joints + t
    res = cfg.resolution
    raster = RASTERIZERS[cfg.rasterizer](verts, faces, scene.K, res, res)
    occluders = []
    if target > 0 and raster.mask.any():
        occluders.append(place_occluder(rng, raster, scene.K, target, cfg)[0])
    if rng.uniform() < cfg.distractor_prob and raster.mask.any():
        occluders.append(distractor(rng, raster, scene.K, res))
    colors = rng.uniform(0.1, 0.95, (max(len(occluders), 1), 3))
    r = composite(verts, faces, raster, scene, occluders, colors)
    occl = float(r.occlusion_mask.sum() / max(r.hand_mask.sum(), 1))
    rec = make_record(
        r.image, scene.K, joints, verts, index, pose=pose, shape=shape, hand_mask=r.hand_mask,
        occluder_mask=r.occluder_mask, occlusion_mask=r.occlusion_mask, occlusion=occl,
    )  # fmt: skip
    rec["joints_vis"] = joint_visibility(rec["joints_2d"], rec["joints_cam"][:, 2], r)
    return rec
