"""Attention primitives shared by FIT and SET, each with the equation it implements.

Shape letters: B batch, C channels, H heads, N tokens (N = G * G), D = C / H head width.
The notebooks rebuild these functions step by step and compare with ``torch.testing``.

Two computation paths give the same numbers (float tolerance):
- explicit: materialise the softmax map A (B, H, N, N), the gate g (B, H, N, 1) and their
  product C = A * g, then R = C v. Needed to look at the maps; O(N^2) memory.
- fused: ``F.scaled_dot_product_attention`` for A v, plus two identities that avoid every N x N
  tensor for the gate:
    pool_j (q_i . k_j) = q_i . pool_j(k_j)      (mean or sum over the keys j is linear)
    (A * g) v = g * (A v)                      (g is one scalar per query row)
  so the gate costs O(N C) instead of O(N^2 C).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from handoccnet_lite.config import TransformerConfig

VARIANTS = ("supplement", "official")
ATTENTION_MODES = ("softmax_sigmoid", "softmax", "sigmoid")
GATE_POOLS = ("mean", "sum")
COMPUTE_PATHS = ("auto", "explicit", "fused")
Mode = Literal["softmax_sigmoid", "softmax", "sigmoid"]
Pool = Literal["mean", "sum"]

# The release's init_weights (main/model.py), applied to FIT and SET before training.
CONV_INIT_STD = 1e-3
LINEAR_INIT_STD = 1e-2


@dataclass
class AttentionMaps:
    """Maps of one FIT or SET forward pass, one entry per block.

    softmax: (B, H, N, N) row-stochastic A. For attention="sigmoid" it is the uniform map 1/N
        (the softmax branch removed: every logit zero).
    gate: (B, H, N, 1) sigmoid gate g in (0, 1); empty when the module has no gate (SET,
        attention="softmax").
    product: (B, H, N, N) the map that multiplies the values, C = A * g; it *is* ``softmax``
        (same tensor) when there is no gate.
    """

    softmax: list[Tensor] = field(default_factory=list)
    gate: list[Tensor] = field(default_factory=list)
    product: list[Tensor] = field(default_factory=list)

    def append(self, softmax: Tensor, gate: Tensor | None, product: Tensor) -> None:
        self.softmax.append(softmax)
        if gate is not None:
            self.gate.append(gate)
        self.product.append(product)

    @property
    def num_blocks(self) -> int:
        return len(self.product)


# --------------------------------------------------------------------------- checks
def check_transformer_config(cfg: TransformerConfig, module: str) -> None:
    """Raise ValueError with a fix for every choice `module` (FIT or SET) cannot build."""
    choices = {
        "variant": (cfg.variant, VARIANTS),
        "attention": (cfg.attention, ATTENTION_MODES),
        "gate_pool": (cfg.pool, GATE_POOLS),
        "path": (cfg.path, COMPUTE_PATHS),
    }
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            raise ValueError(
                f"{module}: TransformerConfig.{name}={value!r} is unknown; choose one of {allowed}."
            )
    if cfg.dim < 1 or cfg.num_heads < 1 or cfg.dim % cfg.num_heads:
        raise ValueError(
            f"{module}: dim={cfg.dim} must be a positive multiple of heads={cfg.num_heads} "
            "(each head takes dim / heads channels); change dim or heads."
        )
    if cfg.num_blocks < 1 or cfg.grid < 1 or cfg.mlp_ratio <= 0:
        raise ValueError(
            f"{module}: depth={cfg.depth}, grid={cfg.grid} and mlp_ratio={cfg.mlp_ratio} must be "
            "positive."
        )


def check_feature(module: str, name: str, x: Tensor, cfg: TransformerConfig) -> None:
    """`x` must be a (B, C, H, W) map with C = cfg.dim; official: H = W = cfg.grid."""
    if x.ndim != 4 or x.shape[1] != cfg.dim:
        raise ValueError(
            f"{module}: {name} must be a (B, {cfg.dim}, G, G) feature map (C = "
            f"TransformerConfig.dim), got shape {tuple(x.shape)}; build the module with "
            f"dim={x.shape[1] if x.ndim == 4 else '<channels>'} or project the feature."
        )
    if cfg.variant == "official" and tuple(x.shape[2:]) != (cfg.grid, cfg.grid):
        raise ValueError(
            f"{module}: {name} has a {x.shape[2]} x {x.shape[3]} token grid but the official "
            f"variant's learned positional embeddings are (1, {cfg.dim}, {cfg.grid}, {cfg.grid}); "
            f"build it with TransformerConfig(grid={x.shape[2]}) for square inputs, or resize "
            "the feature."
        )


def use_explicit_path(path: str, return_maps: bool, module: str) -> bool:
    """Which path runs: 'auto' is fused unless maps are requested."""
    if path == "fused" and return_maps:
        raise ValueError(
            f"{module}: path='fused' never materialises the attention maps, so return_maps=True "
            "is impossible; use TransformerConfig(path='explicit') or path='auto'."
        )
    return path == "explicit" or return_maps


# --------------------------------------------------------------------------- reshapes
def tokens(x: Tensor) -> Tensor:
    """eta: R^{C x H x W} -> R^{N x C}, row-major tokens. (B, C, H, W) -> (B, N, C)."""
    return x.flatten(2).transpose(1, 2)


def grid(x: Tensor, height: int, width: int | None = None) -> Tensor:
    """psi: R^{N x C} -> R^{C x H x W}, the inverse of `tokens`. (B, N, C) -> (B, C, H, W)."""
    width = height if width is None else width
    return x.transpose(1, 2).unflatten(2, (height, width))


def split_heads(x: Tensor, heads: int) -> Tensor:
    """(B, N, C) -> (B, H, N, D): head h takes channels [h D, (h + 1) D)."""
    return x.unflatten(-1, (heads, -1)).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, N, D) -> (B, N, H D), the inverse of `split_heads`."""
    return x.transpose(1, 2).flatten(2)


# --------------------------------------------------------------------------- maps
def softmax_attention_map(q: Tensor, k: Tensor, scale: float) -> Tensor:
    """C_soft = softmax(q k^T / sqrt(d_k)) over the keys. (B,H,N,D), (B,H,M,D) -> (B,H,N,M)."""
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1)


def uniform_attention_map(q: Tensor, k: Tensor) -> Tensor:
    """softmax of all-zero logits: 1 / M everywhere, the map of attention="sigmoid". (B,H,N,M)."""
    shape = (*q.shape[:-1], k.shape[-2])
    return torch.full(shape, 1.0 / k.shape[-2], dtype=q.dtype, device=q.device)


def sigmoid_gate(q: Tensor, k: Tensor, scale: float, pool: Pool) -> Tensor:
    """C_sig = sigmoid(pool_j(q k^T / sqrt(d_k))), explicit: builds the (B, H, N, M) logits.

    pool is the supplement's AvgPool over the keys ("mean") or the release's sum ("sum").
    Returns (B, H, N, 1), one gate per query and head.
    """
    logits = q @ k.transpose(-2, -1) * scale  # (B, H, N, M)
    pooled = logits.mean(-1, keepdim=True) if pool == "mean" else logits.sum(-1, keepdim=True)
    return torch.sigmoid(pooled)


def sigmoid_gate_fused(q: Tensor, k: Tensor, scale: float, pool: Pool) -> Tensor:
    """The same gate in O(N D): pool_j(q_i . k_j) = q_i . pool_j(k_j). Returns (B, H, N, 1)."""
    k_pooled = k.mean(-2, keepdim=True) if pool == "mean" else k.sum(-2, keepdim=True)  # (B,H,1,D)
    return torch.sigmoid(q @ k_pooled.transpose(-2, -1) * scale)


# --------------------------------------------------------------------------- attention
def _check_gate_inputs(mode: str, q_gate: Tensor | None, k_gate: Tensor | None) -> None:
    if mode not in ATTENTION_MODES:
        raise ValueError(f"Unknown attention mode {mode!r}; choose one of {ATTENTION_MODES}.")
    if mode != "softmax" and (q_gate is None or k_gate is None):
        raise ValueError(f"attention mode {mode!r} needs the gate's q_gate and k_gate tensors.")


def scaled_attention_explicit(
    q: Tensor | None,
    k: Tensor | None,
    v: Tensor,
    scale: float,
    mode: Mode = "softmax",
    q_gate: Tensor | None = None,
    k_gate: Tensor | None = None,
    pool: Pool = "mean",
) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    """R = matmul(C, v) with C = elemmul(C_soft, C_sig), every map materialised.

    mode "softmax": C = C_soft; "softmax_sigmoid": C = C_soft * C_sig (Algorithm 1, line 28);
    "sigmoid": C = (1/M) * C_sig, the gate alone on a uniform map (q and k are unused).
    q, k, q_gate, k_gate (B, H, N|M, D); v (B, H, M, D).
    Returns out (B, H, N, D), A (B, H, N, M), g (B, H, N, 1) or None, C (B, H, N, M).
    """
    _check_gate_inputs(mode, q_gate, k_gate)
    if mode == "sigmoid":
        attn = uniform_attention_map(q_gate, k_gate)  # (B, H, N, M)
    else:
        attn = softmax_attention_map(q, k, scale)  # (B, H, N, M)
    gate = None if mode == "softmax" else sigmoid_gate(q_gate, k_gate, scale, pool)  # (B,H,N,1)
    product = attn if gate is None else attn * gate  # (B, H, N, M)
    return product @ v, attn, gate, product


def scaled_attention_fused(
    q: Tensor | None,
    k: Tensor | None,
    v: Tensor,
    scale: float,
    mode: Mode = "softmax",
    q_gate: Tensor | None = None,
    k_gate: Tensor | None = None,
    pool: Pool = "mean",
) -> Tensor:
    """The same R without any N x N tensor: (A * g) v = g * (A v), A v by the fused kernel.

    For "sigmoid", A v with the uniform map is the mean of the values: g * mean_j(v_j).
    Returns (B, H, N, D).
    """
    _check_gate_inputs(mode, q_gate, k_gate)
    if mode == "sigmoid":
        out = v.mean(-2, keepdim=True)  # (B, H, 1, D), broadcast over the N queries below
    else:
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, H, N, D)
    if mode == "softmax":
        return out
    return out * sigmoid_gate_fused(q_gate, k_gate, scale, pool)  # (B, H, N, D)


# --------------------------------------------------------------------------- layers
def conv1x1(dim: int) -> nn.Conv2d:
    """The 1x1 projections of the pseudocode and the release (with bias)."""
    return nn.Conv2d(dim, dim, kernel_size=1)


def positional_embedding(cfg: TransformerConfig) -> nn.Parameter:
    """A learned (1, C, G, G) embedding, N(0, 1) as the release's ``torch.randn``."""
    return nn.Parameter(torch.randn(1, cfg.dim, cfg.grid, cfg.grid))


def project(conv: nn.Conv2d, x: Tensor, heads: int) -> Tensor:
    """eta(Conv1x1(x)) split into heads: (B, C, H, W) -> (B, H, N, D).

    A 1x1 conv is a Linear on the tokens, eta(Conv1x1(x)) = eta(x) W^T + b, and that is how it is
    computed: the result has unit stride along D, which the fused attention kernel needs (with
    eta applied after the conv, D would have stride N and SDPA would fall back to its O(N^2)
    math path).
    """
    weight = conv.weight.flatten(1)  # (C_out, C_in)
    return split_heads(F.linear(tokens(x), weight, conv.bias), heads)  # (B, H, N, D)


class FeedForward(nn.Module):
    """R + MLP(LN(R)) on tokens (B, N, C), LayerNorm before the MLP.

    official: MLP = Linear(C, rC) -> GELU -> Linear(rC, C) (the release's Mlp, dropout 0).
    supplement: Algorithms 1 and 2 write ``nn.Sequential(nn.Linear(256, 1024), nn.Linear(1024,
    256))`` with NO activation between the Linears; we implement it exactly as written (the
    Identity below). Teaching point: without the nonlinearity the two Linears collapse into one
    affine map of rank <= C, so the "MLP" adds no expressive power beyond a single Linear.
    """

    def __init__(self, dim: int, mlp_ratio: float, activation: bool) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        act = nn.GELU() if activation else nn.Identity()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), act, nn.Linear(hidden, dim))

    def forward(self, r: Tensor) -> Tensor:
        return r + self.mlp(self.norm(r))  # (B, N, C)


def init_release_(module: nn.Module) -> None:
    """The release's ``init_weights`` (main/model.py), applied to FIT and SET when training.

    Conv2d (1x1 projections and the fusion convs): weight N(0, 0.001), bias 0. Linear: weight
    N(0, 0.01), bias 0. This overrides the Xavier-uniform init written in the release's Mlp
    constructor, which is therefore never what training starts from. LayerNorm keeps (1, 0);
    positional embeddings keep N(0, 1). We use the same init for the supplement variant, so
    the two variants differ by architecture only.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=CONV_INIT_STD)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=LINEAR_INIT_STD)
            nn.init.zeros_(m.bias)
