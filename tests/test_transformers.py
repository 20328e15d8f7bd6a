"""FIT and SET: shapes, gradients, the two computation paths, the maps, both variants, errors."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from handoccnet_lite.config import TransformerConfig
from handoccnet_lite.model import FIT, SET, AttentionMaps
from handoccnet_lite.model import attention as A
from handoccnet_lite.model.official import (
    KEYS_PATH,
    convert_official_fit_state,
    convert_official_set_state,
    official_transformer_keys,
)

C, HEADS, G, B = 32, 4, 8, 2
VARIANTS = ("supplement", "official")
MODES = ("softmax_sigmoid", "softmax", "sigmoid")
POOLS = ("mean", "sum")


def cfg_of(variant: str = "official", **changes) -> TransformerConfig:
    base = TransformerConfig(variant=variant, dim=C, heads=HEADS, depth=2, grid=G)
    return dataclasses.replace(base, **changes)


def feats(*shape: int, n: int = 2, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen) for _ in range(n)]


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Weights of unit-scale activations (the release init makes every map nearly uniform)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("weight") and p.ndim > 1:
                std = 1 / math.sqrt(p[0].numel()) * (0.3 if "_sig" in name else 1.0)
            else:
                std = 1.0 if "pos_" in name else 0.1
            p.copy_(torch.randn(p.shape, generator=gen) * std)
    return module


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


# --------------------------------------------------------------------------- shapes, grads
@pytest.mark.parametrize("variant", VARIANTS)
def test_shapes_and_maps(variant: str) -> None:
    cfg = cfg_of(variant)
    f_s, f_p = feats(B, C, G, G)
    out, maps = FIT(cfg)(f_s, f_p, return_maps=True)
    heads, blocks, n = cfg.num_heads, cfg.num_blocks, G * G
    assert out.shape == (B, C, G, G)
    assert isinstance(maps, AttentionMaps) and maps.num_blocks == blocks
    assert [m.shape for m in maps.softmax] == [(B, heads, n, n)] * blocks
    assert [m.shape for m in maps.gate] == [(B, heads, n, 1)] * blocks
    assert [m.shape for m in maps.product] == [(B, heads, n, n)] * blocks
    for attn, gate, product in zip(maps.softmax, maps.gate, maps.product, strict=True):
        torch.testing.assert_close(attn.sum(-1), torch.ones(B, heads, n))
        assert ((gate >= 0) & (gate <= 1)).all()
        torch.testing.assert_close(product, attn * gate)
    out, maps = SET(cfg)(out, return_maps=True)
    assert out.shape == (B, C, G, G) and maps.gate == []
    assert [m.shape for m in maps.softmax] == [(B, heads, n, n)] * blocks
    assert all(p is s for p, s in zip(maps.product, maps.softmax, strict=True))
    assert FIT(cfg)(f_s, f_p)[1] is None and SET(cfg)(f_s)[1] is None


SHIFT_INVARIANT = ("key_soft.bias", "key.bias")  # softmax_j(q_i . (k_j + b)) ignores b


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_gradients_reach_every_parameter(variant: str, mode: str) -> None:
    """Every parameter gets a finite, non-zero gradient, except the softmax keys' biases.

    q_i . (W k_j + b) = q_i . W k_j + q_i . b: the bias adds the same logit to every key of a
    row, and softmax is shift invariant, so its gradient is zero (up to rounding).
    """
    torch.manual_seed(0)
    cfg = cfg_of(variant, attention=mode)
    fit, st = FIT(cfg), SET(cfg)  # the release's init: what training starts from
    f_s, f_p = feats(B, C, G, G)
    out, _ = st(fit(f_s, f_p)[0])
    out.square().sum().backward()
    named = dict([*fit.named_parameters(prefix="fit"), *st.named_parameters(prefix="set")])
    for name, p in named.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name.endswith(SHIFT_INVARIANT):
            weight_grad = named[name.replace(".bias", ".weight")].grad
            assert p.grad.norm() < 1e-3 * weight_grad.norm(), name
        else:
            assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_unused_branches_are_not_built() -> None:
    names = {n for n, _ in FIT(cfg_of(attention="softmax")).named_parameters()}
    assert not any("_sig" in n for n in names) and any("query_soft" in n for n in names)
    names = {n for n, _ in FIT(cfg_of(attention="sigmoid")).named_parameters()}
    assert not any("_soft" in n for n in names) and any("query_sig" in n for n in names)


@pytest.mark.parametrize("variant", VARIANTS)
def test_deterministic_under_a_seed(variant: str) -> None:
    f_s, f_p = feats(B, C, G, G)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        fit, st = FIT(cfg_of(variant)), SET(cfg_of(variant))
        outs.append(st(randomize_(fit)(f_s, f_p)[0])[0])
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(124)
    assert not torch.equal(FIT(cfg_of(variant)).blocks[0].value.weight, fit.blocks[0].value.weight)


#: float32 comparisons: CPU vs CUDA with TF32 off.
FP32_RTOL = 1e-4
#: CUDA with its defaults: cuDNN convolutions run in TF32 (torch.backends.cudnn.allow_tf32 is
#: True; matmuls stay float32), whose operands keep 10 mantissa bits, i.e. a relative rounding
#: error up to 2**-11 each; a product of two rounded operands is off by up to 2**-10, and the
#: 1x1 projections of two FIT blocks and two SET blocks compound it. Emulated on the CPU
#: (`tf32_convolutions`) the error is 2.2e-4 (supplement) and 3.6e-4 (official): over
#: FP32_RTOL, 10x under this bound.
TF32_RTOL = 4 * 2**-10  # 3.9e-3


def round_to_tf32(x: torch.Tensor) -> torch.Tensor:
    """float32 -> nearest value with a 10-bit mantissa (TF32's), still stored as float32."""
    bits = x.contiguous().view(torch.int32)
    rounded = (bits + 0x1000) & ~0x1FFF  # round half up at bit 13 of the 23-bit mantissa
    return rounded.view(torch.float32)


class tf32_convolutions:
    """Context: every nn.Conv2d of `modules` computes from TF32-rounded input and weight, as
    cuDNN does with allow_tf32 (accumulation stays float32)."""

    def __init__(self, *modules: nn.Module) -> None:
        self.convs = [m for mod in modules for m in mod.modules() if isinstance(m, nn.Conv2d)]

    def __enter__(self) -> None:
        self.saved = [c.weight.detach().clone() for c in self.convs]
        with torch.no_grad():
            for c in self.convs:
                c.weight.copy_(round_to_tf32(c.weight))
        self.hooks = [
            c.register_forward_pre_hook(lambda _m, args: (round_to_tf32(args[0]),))
            for c in self.convs
        ]

    def __exit__(self, *exc: object) -> None:
        for h in self.hooks:
            h.remove()
        with torch.no_grad():
            for c, w in zip(self.convs, self.saved, strict=True):
                c.weight.copy_(w)


def test_round_to_tf32_keeps_10_mantissa_bits() -> None:
    x = torch.tensor([1 + 2**-10, 1 + 2**-11 + 2**-13, 1 + 2**-12, -3.0])
    assert round_to_tf32(x).tolist() == [1 + 2**-10, 1 + 2**-10, 1.0, -3.0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_tf32_tolerance_covers_emulated_tf32(variant: str) -> None:
    """The CUDA comparison below with TF32 convolutions: FP32_RTOL would fail, TF32_RTOL holds."""
    fit, st = randomize_(FIT(cfg_of(variant))), randomize_(SET(cfg_of(variant)))
    f_s, f_p = feats(B, C, G, G)
    ref = st(fit(f_s, f_p)[0])[0]
    with tf32_convolutions(fit, st):
        out = st(fit(f_s, f_p)[0])[0]
    err = rel_err(out, ref)
    assert FP32_RTOL < err < TF32_RTOL, err


@pytest.fixture
def cuda_tf32(request: pytest.FixtureRequest):
    """Set cuDNN's TF32 switch (and matmul precision) for one test, then restore them."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = request.param
    yield request.param
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cuda_tf32", [False, True], indirect=True, ids=["fp32", "tf32"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_cuda_matches_cpu(variant: str, cuda_tf32: bool) -> None:
    fit, st = randomize_(FIT(cfg_of(variant))), randomize_(SET(cfg_of(variant)))
    f_s, f_p = feats(B, C, G, G)
    ref = st(fit(f_s, f_p)[0])[0]
    fit, st = fit.to("cuda"), st.to("cuda")
    out = st(fit(f_s.to("cuda"), f_p.to("cuda"))[0])[0]
    assert rel_err(out.cpu(), ref) < (TF32_RTOL if cuda_tf32 else FP32_RTOL)


# --------------------------------------------------------------------------- explicit vs fused
@pytest.mark.parametrize("grid", [8, 16, 32])
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_fit_explicit_equals_fused(variant: str, mode: str, pool: str, grid: int) -> None:
    cfg = TransformerConfig(variant=variant, dim=16, heads=4, grid=grid, attention=mode)
    cfg = dataclasses.replace(cfg, gate_pool=pool)
    fit = randomize_(FIT(cfg), seed=grid)
    f_s, f_p = feats(1, 16, grid, grid, seed=grid)
    fused = FIT(dataclasses.replace(cfg, path="fused"))
    fused.load_state_dict(fit.state_dict())
    with torch.no_grad():
        explicit, maps = fit(f_s, f_p, return_maps=True)
        out, no_maps = fused(f_s, f_p)
    assert no_maps is None and maps is not None and explicit.norm() > 0
    assert rel_err(out, explicit) < 1e-5


@pytest.mark.parametrize("grid", [8, 16, 32])
@pytest.mark.parametrize("variant", VARIANTS)
def test_set_explicit_equals_fused(variant: str, grid: int) -> None:
    cfg = TransformerConfig(variant=variant, dim=16, heads=4, grid=grid)
    st = randomize_(SET(cfg), seed=grid)
    (x,) = feats(1, 16, grid, grid, n=1, seed=grid)
    with torch.no_grad():
        explicit = SET(dataclasses.replace(cfg, path="explicit"))
        explicit.load_state_dict(st.state_dict())
        assert rel_err(st(x)[0], explicit(x)[0]) < 1e-5


@pytest.mark.parametrize("variant", VARIANTS)
def test_paths_have_equal_gradients(variant: str) -> None:
    grads = []
    for path in ("explicit", "fused"):
        fit = randomize_(FIT(cfg_of(variant, path=path)))
        st = randomize_(SET(cfg_of(variant, path=path)), seed=1)
        f_s, f_p = feats(B, C, G, G)
        st(fit(f_s, f_p)[0])[0].sin().sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in [*fit.parameters(), *st.parameters()]]))
    assert grads[0].norm() > 0 and rel_err(grads[1], grads[0]) < 1e-5


def test_path_choice() -> None:
    assert A.use_explicit_path("auto", True, "FIT") and not A.use_explicit_path(
        "auto", False, "FIT"
    )
    assert A.use_explicit_path("explicit", False, "FIT")
    assert not A.use_explicit_path("fused", False, "FIT")


# --------------------------------------------------------------------------- primitives
def qk(n: int = 64, heads: int = 2, d: int = 8, seed: int = 0) -> list[torch.Tensor]:
    return feats(B, heads, n, d, n=3, seed=seed)


def test_softmax_rows_sum_to_one_and_gate_in_unit_interval() -> None:
    q, k, v = qk()
    scale = 8**-0.5
    attn = A.softmax_attention_map(q, k, scale)
    torch.testing.assert_close(attn.sum(-1), torch.ones(B, 2, 64))
    for pool in POOLS:  # a small scale: float32's sigmoid rounds to exactly 1 beyond ~17
        gate = A.sigmoid_gate(q, k, 0.05, pool)
        assert gate.shape == (B, 2, 64, 1) and ((gate > 0) & (gate < 1)).all()
    out, attn2, gate, product = A.scaled_attention_explicit(q, k, v, scale, "softmax_sigmoid", q, k)
    torch.testing.assert_close(product, attn2 * gate)
    torch.testing.assert_close(out, product @ v)
    torch.testing.assert_close(attn2, attn)


def test_gate_pooling_identity() -> None:
    """pool_j(q_i . k_j) = q_i . pool_j(k_j): the O(N D) gate equals the O(N^2 D) one."""
    q, k, _ = qk(n=256)
    for pool in POOLS:
        s = 0.02 if pool == "sum" else 1.0  # keep the sum's logits off the flat part of sigmoid
        explicit = A.sigmoid_gate(q, k, s, pool)
        assert 0.01 < explicit.min() and explicit.max() < 0.99
        torch.testing.assert_close(A.sigmoid_gate_fused(q, k, s, pool), explicit)
    mean, total = A.sigmoid_gate(q, k, 0.02, "mean"), A.sigmoid_gate(q, k, 0.02, "sum")
    torch.testing.assert_close(torch.logit(total), 256 * torch.logit(mean), rtol=1e-4, atol=1e-4)


def test_sigmoid_mode_is_gate_times_mean_value() -> None:
    q, k, v = qk()
    out, attn, gate, product = A.scaled_attention_explicit(None, None, v, 0.3, "sigmoid", q, k)
    torch.testing.assert_close(attn, torch.full_like(attn, 1 / 64))
    torch.testing.assert_close(out, gate * v.mean(-2, keepdim=True))
    fused = A.scaled_attention_fused(None, None, v, 0.3, "sigmoid", q, k)
    torch.testing.assert_close(fused, out)


def test_reshapes_follow_eta_and_psi() -> None:
    x = torch.randn(B, C, 4, 6)
    t = A.tokens(x)
    assert t.shape == (B, 24, C)
    torch.testing.assert_close(t[:, 1 * 6 + 5], x[:, :, 1, 5])  # row-major token order
    torch.testing.assert_close(A.grid(t, 4, 6), x)
    heads = A.split_heads(t, 4)
    assert heads.shape == (B, 4, 24, C // 4)
    torch.testing.assert_close(heads[:, 1], t[..., C // 4 : C // 2])
    torch.testing.assert_close(A.merge_heads(heads), t)


# --------------------------------------------------------------------------- variants
def conv(m: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return A.tokens(F.conv2d(x, m.weight, m.bias))  # (B, N, C)


def mlp_as_written(ffn: nn.Module, r: torch.Tensor) -> torch.Tensor:
    """MLP(LN(R)) with the pseudocode's two Linears and nothing between them."""
    lin1, lin2 = ffn.mlp[0], ffn.mlp[2]
    h = F.layer_norm(r, (r.shape[-1],), ffn.norm.weight, ffn.norm.bias)
    return F.linear(F.linear(h, lin1.weight, lin1.bias), lin2.weight, lin2.bias)


def test_supplement_fit_is_algorithm_1() -> None:
    fit = randomize_(FIT(cfg_of("supplement")))
    f_s, f_p = feats(B, C, G, G)
    blk = fit.blocks[0]
    d_k = C  # single head
    q_soft, q_sig = conv(blk.query_soft, f_s), conv(blk.query_sig, f_s)
    k_soft, k_sig, v = conv(blk.key_soft, f_p), conv(blk.key_sig, f_p), conv(blk.value, f_p)
    c_soft = torch.softmax(q_soft @ k_soft.mT / math.sqrt(d_k), -1)
    c_sig = torch.sigmoid((q_sig @ k_sig.mT / math.sqrt(d_k)).mean(-1, keepdim=True))  # AvgPool
    r = (c_soft * c_sig) @ v
    expected = f_p + A.grid(r, G) + A.grid(mlp_as_written(blk.ffn, r), G)
    torch.testing.assert_close(fit(f_s, f_p)[0], expected, rtol=1e-5, atol=1e-5)


def test_supplement_set_is_algorithm_2() -> None:
    st = randomize_(SET(cfg_of("supplement")))
    (x,) = feats(B, C, G, G, n=1)
    blk = st.blocks[0]
    q, k, v = conv(blk.query, x), conv(blk.key, x), conv(blk.value, x)
    r = torch.softmax(q @ k.mT / math.sqrt(C), -1) @ v + q  # residual adds q'
    expected = A.grid(r, G) + A.grid(mlp_as_written(blk.ffn, r), G)
    torch.testing.assert_close(st(x)[0], expected, rtol=1e-5, atol=1e-5)


def test_variants_differ_as_documented() -> None:
    sup, off = FIT(cfg_of("supplement")), FIT(cfg_of("official"))
    assert len(sup.blocks) == 1 and len(off.blocks) == 2
    assert sup.cfg.num_heads == 1 and sup.cfg.pool == "mean" and off.cfg.pool == "sum"
    assert sup.blocks[0].pos_query is None and not hasattr(sup, "fuse")
    assert off.blocks[1].pos_query.shape == (1, C, G, G) == off.blocks[1].pos_key.shape
    assert isinstance(sup.blocks[0].ffn.mlp[1], nn.Identity)
    assert isinstance(off.blocks[0].ffn.mlp[1], nn.GELU)
    assert off.fuse[0].weight.shape == (C, 2 * C, 3, 3) and off.fuse_skip.weight.shape[-1] == 1
    assert (
        SET(cfg_of("official")).blocks[0].official
        and not SET(cfg_of("supplement")).blocks[0].official
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_gate_uses_the_variants_pool(variant: str) -> None:
    fit = randomize_(FIT(cfg_of(variant)))
    f_s, f_p = feats(B, C, G, G)
    maps = fit(f_s, f_p, return_maps=True)[1]
    blk = fit.blocks[0]
    q_in = f_s if blk.pos_query is None else f_s + blk.pos_query
    k_in = f_p if blk.pos_key is None else f_p + blk.pos_key
    q2, k2 = A.project(blk.query_sig, q_in, blk.heads), A.project(blk.key_sig, k_in, blk.heads)
    logits = q2 @ k2.mT * blk.scale
    pooled = logits.sum(-1, keepdim=True) if variant == "official" else logits.mean(-1, True)
    torch.testing.assert_close(maps.gate[0], torch.sigmoid(pooled))


def test_sequential_blocks_keep_the_original_key() -> None:
    """Block 2 of SET attends to SET's input x, not to block 1's output (the release)."""
    st = randomize_(SET(cfg_of("official")))
    (x,) = feats(B, C, G, G, n=1)
    out1, _ = st.blocks[0](x, x, explicit=False)
    out2, _ = st.blocks[1](A.grid(out1, G), x, explicit=False)
    torch.testing.assert_close(st(x)[0], A.grid(out2, G))


def test_release_init() -> None:
    torch.manual_seed(0)
    cfg = TransformerConfig(dim=64, heads=4, grid=16)
    fit = FIT(cfg)
    weights = fit.blocks[0].value.weight
    assert abs(weights.std().item() - 1e-3) < 2e-4 and fit.fuse[0].bias.abs().sum() == 0
    assert abs(fit.blocks[0].ffn.mlp[0].weight.std().item() - 1e-2) < 1e-3
    assert abs(fit.blocks[0].pos_query.std().item() - 1.0) < 0.05
    assert torch.equal(fit.blocks[0].ffn.norm.weight, torch.ones(64))


# --------------------------------------------------------------------------- official keys
def test_official_keys_load_strictly_at_paper_size() -> None:
    for part, module, convert in (("fit", FIT, convert_official_fit_state), ("set", SET, None)):
        convert = convert or convert_official_set_state
        shapes = official_transformer_keys(part)
        state = {f"module.{part.upper()}.{k}": torch.zeros(s) for k, s in shapes.items()}
        state["module.backbone.toplayer.bias"] = torch.zeros(256)  # other parts: ignored
        result = module(TransformerConfig()).load_state_dict(convert(state), strict=True)
        assert not result.missing_keys and not result.unexpected_keys
    assert (
        len(official_transformer_keys("fit")) == 42 and len(official_transformer_keys("set")) == 28
    )


def test_official_keys_agree_with_the_checkpoint_key_list() -> None:
    path = KEYS_PATH.parent / "official_checkpoint_keys.json"
    if not path.exists():
        pytest.skip("assets/official_checkpoint_keys.json not present")
    full = json.loads(path.read_text())["keys"]
    for part in ("fit", "set"):
        prefix = f"module.{part.upper()}."
        theirs = {k[len(prefix) :]: tuple(v) for k, v in full.items() if k.startswith(prefix)}
        assert theirs == official_transformer_keys(part)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "change, match",
    [
        ({"variant": "paper"}, "variant='paper' is unknown"),
        ({"attention": "linear"}, "attention='linear' is unknown"),
        ({"gate_pool": "max"}, "gate_pool='max' is unknown"),
        ({"path": "flash"}, "path='flash' is unknown"),
        ({"dim": 30}, "multiple of heads=4"),
        ({"depth": 0}, "must be"),
    ],
)
def test_bad_config_raises(change: dict, match: str) -> None:
    for module in (FIT, SET):
        with pytest.raises(ValueError, match=match):
            module(cfg_of(**change))


def test_bad_inputs_raise() -> None:
    fit, st = FIT(cfg_of()), SET(cfg_of())
    good, wrong_c = torch.randn(B, C, G, G), torch.randn(B, C + 1, G, G)
    with pytest.raises(ValueError, match=r"f_s .* must be a \(B, 32, G, G\)"):
        fit(wrong_c, good)
    with pytest.raises(ValueError, match=r"f_p .* must be a \(B, 32, G, G\)"):
        fit(good, torch.randn(B, C, G * G))
    with pytest.raises(ValueError, match="SET: x must be"):
        st(wrong_c)
    with pytest.raises(ValueError, match="positional embeddings are \\(1, 32, 8, 8\\)"):
        st(torch.randn(B, C, 16, 16))
    with pytest.raises(ValueError, match="same shape"):
        FIT(cfg_of("supplement"))(torch.randn(B, C, 4, 4), good)


def test_supplement_accepts_any_grid() -> None:
    x = torch.randn(1, C, 6, 10)  # no positional embeddings: no fixed grid
    assert FIT(cfg_of("supplement"))(x, x)[0].shape == x.shape
    assert SET(cfg_of("supplement"))(x)[0].shape == x.shape


def test_fused_with_maps_raises() -> None:
    x = torch.randn(B, C, G, G)
    with pytest.raises(ValueError, match="path='fused' never materialises"):
        FIT(cfg_of(path="fused"))(x, x, return_maps=True)
    with pytest.raises(ValueError, match="path='fused' never materialises"):
        SET(cfg_of(path="fused"))(x, return_maps=True)


def test_primitive_errors() -> None:
    q, k, v = qk()
    with pytest.raises(ValueError, match="Unknown attention mode"):
        A.scaled_attention_fused(q, k, v, 1.0, "relu")
    with pytest.raises(ValueError, match="needs the gate's q_gate and k_gate"):
        A.scaled_attention_explicit(q, k, v, 1.0, "softmax_sigmoid")


def test_converter_errors() -> None:
    with pytest.raises(ValueError, match="not the release's FIT keys"):
        convert_official_fit_state({"module.FIT.layers.0.encode_quer.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="not the release's SET keys"):
        convert_official_set_state({"module.backbone.toplayer.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="part must be"):
        official_transformer_keys("regressor")


@pytest.mark.parametrize("module", ["FIT", "SET"])
def test_fused_path_runs_the_flash_kernel(module: str) -> None:
    """The fused path never builds an N x N map: no softmax op, the CPU flash kernel instead.

    (It falls back to SDPA's math path, O(N^2), when the head dim is not unit-stride.)
    """
    from torch.profiler import ProfilerActivity, profile

    x = torch.randn(B, C, G, G)
    net = FIT(cfg_of()) if module == "FIT" else SET(cfg_of())
    run = (lambda: net(x, x)) if module == "FIT" else (lambda: net(x))
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    ops = {e.key for e in prof.key_averages()}
    assert "aten::_softmax" not in ops
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ops
