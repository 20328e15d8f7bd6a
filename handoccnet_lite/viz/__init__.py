"""Attention maps over images, and the explorer of notebook 08.

Modules: `maps` (token grid, masks on it, the explorer's panels as arrays), `draw` (pure
matplotlib functions), `occlude` (an object you place in front of a SynthOcc hand, re-rendered),
`explorer` (the widget: `attention_explorer(model, dataset)`), `captions` (sentences computed
from numbers). Importing this package loads numpy only; matplotlib, torch and ipywidgets load
when a function needs them.
"""

from __future__ import annotations

from .captions import (
    attention_stats_sentences,
    faster_sentence,
    growth_exponent,
    growth_sentence,
    ratio_verdict,
)
from .draw import (
    as_image,
    attention_overlay,
    draw_skeleton,
    explorer_figure,
    figure_png,
    heads_blocks_figure,
    image_panel,
    mark_query,
    overlay_rgba,
)
from .explorer import AttentionExplorer, attention_explorer, pick_occluded
from .maps import (
    MAP_KINDS,
    MASK_KEYS,
    SCALES,
    View,
    attention_row,
    crop_mask,
    explorer_views,
    fit_views,
    map_shape,
    mask_to_grid,
    occluded_tokens,
    to_numpy,
    token_index,
    token_rowcol,
    upsample_grid,
)
from .occlude import OCCLUDER_SHAPES, OccludableSample, OccluderSpec

__all__ = [
    "MAP_KINDS", "MASK_KEYS", "OCCLUDER_SHAPES", "SCALES", "AttentionExplorer",
    "OccludableSample", "OccluderSpec", "View", "as_image", "attention_explorer",
    "attention_overlay", "attention_row", "attention_stats_sentences", "crop_mask",
    "draw_skeleton", "explorer_figure",
    "explorer_views", "faster_sentence", "figure_png", "fit_views", "growth_exponent",
    "growth_sentence", "heads_blocks_figure", "image_panel", "map_shape", "mark_query",
    "mask_to_grid", "occluded_tokens", "overlay_rgba", "pick_occluded", "ratio_verdict",
    "to_numpy", "token_index", "token_rowcol", "upsample_grid",
]  # fmt: skip
