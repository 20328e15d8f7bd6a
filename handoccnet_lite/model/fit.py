"""FIT, the Feature Injecting Transformer: query F_S (secondary), key and value F_P (primary).

Paper (supplement S1.1, Algorithm 1)::

    q_soft, q_sig = eta(Q_soft(F_S)), eta(Q_sig(F_S));  k_soft, k_sig, v = eta(.(F_P))
    C_soft = softmax(q_soft k_soft^T / sqrt(d_k))
    C_sig  = sigmoid(pool(q_sig k_sig^T / sqrt(d_k)))        # pool = AvgPool over the keys
    C      = C_soft * C_sig;   R_FIT = C v                   # no residual around attention
    F_FIT  = F_P + psi(R_FIT) + psi(MLP(LN(R_FIT)))

variant="supplement" is exactly that (1 head, d_k = C, 1 block, no positional embeddings).
variant="official" is the release (common/nets/transformer.py, ``Transformer(injection=True)``):
4 heads (d_k = C / 4), 2 blocks, the gate pools with a *sum*, learned positional embeddings
(1, C, G, G) added to the query and key inputs (not the value input), GELU in the MLP; block 2
takes block 1's output as query and the same F_P as key; after the blocks
``x = cat(F_P, out)`` (2C channels) and ``F_FIT = conv3x3(ReLU(conv3x3(x))) + conv1x1(x)``
replaces the ``F_P +`` residual.

attention="softmax" drops the gate (C = C_soft); attention="sigmoid" keeps the gate alone on a
uniform map, C = C_sig / N broadcast over the keys (the softmax branch with all-zero logits), so
every query receives g_i times the mean value: the ablation shows what the gate can do without
the softmax's routing, on the same scale as the other modes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from handoccnet_lite.config import TransformerConfig

from .attention import (
    AttentionMaps,
    FeedForward,
    check_feature,
    check_transformer_config,
    conv1x1,
    grid,
    init_release_,
    merge_heads,
    positional_embedding,
    project,
    scaled_attention_explicit,
    scaled_attention_fused,
    use_explicit_path,
)
from .official import convert_official_fit_state  # re-exported for model.checkpoint

__all__ = ["FIT", "FITBlock", "convert_official_fit_state"]

Maps = tuple[Tensor, Tensor | None, Tensor]  # softmax (B,H,N,N), gate (B,H,N,1), product


class FITBlock(nn.Module):
    """One injection block: R = (C_soft * C_sig) v, then R + MLP(LN(R)). Tokens out (B, N, C)."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.heads, self.mode, self.pool = cfg.num_heads, cfg.attention, cfg.pool
        self.scale = (cfg.dim // self.heads) ** -0.5  # 1 / sqrt(d_k)
        has_softmax, has_gate = cfg.attention != "sigmoid", cfg.attention != "softmax"
        self.query_soft = conv1x1(cfg.dim) if has_softmax else None
        self.key_soft = conv1x1(cfg.dim) if has_softmax else None
        self.query_sig = conv1x1(cfg.dim) if has_gate else None
        self.key_sig = conv1x1(cfg.dim) if has_gate else None
        self.value = conv1x1(cfg.dim)
        official = cfg.variant == "official"
        self.pos_query = positional_embedding(cfg) if official else None
        self.pos_key = positional_embedding(cfg) if official else None
        self.ffn = FeedForward(cfg.dim, cfg.mlp_ratio, activation=official)

    def _heads(self, conv: nn.Conv2d | None, x: Tensor) -> Tensor | None:
        return None if conv is None else project(conv, x, self.heads)  # (B, H, N, D)

    def forward(self, query: Tensor, key: Tensor, explicit: bool) -> tuple[Tensor, Maps | None]:
        """query (B, C, G, G) F_S or the previous block's output; key (B, C, G, G) F_P."""
        q_in = query if self.pos_query is None else query + self.pos_query  # (B, C, G, G)
        k_in = key if self.pos_key is None else key + self.pos_key
        q, k = self._heads(self.query_soft, q_in), self._heads(self.key_soft, k_in)
        q2, k2 = self._heads(self.query_sig, q_in), self._heads(self.key_sig, k_in)
        v = project(self.value, key, self.heads)  # (B, H, N, D): value from the raw key
        args = (q, k, v, self.scale, self.mode, q2, k2, self.pool)
        with torch.profiler.record_function("attention"):
            if explicit:
                out, attn, gate, product = scaled_attention_explicit(*args)
            else:
                out, attn, gate, product = scaled_attention_fused(*args), None, None, None
        r = merge_heads(out)  # (B, N, C): R_FIT, no residual around the attention
        maps = None if attn is None else (attn, gate, product)
        return self.ffn(r), maps


class FIT(nn.Module):
    """FIT(cfg)(f_s, f_p, return_maps=False) -> (F_FIT (B, C, G, G), AttentionMaps | None)."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        check_transformer_config(cfg, "FIT")
        self.cfg = cfg
        self.blocks = nn.ModuleList(FITBlock(cfg) for _ in range(cfg.num_blocks))
        if cfg.variant == "official":
            c = cfg.dim
            self.fuse = nn.Sequential(
                nn.Conv2d(2 * c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1)
            )
            self.fuse_skip = nn.Conv2d(2 * c, c, 1)
        init_release_(self)

    def forward(
        self, f_s: Tensor, f_p: Tensor, return_maps: bool = False
    ) -> tuple[Tensor, AttentionMaps | None]:
        """f_s secondary (B, C, G, G) -> queries; f_p primary (B, C, G, G) -> keys, values."""
        check_feature("FIT", "f_s (secondary feature)", f_s, self.cfg)
        check_feature("FIT", "f_p (primary feature)", f_p, self.cfg)
        if f_s.shape != f_p.shape:
            raise ValueError(
                f"FIT: f_s {tuple(f_s.shape)} and f_p {tuple(f_p.shape)} must have the same shape "
                "(both come from the backbone's split of one feature map)."
            )
        explicit = use_explicit_path(self.cfg.path, return_maps, "FIT")
        maps = AttentionMaps() if return_maps else None
        height, width = f_p.shape[2:]
        out = f_s
        for block in self.blocks:
            r, block_maps = block(out, f_p, explicit)  # (B, N, C)
            out = grid(r, height, width)  # (B, C, G, G)
            if maps is not None:
                maps.append(*block_maps)
        return self._combine(f_p, out), maps

    def _combine(self, f_p: Tensor, out: Tensor) -> Tensor:
        """supplement: F_P + out; official: fusion convs on cat(F_P, out). (B, C, G, G)."""
        if self.cfg.variant == "supplement":
            return f_p + out
        with torch.profiler.record_function("fusion_convs"):
            x = torch.cat([f_p, out], dim=1)  # (B, 2C, G, G), F_P first as in the release
            return self.fuse(x) + self.fuse_skip(x)
