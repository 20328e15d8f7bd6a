"""MANOHand: the user's licensed MANO_RIGHT model, run through ``smplx.MANO``.

MANO itself is not shipped (its licence forbids redistribution). The official pickle holds
chumpy objects; chumpy does not build on Python 3.11, so the pickle is read with a restricted
unpickler that maps chumpy classes to a small array-holding stub and allows only a short list of
numpy / scipy.sparse / builtin names. Nothing else can be constructed or called while loading, so a
malicious pickle (e.g. one whose __reduce__ calls os.system) is refused instead of executed.
"""

from __future__ import annotations

import importlib
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .base import HandModel
from .joints import MANO_PARENTS, MANO_TIP_VERTEX_IDS
from .skinning import linear_blend_skinning

MANO_ENV = "HANDOCCNET_MANO_DIR"
MANO_FILES = ("MANO_RIGHT.pkl", "MANO_RIGHT.npz")
DEFAULT_TIPS = "manopth"
MANO_HELP = (
    "MANO is not part of handoccnet-lite: register on the MANO website "
    "(https://mano.is.tue.mpg.de), download the models, and put MANO_RIGHT.pkl (or an .npz with "
    f"the same keys) in a folder named by the environment variable {MANO_ENV} "
    f"(i.e. ${MANO_ENV}/MANO_RIGHT.pkl) or pass mano_dir=. Without it, the embedded SynthHand "
    "is used by default (load_hand_model('auto') or 'synth')."
)
# key -> expected shape; None = any size along that axis. V = 778 for the real model.
MANO_KEYS: dict[str, tuple[int | None, ...]] = {
    "v_template": (None, 3),
    "shapedirs": (None, 3, None),
    "posedirs": (None, 3, 135),
    "J_regressor": (16, None),
    "weights": (None, 16),
    "kintree_table": (2, 16),
    "f": (None, 3),
    "hands_components": (45, 45),
    "hands_mean": (45,),
}

# --------------------------------------------------------------------------- safe unpickling
_ALLOWED: dict[str, frozenset[str]] = {
    "numpy": frozenset({"ndarray", "dtype"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "_codecs": frozenset({"encode"}),  # bytes in protocol-2 pickles written by Python 3
    "copy_reg": frozenset({"_reconstructor"}),
    "copyreg": frozenset({"_reconstructor"}),
    "__builtin__": frozenset({"object", "set", "frozenset", "complex", "slice"}),
    "builtins": frozenset({"object", "set", "frozenset", "complex", "slice"}),
}
_SPARSE = frozenset({"csc_matrix", "csr_matrix", "coo_matrix", "csc_array", "csr_array"})
_RENAMED = {"copy_reg": "copyreg", "__builtin__": "builtins"}


class UnsafePickleError(pickle.UnpicklingError):
    """A MANO pickle asked for a class or function outside the allow-list."""


class ChumpyStub:
    """Stands in for any chumpy class while unpickling: keeps the array (chumpy's ``x``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.x = next((a for a in args if isinstance(a, np.ndarray)), None)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # (dict, slots) form
            state = next((s for s in state if isinstance(s, dict)), {})
        state = state if isinstance(state, dict) else {}
        arrays = [v for v in state.values() if isinstance(v, np.ndarray)]
        self.x = state.get("x", arrays[0] if arrays else None)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if self.x is None:
            raise pickle.UnpicklingError("a chumpy object in the MANO file held no array.")
        return np.asarray(self.x, dtype=dtype)


class SafeMANOUnpickler(pickle.Unpickler):
    """Resolves only chumpy (to ChumpyStub) and a short allow-list of numpy/scipy/builtins."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyStub
        if module.startswith("scipy.sparse") and name in _SPARSE:
            return getattr(importlib.import_module("scipy.sparse"), name)
        if name in _ALLOWED.get(module, ()):
            module = _RENAMED.get(module, module)
            if module.startswith("numpy.core") and np.lib.NumpyVersion(np.__version__) >= "2.0.0":
                module = module.replace("numpy.core", "numpy._core")
            return getattr(importlib.import_module(module), name)
        raise UnsafePickleError(
            f"refusing to load {module}.{name} from a MANO pickle: only numpy arrays, "
            "scipy sparse matrices and chumpy arrays are allowed (the file may be corrupt or "
            "malicious)."
        )


def _to_array(x: Any) -> np.ndarray:
    """chumpy stub / scipy sparse / array-like -> dense numpy array."""
    if hasattr(x, "toarray"):
        return np.asarray(x.toarray())
    return np.asarray(x)


def _check_arrays(arrays: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    missing = [k for k in MANO_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{source} lacks MANO keys {missing}; is it MANO_RIGHT? {MANO_HELP}")
    for key, shape in MANO_KEYS.items():
        got = arrays[key].shape
        if len(got) != len(shape) or any(
            s is not None and s != g for s, g in zip(shape, got, strict=True)
        ):
            raise ValueError(f"{source}: {key} has shape {got}, expected {shape} (None = any).")
    if arrays["shapedirs"].shape[2] < 10:
        raise ValueError(f"{source}: shapedirs has {arrays['shapedirs'].shape[2]} < 10 betas.")
    return arrays


def load_mano_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read MANO_RIGHT.pkl (safely, no chumpy needed) or .npz into dense numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no MANO model file at {path}. {MANO_HELP}")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                raw = {k: z[k] for k in z.files}
        else:
            with open(path, "rb") as fh:
                raw = SafeMANOUnpickler(fh, encoding="latin1").load()
    except UnsafePickleError:
        raise
    except Exception as err:  # truncated, not a pickle, object arrays in an npz ...
        raise ValueError(f"could not read the MANO file {path}: {err}. {MANO_HELP}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"{path} holds a {type(raw).__name__}, not MANO's dict. {MANO_HELP}")
    arrays = {k: _to_array(v) for k, v in raw.items() if k in MANO_KEYS or k == "hands_coeffs"}
    return _check_arrays(arrays, str(path))


def find_mano_file(mano_dir: str | os.PathLike | None = None) -> Path | None:
    """The MANO_RIGHT file in mano_dir (a folder or the file itself) or $HANDOCCNET_MANO_DIR."""
    where = mano_dir if mano_dir is not None else os.environ.get(MANO_ENV)
    if not where:
        return None
    where = Path(where).expanduser()
    if where.is_file():
        return where
    return next((where / n for n in MANO_FILES if (where / n).is_file()), None)


# --------------------------------------------------------------------------- the model
class MANOHand(HandModel):
    """MANO right hand via ``smplx.MANO`` (built from arrays through ``data_struct``).

    Args:
        mano_dir: folder holding MANO_RIGHT.pkl/.npz, or the file; default $HANDOCCNET_MANO_DIR.
        tips: fingertip vertex ids, a key of ``MANO_TIP_VERTEX_IDS`` ("smplx", "manopth",
            "ho3d") or 5 ids (thumb, index, middle, ring, pinky). Default "manopth": the ids
            HandOccNet's (and I2L-MeshNet's) mano.py adds to its joint regressor, so our 21
            joints mean what the paper's model predicts. Use "ho3d" to match HO-3D's ground
            truth handJoints3D exactly.
        use_pca: pose is (B, 3 + num_pca_comps) PCA coefficients instead of (B, 48).
        flat_hand_mean: True (default) makes the zero pose a flat hand, as in SynthHand and in
            HO-3D's annotations; False adds MANO's hands_mean (smplx's own default).
        arrays: MANO arrays (the keys of ``MANO_KEYS``) instead of a file, e.g. in tests.
    """

    def __init__(
        self,
        mano_dir: str | os.PathLike | None = None,
        tips: str | tuple[int, ...] = DEFAULT_TIPS,
        use_pca: bool = False,
        num_pca_comps: int = 45,
        flat_hand_mean: bool = True,
        arrays: dict[str, np.ndarray] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if arrays is None:
            path = find_mano_file(mano_dir)
            if path is None:
                raise FileNotFoundError(
                    f"MANO_RIGHT not found (mano_dir={mano_dir!r}). {MANO_HELP}"
                )
            arrays = load_mano_arrays(path)
        arrays = _check_arrays({k: _to_array(v) for k, v in arrays.items()}, "arrays")
        if not 1 <= num_pca_comps <= 45:
            raise ValueError(f"num_pca_comps must be in 1..45, got {num_pca_comps}.")
        self.use_pca, self.flat_hand_mean = use_pca and num_pca_comps < 45, flat_hand_mean
        self.pose_dim = 3 + (num_pca_comps if self.use_pca else 45)
        self.mano = _build_smplx_mano(arrays, self.use_pca, num_pca_comps, flat_hand_mean, dtype)
        self.register_buffer("faces", torch.as_tensor(arrays["f"].astype(np.int64)), False)
        mean = torch.as_tensor(arrays["hands_mean"], dtype=dtype)  # (45,) whatever flat_hand_mean
        self.register_buffer("mean_finger_pose", mean, persistent=False)
        self.register_buffer("parents", torch.tensor(MANO_PARENTS), persistent=False)
        # the tree as Python ints, read once: the skinning loop indexes with them (no .item())
        self.kinematic_parents: tuple[int, ...] = tuple(int(p) for p in self.mano.parents)
        self.tips = tips
        self.register_buffer("tip_vertex_ids", _tip_ids(tips, len(arrays["v_template"])), False)

    @property
    def v_template(self) -> Tensor:
        """(V, 3) the template mesh."""
        return self.mano.v_template

    def _skin(self, pose: Tensor, shape: Tensor) -> tuple[Tensor, Tensor]:
        """pose (B, pose_dim), shape (B, 10) -> vertices (B, V, 3), joints (B, 16, 3)."""
        m = self.mano  # smplx.MANO: its buffers, and its pose assembly (PCA, pose mean)
        hand_pose = pose[:, 3:]  # (B, 45) or (B, num_pca_comps)
        if self.use_pca:
            hand_pose = hand_pose @ m.hand_components  # (B, 45)
        full_pose = torch.cat([pose[:, :3], hand_pose], dim=1) + m.pose_mean  # (B, 48)
        return linear_blend_skinning(
            shape, full_pose, m.v_template, m.shapedirs, m.posedirs, m.J_regressor,
            self.kinematic_parents, m.lbs_weights,
        )  # fmt: skip


def _tip_ids(tips: str | tuple[int, ...], n_verts: int) -> Tensor:
    """(5,) long fingertip vertex ids from a convention name or explicit ids."""
    if isinstance(tips, str):
        if tips not in MANO_TIP_VERTEX_IDS:
            raise ValueError(f"tips must be one of {sorted(MANO_TIP_VERTEX_IDS)} or 5 vertex ids.")
        tips = MANO_TIP_VERTEX_IDS[tips]
    ids = torch.as_tensor(tuple(tips), dtype=torch.long)
    if ids.shape != (5,) or ids.min() < 0 or ids.max() >= n_verts:
        raise ValueError(f"tips must be 5 vertex ids in [0, {n_verts}), got {tuple(tips)}.")
    return ids


def _build_smplx_mano(arrays, use_pca, num_pca_comps, flat_hand_mean, dtype):
    """smplx.MANO from arrays, with no per-instance pose/shape parameters of its own."""
    import contextlib
    import io

    import smplx
    from smplx.utils import Struct

    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note about 10 betas
        return smplx.MANO(
            model_path="",
            data_struct=Struct(**arrays),
            is_rhand=True,
            use_pca=use_pca,
            num_pca_comps=num_pca_comps,
            flat_hand_mean=flat_hand_mean,
            create_global_orient=False,
            create_body_pose=False,
            create_hand_pose=False,
            create_betas=False,
            create_transl=False,
            dtype=dtype,
        )
