"""MANOHand with fake MANO files (random arrays in MANO's keys and shapes, never real weights)."""

import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch
from smplx.utils import Struct

from handoccnet_lite.hand import MANOHand, SynthHand, load_hand_model, load_mano_arrays
from handoccnet_lite.hand import joints as J
from handoccnet_lite.hand.joints import MANO_TIP_VERTEX_IDS

V = 778


def fake_mano_arrays(seed: int = 0) -> dict:
    """Random arrays with MANO_RIGHT's exact keys, shapes and dtypes."""
    rng = np.random.default_rng(seed)
    weights = rng.random((V, 16)) ** 4
    j_reg = rng.random((16, V)) * (rng.random((16, V)) < 0.05)
    j_reg[:, 0] += 1e-3
    return {
        "v_template": rng.normal(scale=0.04, size=(V, 3)),
        "shapedirs": rng.normal(scale=1e-3, size=(V, 3, 10)),
        "posedirs": rng.normal(scale=1e-3, size=(V, 3, 135)),
        "J_regressor": scipy.sparse.csc_matrix(j_reg / j_reg.sum(1, keepdims=True)),
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": np.array(
            [[4294967295] + list(J.MANO_PARENTS[1:]), list(range(16))], dtype=np.uint32
        ),  # fmt: skip
        "f": rng.integers(0, V, size=(1538, 3)).astype(np.uint32),
        "hands_components": rng.normal(size=(45, 45)),
        "hands_mean": rng.normal(scale=0.2, size=45),
        "hands_coeffs": rng.normal(size=(1554, 45)),
    }


def _stand_in_chumpy():
    """Modules `chumpy`, `chumpy.ch` with a Ch class holding its array in `x`, like chumpy."""
    ch_mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    ch_mod.Ch = Ch
    pkg = types.ModuleType("chumpy")
    pkg.ch = ch_mod
    return {"chumpy": pkg, "chumpy.ch": ch_mod}, Ch


def write_fake_pkl(folder, arrays) -> str:
    """Pickle like the official file: protocol 2, shapedirs as a chumpy object."""
    modules, Ch = _stand_in_chumpy()
    data = dict(arrays, shapedirs=Ch(arrays["shapedirs"]))
    sys.modules.update(modules)
    try:
        path = os.path.join(folder, "MANO_RIGHT.pkl")
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=2)
    finally:
        for name in modules:
            del sys.modules[name]
    return path


def dense(arrays):
    return {k: (v.toarray() if scipy.sparse.issparse(v) else v) for k, v in arrays.items()}


def direct_smplx(arrays, **kw):
    return smplx.MANO("", data_struct=Struct(**dense(arrays)), is_rhand=True, **kw)


@pytest.fixture()
def mano_dir(tmp_path):
    write_fake_pkl(str(tmp_path), fake_mano_arrays())
    return tmp_path


def _inputs(b=3, seed=0, pose_dim=48):
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(b, pose_dim, generator=g) * 0.5
    return pose, torch.randn(b, 10, generator=g), torch.randn(b, 3, generator=g) * 0.1


def test_pickle_needs_no_chumpy_and_is_read(mano_dir):
    assert "chumpy" not in sys.modules
    arrays = load_mano_arrays(mano_dir / "MANO_RIGHT.pkl")
    ref = fake_mano_arrays()
    np.testing.assert_array_equal(arrays["shapedirs"], ref["shapedirs"])
    np.testing.assert_array_equal(arrays["J_regressor"], ref["J_regressor"].toarray())


@pytest.mark.parametrize("flat", [True, False])
def test_matches_direct_smplx_and_adds_tips(mano_dir, flat):
    model = MANOHand(mano_dir, flat_hand_mean=flat)
    pose, shape, transl = _inputs()
    ours = model(pose, shape, transl)
    ref = direct_smplx(fake_mano_arrays(), use_pca=False, flat_hand_mean=flat)(
        betas=shape, global_orient=pose[:, :3], hand_pose=pose[:, 3:], transl=transl
    )
    assert torch.allclose(ours.vertices, ref.vertices, atol=1e-6)
    tips = ref.vertices[:, list(MANO_TIP_VERTEX_IDS["manopth"])]
    expected = J.mano_to_canonical(torch.cat([ref.joints, tips], 1))
    assert torch.allclose(ours.joints, expected, atol=1e-6)
    assert list(model.parameters()) == []  # nothing trainable hides in the layer


@pytest.mark.parametrize("tips", ["smplx", "ho3d", (1, 2, 3, 4, 5)])
def test_selectable_tip_convention(mano_dir, tips):
    model = MANOHand(mano_dir, tips=tips)
    out = model(*_inputs())
    ids = MANO_TIP_VERTEX_IDS[tips] if isinstance(tips, str) else tips
    tip_names = ["thumb4", "index4", "middle4", "ring4", "pinky4"]
    got = out.joints[:, [J.JOINT_NAMES.index(n) for n in tip_names]]
    assert torch.allclose(got, out.vertices[:, list(ids)])


def test_bad_tips_refused(mano_dir):
    with pytest.raises(ValueError, match="tips"):
        MANOHand(mano_dir, tips="openpose")
    with pytest.raises(ValueError, match="5 vertex ids"):
        MANOHand(mano_dir, tips=(1, 2, 3, 4, 9999))


def test_pca_option_matches_smplx(mano_dir):
    model = MANOHand(mano_dir, use_pca=True, num_pca_comps=6, flat_hand_mean=False)
    assert model.pose_dim == 9
    pose, shape, _ = _inputs(pose_dim=9)
    ref = direct_smplx(fake_mano_arrays(), use_pca=True, num_pca_comps=6, flat_hand_mean=False)
    expected = ref(betas=shape, global_orient=pose[:, :3], hand_pose=pose[:, 3:]).vertices
    assert torch.allclose(model(pose, shape).vertices, expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 9\)"):
        model(torch.zeros(1, 48))


def test_npz_form_and_explicit_file(tmp_path):
    arrays = dense(fake_mano_arrays())
    np.savez(tmp_path / "MANO_RIGHT.npz", **arrays)
    a = MANOHand(tmp_path)
    b = MANOHand(arrays=fake_mano_arrays())
    c = MANOHand(tmp_path / "MANO_RIGHT.npz")
    pose, shape, _ = _inputs()
    assert torch.allclose(a(pose, shape).vertices, b(pose, shape).vertices)
    assert torch.allclose(c(pose, shape).joints, b(pose, shape).joints)


def test_load_hand_model_uses_env_var(mano_dir, monkeypatch):
    monkeypatch.setenv("HANDOCCNET_MANO_DIR", str(mano_dir))
    assert isinstance(load_hand_model("auto"), MANOHand)
    assert isinstance(load_hand_model("mano"), MANOHand)
    assert isinstance(load_hand_model("synth"), SynthHand)
    assert isinstance(load_hand_model("auto", mano_dir=mano_dir / "nothing_here"), SynthHand)


def test_missing_file_explains_where_mano_comes_from(tmp_path, monkeypatch):
    monkeypatch.delenv("HANDOCCNET_MANO_DIR", raising=False)
    for call in (lambda: load_hand_model("mano"), lambda: MANOHand(tmp_path)):
        with pytest.raises(FileNotFoundError) as err:
            call()
        msg = str(err.value)
        assert "mano.is.tue.mpg.de" in msg and "HANDOCCNET_MANO_DIR/MANO_RIGHT.pkl" in msg
        assert "SynthHand" in msg and "regist" in msg


def test_unreadable_and_wrong_files(tmp_path):
    (tmp_path / "MANO_RIGHT.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises((ValueError, pickle.UnpicklingError), match="MANO"):
        MANOHand(tmp_path)
    arrays = fake_mano_arrays()
    arrays["weights"] = arrays["weights"][:, :15]
    with pytest.raises(ValueError, match="weights has shape"):
        MANOHand(arrays=arrays)
    del arrays["f"]
    with pytest.raises(ValueError, match=r"lacks MANO keys \['f'\]"):
        MANOHand(arrays=arrays)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvilEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("payload", ["system", "eval", "numpy_load"])
def test_malicious_pickle_is_refused(tmp_path, payload):
    marker = tmp_path / "pwned"
    evil = {
        "system": _Evil(str(marker)),
        "eval": _EvilEval(),
        "numpy_load": _NumpyLoad(str(marker)),
    }[payload]
    (tmp_path / "MANO_RIGHT.pkl").write_bytes(pickle.dumps({"v_template": evil}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        MANOHand(tmp_path)
    assert not marker.exists()


class _NumpyLoad:  # numpy.load would read another (arbitrary) pickle: not on the allow-list
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (np.load, (self.path,))


def test_gradients_flow_through_mano(mano_dir):
    model = MANOHand(mano_dir)
    pose, shape, _ = _inputs()
    pose.requires_grad_(), shape.requires_grad_()
    out = model(pose, shape)
    out.joints.sum().backward()
    assert pose.grad.abs().sum() > 0 and shape.grad.abs().sum() > 0


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_pickle_protocols_load(tmp_path, protocol):
    """Protocols 0/1 rebuild objects through copy_reg._reconstructor, like Python 2 files."""
    modules, Ch = _stand_in_chumpy()
    arrays = fake_mano_arrays()
    sys.modules.update(modules)
    try:
        blob = pickle.dumps(dict(arrays, shapedirs=Ch(arrays["shapedirs"])), protocol=protocol)
    finally:
        for name in modules:
            del sys.modules[name]
    assert b"_reconstructor" in blob
    (tmp_path / "MANO_RIGHT.pkl").write_bytes(blob)
    np.testing.assert_array_equal(
        load_mano_arrays(tmp_path / "MANO_RIGHT.pkl")["shapedirs"], arrays["shapedirs"]
    )


# ------------------------------------------------------------------ input validation, both backends
@pytest.fixture(params=["synth", "mano"], scope="module")
def model(request):
    return SynthHand() if request.param == "synth" else MANOHand(arrays=fake_mano_arrays())


def test_wrong_pose_size(model):
    with pytest.raises(ValueError, match=r"pose must have shape \(B, 48\).*global-orientation"):
        model(torch.zeros(2, 45))
    with pytest.raises(ValueError, match=r"pose\[None\]"):
        model(torch.zeros(48))


def test_wrong_shape_size_and_batch(model):
    with pytest.raises(ValueError, match=r"shape must have shape \(B, 10\)"):
        model(torch.zeros(2, 48), torch.zeros(2, 16))
    with pytest.raises(ValueError, match=r"batch size 1 but pose has 2.*expand"):
        model(torch.zeros(2, 48), torch.zeros(1, 10))
    with pytest.raises(ValueError, match=r"transl must have shape \(B, 3\)"):
        model(torch.zeros(2, 48), None, torch.zeros(2, 2))


def test_nan_and_dtype(model):
    bad = torch.zeros(1, 48)
    bad[0, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad)
    with pytest.raises(TypeError, match=r"floating-point.*\.float\(\)"):
        model(torch.zeros(1, 48, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model(np.zeros((1, 48), np.float32))


def test_device_mismatch(model):
    with pytest.raises(ValueError, match=r"is on meta but the model is on cpu.*\.to\("):
        model(torch.zeros(1, 48, device="meta"))


def test_batched_outputs(model):
    out = model(torch.zeros(5, 48), torch.zeros(5, 10))
    assert out.vertices.shape == (5, model.num_vertices, 3) and out.joints.shape == (5, 21, 3)
