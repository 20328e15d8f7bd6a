"""SET, the Self-Enhancing Transformer: softmax self-attention on FIT's output.

Paper (supplement S1.2, Algorithm 2)::

    q', k', v' = eta(Q'(F_FIT)), eta(K'(F_FIT)), eta(V'(F_FIT))
    C'    = softmax(q' k'^T / sqrt(d_k'))
    R_SET = C' v' + q'                                       # residual adds the *projected* q'
    F_SET = psi(R_SET) + psi(MLP(LN(R_SET)))

variant="supplement" is exactly that (1 head, d_k' = C, 1 block, no positional embeddings).
variant="official" is the release (``Transformer(injection=False)``, called as ``SET(f, f)``):
4 heads, 2 blocks, learned positional embeddings (1, C, G, G) on the query and key inputs, GELU
MLP, and the residual adds the *raw* query tokens (the block's input), not q'. Block 2 takes
block 1's output as query and the original input f as key and value (the release passes the
same ``key`` to every block), so block 2 is a cross-attention back to FIT's output.
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
    tokens,
    use_explicit_path,
)
from .official import convert_official_set_state  # re-exported for model.checkpoint

__all__ = ["SET", "SETBlock", "convert_official_set_state"]

Maps = tuple[Tensor, None, Tensor]  # softmax (B,H,N,N), no gate, product (= softmax)


class SETBlock(nn.Module):
    """One block: R = C' v' + residual, then R + MLP(LN(R)). Tokens out (B, N, C)."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.heads = cfg.num_heads
        self.scale = (cfg.dim // self.heads) ** -0.5  # 1 / sqrt(d_k')
        self.query, self.key, self.value = conv1x1(cfg.dim), conv1x1(cfg.dim), conv1x1(cfg.dim)
        self.official = cfg.variant == "official"
        self.pos_query = positional_embedding(cfg) if self.official else None
        self.pos_key = positional_embedding(cfg) if self.official else None
        self.ffn = FeedForward(cfg.dim, cfg.mlp_ratio, activation=self.official)

    def forward(self, query: Tensor, key: Tensor, explicit: bool) -> tuple[Tensor, Maps | None]:
        """query (B, C, G, G) the block input; key (B, C, G, G) SET's input x."""
        q_in = query if self.pos_query is None else query + self.pos_query  # (B, C, G, G)
        k_in = key if self.pos_key is None else key + self.pos_key
        q = project(self.query, q_in, self.heads)  # (B, H, N, D)
        k = project(self.key, k_in, self.heads)
        v = project(self.value, key, self.heads)  # value from the raw key
        with torch.profiler.record_function("attention"):
            if explicit:
                out, attn, _, _ = scaled_attention_explicit(q, k, v, self.scale)
            else:
                out, attn = scaled_attention_fused(q, k, v, self.scale), None
        residual = tokens(query) if self.official else merge_heads(q)  # (B, N, C)
        r = merge_heads(out) + residual  # (B, N, C): R_SET
        return self.ffn(r), None if attn is None else (attn, None, attn)


class SET(nn.Module):
    """SET(cfg)(x, return_maps=False) -> (F_SET (B, C, G, G), AttentionMaps | None)."""

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        check_transformer_config(cfg, "SET")
        self.cfg = cfg
        self.blocks = nn.ModuleList(SETBlock(cfg) for _ in range(cfg.num_blocks))
        init_release_(self)

    def forward(self, x: Tensor, return_maps: bool = False) -> tuple[Tensor, AttentionMaps | None]:
        """x (B, C, G, G), FIT's output. cfg.attention and cfg.gate_pool do not apply to SET."""
        check_feature("SET", "x", x, self.cfg)
        explicit = use_explicit_path(self.cfg.path, return_maps, "SET")
        maps = AttentionMaps() if return_maps else None
        height, width = x.shape[2:]
        out = x
        for block in self.blocks:
            r, block_maps = block(out, x, explicit)  # (B, N, C)
            out = grid(r, height, width)  # (B, C, G, G)
            if maps is not None:
                maps.append(*block_maps)
        return out, maps
