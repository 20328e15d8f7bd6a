"""Occlude it yourself: add an object in 3D in front of a SynthOcc test hand and re-render.

A SynthOcc record keeps the camera K, the hand's camera-frame mesh and the per-pixel masks, but
not the scene's light or background; so the scene is re-rendered by compositing: the hand is
rasterised once (its per-pixel depth), the new object is ray-cast through every pixel
(`data.render`, the same analytic occluders SynthOcc uses), and wherever the object is nearer
than the hand (or hits the background) its Lambert-shaded pixels replace the stored image. The
masks follow the depth test: hand pixels behind the object become hidden hand
(``occlusion_mask``), its pixels join ``occluder_mask``, joints behind it become invisible, and
the occlusion fraction is recounted. The object is placed just in front of the hand's nearest
point and drawn over the scene's own objects (a simplification: their depth is not stored).

Placement is in the network's crop, what the student sees: centre (x, y) and size as fractions
of the crop side; `OccludableSample.render` maps them through the crop's inverse affine to full
frame pixels, then to metres at the object's depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

OCCLUDER_SHAPES: tuple[str, ...] = ("none", "disc", "box")
OCCLUDER_RGB = np.array([0.35, 0.45, 0.85])  # albedo of the placed object (blue-grey)
LIGHT_DIR = np.array([0.3, -0.4, -1.0]) / np.linalg.norm([0.3, -0.4, -1.0])  # towards the light
GAP_M = 0.01  # metres between the object's back and the hand's nearest point


@dataclass(frozen=True)
class OccluderSpec:
    """An object placed in front of the hand, in crop coordinates.

    shape "disc" is a sphere (a shaded disc on the image), "box" a cube facing the camera,
    "none" no object. x, y: centre as fractions of the crop side (0 left / top, 1 right /
    bottom); size: radius (disc) or half side (box) as a fraction of the crop side.
    """

    shape: str = "disc"
    x: float = 0.5
    y: float = 0.5
    size: float = 0.15

    def __post_init__(self) -> None:
        if self.shape not in OCCLUDER_SHAPES:
            raise ValueError(f"shape must be one of {OCCLUDER_SHAPES}, got {self.shape!r}.")
        if not (0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0):
            raise ValueError(
                f"x and y are fractions of the crop side in [0, 1], got ({self.x}, {self.y})."
            )
        if not 0.0 < self.size <= 1.0:
            raise ValueError(f"size is a fraction of the crop side in (0, 1], got {self.size}.")


class OccludableSample:
    """One raw SynthOcc record, ready to be re-rendered with an added object.

    record: `SynthOccDataset.record(i)`; aug_cfg: the dataset's AugmentConfig (augment=False, the
    centred crop the explorer shows); faces (F, 3): the hand model's triangles (the dataset's
    hand model, whose vertices the record holds). The hand is rasterised once here (~0.1 s);
    `render` then costs a ray cast and a composite.
    """

    def __init__(self, record: dict[str, Any], aug_cfg: Any, faces: Any) -> None:
        from handoccnet_lite.data import render as R
        from handoccnet_lite.data.dataset import crop_affine, crop_square

        if getattr(aug_cfg, "augment", True):
            raise ValueError("OccludableSample needs augment=False (the deterministic crop).")
        self.record, self.cfg = record, aug_cfg
        K = np.asarray(record["K"], np.float64)
        H, W = record["hand_mask"].shape
        f = np.asarray(faces.detach().cpu() if hasattr(faces, "detach") else faces, np.int64)
        raster = R.rasterize(np.asarray(record["verts_cam"], np.float64), f, K, H, W)
        hand = record["hand_mask"]
        self.hand_depth = np.where(hand, raster.depth, np.inf)  # (H, W) metres, inf off hand
        fill = np.median(raster.depth[np.isfinite(raster.depth)]) if raster.mask.any() else 1.0
        self.hand_depth[hand & ~np.isfinite(raster.depth)] = fill  # stored mask, raster missed
        self.near = float(self.hand_depth[hand].min()) if hand.any() else 1.0
        self.rays = R.camera_rays(K, H, W).reshape(-1, 3)  # (HW, 3), d_z = 1
        centre, side = crop_square(np.asarray(record["hand_box"], np.float64), aug_cfg.expand)
        self.A = crop_affine(centre, side, 0.0, aug_cfg.input_size)  # (2, 3) full -> crop
        self.focal = float(K[0, 0])

    def occluder(self, spec: OccluderSpec) -> Any:
        """The 3D object for `spec` (a `data.render` Sphere or Box), or None for shape "none"."""
        from handoccnet_lite.data import render as R

        if spec.shape == "none":
            return None
        S = self.cfg.input_size
        crop_px = np.array([spec.x * S - 0.5, spec.y * S - 0.5])
        full_px = np.linalg.solve(self.A[:, :2], crop_px - self.A[:, 2])  # (2,)
        radius_px = spec.size * S / abs(np.linalg.det(self.A[:, :2])) ** 0.5  # full-frame px
        z = (self.near - GAP_M) / (1.0 + radius_px / self.focal)  # back at near - GAP_M
        radius_m = radius_px * z / self.focal
        centre = z * np.array([(full_px[0] - self.K[0, 2]) / self.focal,
                               (full_px[1] - self.K[1, 2]) / self.K[1, 1], 1.0])  # fmt: skip
        if spec.shape == "disc":
            return R.Sphere(tuple(centre), radius_m)
        eye = tuple(tuple(row) for row in np.eye(3))
        return R.Box(tuple(centre), eye, (radius_m, radius_m, radius_m))

    @property
    def K(self) -> np.ndarray:
        return np.asarray(self.record["K"], np.float64)

    def render(self, spec: OccluderSpec) -> dict[str, Any]:
        """A new raw record: the scene with the object of `spec` added (the stored record's copy
        for shape "none"). Image, masks, joint visibility and occlusion fraction all change."""
        from handoccnet_lite.data import render as R

        rec = dict(self.record)
        obj = self.occluder(spec)
        if obj is None:
            return rec
        H, W = rec["hand_mask"].shape
        t, normal = obj.raycast(self.rays)  # (HW,), (HW, 3)
        front = self.front(t)  # (HW,)
        pts = self.rays[front] * t[front, None]  # (M, 3) hit points
        shade = R.lambert(normal[front], pts, LIGHT_DIR, 0.35, 0.65)  # (M,)
        img = rec["image"].reshape(-1, 3).copy()  # (HW, 3) uint8
        img[front] = np.clip(np.round(OCCLUDER_RGB * shade[:, None] * 255), 0, 255)
        front = front.reshape(H, W)
        rec["image"] = img.reshape(H, W, 3)
        rec["occluder_mask"] = rec["occluder_mask"] | front
        rec["occlusion_mask"] = rec["hand_mask"] & (rec["occlusion_mask"] | front)
        rec["occlusion"] = float(rec["occlusion_mask"].sum() / max(rec["hand_mask"].sum(), 1))
        rec["joints_vis"] = self._joints_vis(rec["joints_vis"], t.reshape(H, W))
        return rec

    def front(self, t: np.ndarray) -> np.ndarray:
        """(HW,) True where the object (ray depths t (HW,), inf on a miss) is the nearest
        surface: nearer than the hand, or over the background."""
        return (t < self.hand_depth.reshape(-1)) & np.isfinite(t)

    def object_mask(self, spec: OccluderSpec) -> np.ndarray:
        """(H, W) bool: the full-frame pixels where the placed object is seen."""
        H, W = self.record["hand_mask"].shape
        obj = self.occluder(spec)
        if obj is None:
            return np.zeros((H, W), bool)
        return self.front(obj.raycast(self.rays)[0]).reshape(H, W)

    def visible_centre(self) -> tuple[float, float]:
        """Centre (x, y) of the visible hand as crop fractions: where an object hides the most."""
        vis = self.record["hand_mask"] & ~self.record["occlusion_mask"]
        if not vis.any():
            return 0.5, 0.5
        ys, xs = np.nonzero(vis)
        c = self.A[:, :2] @ np.array([xs.mean(), ys.mean()]) + self.A[:, 2]  # crop pixels
        x, y = np.clip((c + 0.5) / self.cfg.input_size, 0.0, 1.0)
        return float(x), float(y)

    def _joints_vis(self, vis: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Joints whose pixel the object covers nearer than the joint become invisible (0)."""
        H, W = t.shape
        p = np.round(np.asarray(self.record["joints_2d"], np.float64)).astype(np.int64)  # (J, 2)
        x, y = np.clip(p[:, 0], 0, W - 1), np.clip(p[:, 1], 0, H - 1)
        hidden = t[y, x] < np.asarray(self.record["joints_cam"])[:, 2]  # (J,)
        return np.where(hidden, 0.0, vis).astype(np.float32)

    def item(self, spec: OccluderSpec) -> dict[str, Any]:
        """The model-ready item (INTERFACES.md) of the re-rendered scene, plus the cropped
        (S, S) masks "hidden_px", "visible_px", "occluder_px" in [0, 1] for drawing."""
        from handoccnet_lite.data.dataset import augment_sample

        from .maps import crop_mask

        rec = self.render(spec)
        item = augment_sample(rec, self.cfg, None)
        hand = crop_mask(rec, self.cfg, "hand_mask")  # (S, S)
        item["hidden_px"] = crop_mask(rec, self.cfg, "occlusion_mask")
        item["visible_px"] = np.clip(hand - item["hidden_px"], 0.0, 1.0)
        placed = dict(rec, occluder_mask=self.object_mask(spec))
        item["occluder_px"] = crop_mask(placed, self.cfg, "occluder_mask")
        return item
