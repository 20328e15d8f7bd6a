"""variant="official" FIT and SET reproduce the released modules' outputs with the same weights.

How tests/fixtures/official_transformers.pt was made (once, outside this repository; the
release's code is not in the repo and no script here runs it):
- the release github.com/namepllet/HandOccNet at commit 65ba997 was fetched; its
  common/nets/transformer.py was imported from /tmp with einops 0.8.2 and torch 2.14.1 (CPU);
- ``Transformer(inp_res=8, dim=32, depth=2, num_heads=4, mlp_ratio=4., injection=True)`` (FIT)
  and ``injection=False`` (SET). The release hard-codes its positional embeddings as
  (1, 256, 32, 32) whatever ``dim``/``inp_res`` are, so after construction each block's
  ``q_embedding``/``k_embedding`` was replaced by a (1, 32, 8, 8) parameter; no line of its code
  was changed;
- with torch.manual_seed(2022) every parameter was redrawn so the maps are far from uniform
  (z ~ N(0, 1)): embeddings z; gate convs' (encode_query2/encode_key2) weights 0.05 z so the
  summed gate is not all saturated; other weights z / sqrt(fan_in); LayerNorm weight 1 + 0.1 z;
  biases 0.1 z;
- inputs f_s, f_p, x ~ N(0, 1) of shape (2, 32, 8, 8); outputs ``FIT(f_s, f_p)`` and
  ``SET(x, x)`` (as main/model.py calls them) in eval mode under no_grad;
- saved: meta, the two module-relative state dicts, inputs and outputs (about 0.5 MB).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handoccnet_lite.config import TransformerConfig
from handoccnet_lite.model import FIT, SET
from handoccnet_lite.model.official import convert_official_fit_state, convert_official_set_state

FIXTURE = Path(__file__).parent / "fixtures" / "official_transformers.pt"
ATOL = 1e-5


@pytest.fixture(scope="module")
def release() -> dict:
    return torch.load(FIXTURE, weights_only=True)


def official_cfg(release: dict, path: str) -> TransformerConfig:
    meta = release["meta"]
    return TransformerConfig(
        variant="official",
        dim=meta["dim"],
        heads=meta["heads"],
        depth=meta["depth"],
        mlp_ratio=meta["mlp_ratio"],
        grid=meta["grid"],
        path=path,
    )


@pytest.mark.parametrize("path", ["explicit", "fused"])
def test_fit_reproduces_the_release(release: dict, path: str) -> None:
    part = release["fit"]
    fit = FIT(official_cfg(release, path)).eval()
    whole = {f"module.FIT.{k}": v for k, v in part["state"].items()}  # as in the checkpoint
    fit.load_state_dict(convert_official_fit_state(whole), strict=True)
    with torch.no_grad():
        out, _ = fit(part["f_s"], part["f_p"])
    assert part["out"].abs().mean() > 0.1  # the reference is not trivially small
    torch.testing.assert_close(out, part["out"], atol=ATOL, rtol=1e-5)


def test_fixture_gate_is_informative(release: dict) -> None:
    """The gate is neither all 0 nor all 1 in the fixture, so it is really being compared."""
    part = release["fit"]
    fit = FIT(official_cfg(release, "explicit")).eval()
    fit.load_state_dict(convert_official_fit_state(part["state"]))
    with torch.no_grad():
        _, maps = fit(part["f_s"], part["f_p"], return_maps=True)
    gates = torch.cat([g.flatten() for g in maps.gate])
    assert ((gates > 0.05) & (gates < 0.95)).float().mean() > 0.1


@pytest.mark.parametrize("path", ["explicit", "fused"])
def test_set_reproduces_the_release(release: dict, path: str) -> None:
    part = release["set"]
    st = SET(official_cfg(release, path)).eval()
    st.load_state_dict(convert_official_set_state(part["state"]), strict=True)  # module-relative
    with torch.no_grad():
        out, _ = st(part["x"])
    assert part["out"].abs().mean() > 0.1
    torch.testing.assert_close(out, part["out"], atol=ATOL, rtol=1e-5)


def test_supplement_is_not_the_release(release: dict) -> None:
    """The pseudocode's SET (projected-q residual, no GELU, no embeddings) gives other numbers."""
    part = release["set"]
    meta = release["meta"]
    sup = SET(TransformerConfig(variant="supplement", dim=meta["dim"], grid=meta["grid"]))
    with torch.no_grad():
        out, _ = sup(part["x"])
    assert (out - part["out"]).abs().max() > 1e-2
