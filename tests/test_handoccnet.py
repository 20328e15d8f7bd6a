"""HandOccNet end to end on the tiny preset: shapes, gradients, determinism, ablations, errors."""

from __future__ import annotations

import pytest
import torch

from handoccnet_lite.model.handoccnet import HandOccNet

OUTPUT_KEYS = {"joints_img", "joints", "verts", "pose", "shape", "rotmats", "gate", "heatmaps"}


def _model(seed: int = 0, **overrides) -> HandOccNet:
    torch.manual_seed(seed)
    return HandOccNet.from_config("tiny", **overrides)


def _images(batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def tiny() -> HandOccNet:
    """One tiny model shared by the tests below (oneDNN warms up once per process)."""
    return _model()


def test_output_shapes(tiny: HandOccNet) -> None:
    model = tiny.eval()
    out = model(_images())
    v = model.hand.num_vertices
    assert set(out) == OUTPUT_KEYS
    assert out["joints_img"].shape == (2, 21, 2) and out["joints"].shape == (2, 21, 3)
    assert out["verts"].shape == (2, v, 3) and out["pose"].shape == (2, 48)
    assert out["shape"].shape == (2, 10) and out["rotmats"].shape == (2, 16, 3, 3)
    assert out["gate"].shape == (2, 1, 8, 8)
    torch.testing.assert_close(out["joints"][:, 0], torch.zeros(2, 3))


def test_return_maps(tiny: HandOccNet) -> None:
    out = tiny.eval()(_images(), return_maps=True)
    assert set(out) == OUTPUT_KEYS | {"maps"}
    assert set(out["maps"]) == {"fit", "set"}
    assert out["maps"]["fit"] is not None and out["maps"]["set"] is not None
    assert out["heatmaps"].shape == (2, 21, 8, 8)


def test_every_parameter_gets_a_finite_gradient(tiny: HandOccNet) -> None:
    model = tiny.train()
    model.zero_grad(set_to_none=True)
    out = model(_images())
    loss = sum(out[k].pow(2).mean() for k in ("joints_img", "joints", "verts", "shape"))
    (loss + out["rotmats"].mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), name
    assert model.backbone.gate.conv.weight.grad.abs().sum() > 0


def test_deterministic_under_seed() -> None:
    a, b = _model(seed=7).eval(), _model(seed=7).eval()
    oa, ob = a(_images()), b(_images())
    for key in OUTPUT_KEYS:
        torch.testing.assert_close(oa[key], ob[key], rtol=0, atol=0)
    oc = _model(seed=8).eval()(_images())
    assert not torch.equal(oa["pose"], oc["pose"])


def test_fit_off_passes_the_primary_feature() -> None:
    model = _model(use_fit=False, use_set=False).eval()
    assert model.fit is None and model.set is None
    x = _images()
    out = model(x)
    ref = model.regressor(model.backbone(x).primary)
    torch.testing.assert_close(out["joints"], ref["joints"])
    with_set = _model(use_fit=False).eval()
    assert with_set.fit is None and with_set.set is not None
    assert with_set(x)["pose"].shape == (2, 48)


def test_set_off_is_identity() -> None:
    model = _model(use_set=False).eval()
    x = _images()
    primary, secondary, _ = model.backbone(x)
    feat, _ = model.fit(secondary, primary)
    torch.testing.assert_close(model(x)["joints"], model.regressor(feat)["joints"])


def test_wrong_inputs_raise_clear_errors(tiny: HandOccNet) -> None:
    model = tiny.eval()
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        model(torch.rand(1, 3, 128, 128))
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        model(torch.rand(1, 4, 64, 64))
    with pytest.raises(ValueError, match="choose one of"):
        HandOccNet.from_config("nope")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_forward_matches_cpu() -> None:
    model = _model().eval()
    x = _images()
    cpu = model(x)
    gpu = model.to("cuda")(x.to("cuda"))
    torch.testing.assert_close(gpu["joints"].cpu(), cpu["joints"], atol=1e-4, rtol=1e-3)


def test_feature_hooks_split_forward(tiny: HandOccNet) -> None:
    """forward == forward_features(extract_features(image)); the hooks check their input."""
    model = tiny.eval()
    images = _images(seed=3)
    with torch.no_grad():
        feat = model.extract_features(images)  # (2, 32, 8, 8)
        split = model.forward_features(feat)
        whole = model(images)
    assert feat.shape == (2, 32, 8, 8)
    for key in OUTPUT_KEYS:
        torch.testing.assert_close(split[key], whole[key])
    assert set(model.forward_features(feat, return_maps=True)) >= {"maps", "heatmaps"}
    names = [n for n, _ in model.named_parameters()]
    frozen = [n for n in names if n.startswith(tuple(p + "." for p in model.feature_modules))]
    assert frozen and not any(n.startswith("backbone.gate") for n in frozen)
    with pytest.raises(ValueError, match="pre-gate feature of shape"):
        model.forward_features(feat[:, :16])


def test_three_stage_backbone_drops_layer4() -> None:
    """backbone_stages=3 feeds C2..C4 to the FPN: no layer4, same output shapes."""
    full, short = _model(), _model(backbone_stages=3)
    assert short.backbone.trunk.layer4 is None and len(short.backbone.fpn.lateral) == 3
    n_full = sum(p.numel() for p in full.parameters())
    n_short = sum(p.numel() for p in short.parameters())
    assert n_full - n_short > 8_000_000  # ResNet-18 layer4 + its lateral
    out = short.eval()(_images())
    assert out["joints"].shape == (2, 21, 3) and out["gate"].shape == (2, 1, 8, 8)
