"""The user's MANO as the real-set loaders need it: a hand model for the mesh and the PCA basis
of the poses that Dex-YCB and HandOccNet's JSONs store."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .frames import mirror_pose


@dataclass
class ManoAssets:
    """What the real-set loaders need from the user's MANO: a hand model for the mesh and the
    PCA basis (hands_components (45, 45), hands_mean (45,)) for Dex-YCB's pose_m and HandOccNet's
    JSON poses (which exclude hands_mean). ``model`` may be any HandModel (e.g. SynthHand in
    tests of the geometry); PCA conversions need the arrays."""

    model: Any  # handoccnet_lite.hand.HandModel, float64, eval mode
    hands_components: np.ndarray | None = None  # (45, 45)
    hands_mean: np.ndarray | None = None  # (45,)
    left_components: np.ndarray | None = field(default=None)  # MANO_LEFT's, when available
    left_mean: np.ndarray | None = field(default=None)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], left: dict | None = None) -> ManoAssets:
        """From MANO_RIGHT arrays (``hand.load_mano_arrays`` keys); MANOHand in float64."""
        import torch

        from ..hand import MANOHand

        model = MANOHand(arrays=arrays, tips="ho3d", dtype=torch.float64).double().eval()
        return cls(
            model, np.asarray(arrays["hands_components"], np.float64),
            np.asarray(arrays["hands_mean"], np.float64),
            None if left is None else np.asarray(left["hands_components"], np.float64),
            None if left is None else np.asarray(left["hands_mean"], np.float64),
        )  # fmt: skip

    def pca_to_axis_angle(self, coeffs: np.ndarray, left: bool = False) -> np.ndarray:
        """(45,) PCA coefficients (manopth, flat_hand_mean=False) -> (45,) axis-angle of the
        annotated hand in the flat convention (zero = flat hand): hands_mean + coeffs @
        hands_components. A left hand uses MANO_LEFT's basis when it was loaded; otherwise the
        mirror of the right basis (MANO's left model mirrors the right one)."""
        if self.hands_components is None or self.hands_mean is None:
            raise ValueError("PCA pose conversion needs MANO's hands_components; load MANO.")
        coeffs = np.asarray(coeffs, np.float64)
        if left and self.left_components is not None:
            return self.left_mean + coeffs @ self.left_components
        aa = self.hands_mean + coeffs @ self.hands_components  # (45,)
        return mirror_pose(np.r_[0.0, 0.0, 0.0, aa])[3:] if left else aa

    def mesh(self, pose: np.ndarray, shape: np.ndarray, root: np.ndarray) -> np.ndarray:
        """(V, 3) vertices of MANO(pose, shape) translated so that its wrist sits at ``root``."""
        import torch

        with torch.no_grad():
            out = self.model(torch.as_tensor(pose, dtype=torch.float64)[None],
                             torch.as_tensor(shape, dtype=torch.float64)[None])  # fmt: skip
        verts, joints = out.vertices[0].numpy(), out.joints[0].numpy()  # (V, 3), (21, 3)
        return verts - joints[0] + np.asarray(root, np.float64)

    def mesh_with_transl(self, pose: np.ndarray, shape: np.ndarray, transl: np.ndarray):
        """(V, 3) vertices of MANO(pose, shape) + transl (MANO's own translation convention)."""
        import torch

        f64 = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)[None]
        with torch.no_grad():
            out = self.model(f64(pose), f64(shape), f64(transl))
        return out.vertices[0].numpy()  # (V, 3)

    def rest_root(self, shape: np.ndarray) -> np.ndarray:
        """(3,) rest-pose wrist J0 for these betas (zero pose, no translation)."""
        import torch

        with torch.no_grad():
            out = self.model(torch.zeros(1, 48, dtype=torch.float64),
                             torch.as_tensor(shape, dtype=torch.float64)[None])  # fmt: skip
        return out.joints[0, 0].numpy()


def load_mano_assets(mano_dir: str | os.PathLike | None = None) -> ManoAssets | None:
    """ManoAssets from mano_dir or $HANDOCCNET_MANO_DIR (MANO_RIGHT, and MANO_LEFT next to it if
    present); None when no MANO file is found (loaders then set has_mano / has_verts to 0)."""
    from ..hand import find_mano_file, load_mano_arrays

    path = find_mano_file(mano_dir)
    if path is None:
        return None
    left_path = path.with_name(path.name.replace("RIGHT", "LEFT"))
    left = load_mano_arrays(left_path) if left_path.is_file() else None
    return ManoAssets.from_arrays(load_mano_arrays(path), left)


def resolve_mano(mano: ManoAssets | str | os.PathLike | None) -> ManoAssets | None:
    """``"auto"``: $HANDOCCNET_MANO_DIR; a path: that folder; ManoAssets: as is; None: none."""
    if mano is None or isinstance(mano, ManoAssets):
        return mano
    return load_mano_assets(None if mano == "auto" else mano)
