"""Attention maps as arrays: the token grid, masks on it, and the explorer's panels (`View`).

Every function takes arrays (numpy, or torch tensors on any device) and returns numpy arrays.
Drawing lives in `viz.draw`, the occluder you place in `viz.occlude`, the widget in
`viz.explorer`.

Token convention (as ``model.attention.tokens``): token n of a G x G grid is the feature-map cell
(row, col) = (n // G, n % G); on an S x S input image it covers the pixel block
[row * S / G, (row + 1) * S / G) x [col * S / G, (col + 1) * S / G).

Maps (``model.attention.AttentionMaps``, one entry per block):
``softmax[b]`` (B, H, N, N) row-stochastic A; ``gate[b]`` (B, H, N, 1) sigmoid gate g (FIT
only, absent for attention="softmax"); ``product[b]`` (B, H, N, N) C = A * g.
Shape letters: B batch, H heads, N tokens, G grid side, S image side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

MAP_KINDS: tuple[str, ...] = ("softmax", "gate", "product")
MASK_KEYS: tuple[str, ...] = ("hand_mask", "occluder_mask", "occlusion_mask")
SCALES: tuple[str, ...] = ("shared", "own")


class View(NamedTuple):
    """One panel of the explorer: a (G, G) map, its title and colour scale.

    ``center`` is the value a map that ignores position would give every token (1/N for a
    softmax row, g/N for a row of C = g A): drawn transparent, with a colour-bar tick, so a
    near-uniform map leaves the image visible instead of looking like a hot wash. None for maps
    without such a reference (the gates), drawn on a plain 0..vmax scale.
    """

    title: str
    values: np.ndarray  # (G, G)
    vmax: float  # colour scale upper bound (lower bound 0)
    center: float | None = None  # the uniform level, or None
    center_label: str = ""  # its colour-bar label, e.g. "1/N"


# --------------------------------------------------------------------------------------------
# arrays and the token grid
# --------------------------------------------------------------------------------------------
def to_numpy(x: Any) -> np.ndarray:
    """A torch tensor (any device, any dtype) or array-like -> float64 numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_grid(grid: int) -> None:
    if not isinstance(grid, (int, np.integer)) or grid < 1:
        raise ValueError(f"grid must be a positive integer (the token grid side G), got {grid!r}.")


def token_index(row: int, col: int, grid: int) -> int:
    """(row, col) of a G x G grid -> token index row * G + col (row-major)."""
    _check_grid(grid)
    if not (0 <= row < grid and 0 <= col < grid):
        raise ValueError(
            f"query cell (row={row}, col={col}) is outside the {grid} x {grid} token grid; "
            f"row and col must be in [0, {grid - 1}]."
        )
    return int(row) * grid + int(col)


def token_rowcol(index: int, grid: int) -> tuple[int, int]:
    """Token index -> (row, col) on a G x G grid; the inverse of `token_index`."""
    _check_grid(grid)
    if not 0 <= index < grid * grid:
        raise ValueError(
            f"token index {index} is outside a {grid} x {grid} grid; expected 0 <= index < "
            f"{grid * grid}."
        )
    return divmod(int(index), grid)


def upsample_grid(grid_map: Any, size: int) -> np.ndarray:
    """(G, G) map -> (S, S) image, nearest neighbour: each token fills its own pixel block."""
    m = to_numpy(grid_map)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"grid_map must be a square (G, G) array, got shape {m.shape}.")
    if size < m.shape[0]:
        raise ValueError(f"size={size} is smaller than the grid side {m.shape[0]}.")
    cells = np.arange(size) * m.shape[0] // size  # (S,) pixel -> token row/col
    return m[cells[:, None], cells[None, :]]  # (S, S)


def mask_to_grid(mask: Any, grid: int) -> np.ndarray:
    """(S, S) mask (bool or [0, 1]) -> (G, G) fraction of each token's pixels that are set."""
    _check_grid(grid)
    m = to_numpy(mask)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] % grid:
        raise ValueError(
            f"mask must be a square (S, S) array with S a multiple of grid={grid}, got shape "
            f"{m.shape}; crop it to the network's input first (crop_mask)."
        )
    cell = m.shape[0] // grid
    return m.reshape(grid, cell, grid, cell).mean(axis=(1, 3))  # (G, G)


def crop_mask(record: Mapping[str, Any], aug_cfg: Any, key: str = "occlusion_mask") -> np.ndarray:
    """A raw record's full-frame mask cropped exactly like its image: (S, S) in [0, 1].

    The mask goes through ``data.dataset.augment_sample`` in place of the image, so it lands on
    the same pixels as the network's input. ``aug_cfg`` must have augment=False (the dataset's
    ``.cfg`` for an evaluation split): a random crop would not match the image you look at.
    """
    from handoccnet_lite.data.dataset import augment_sample

    if key not in MASK_KEYS:
        raise ValueError(f"key must be one of {MASK_KEYS}, got {key!r}.")
    if getattr(aug_cfg, "augment", True):
        raise ValueError(
            "crop_mask needs an AugmentConfig with augment=False (deterministic centred crop); "
            "build the dataset with augment=False."
        )
    mask = record.get(key)
    if mask is None:
        raise ValueError(f"this record has no {key} (real data sets usually do not).")
    as_image = dict(record, image=np.repeat(np.asarray(mask, np.uint8)[..., None] * 255, 3, axis=2))
    return augment_sample(as_image, aug_cfg, None)["image"][0].numpy().astype(np.float64)


def occluded_tokens(occlusion_grid: Any, threshold: float = 0.5) -> np.ndarray:
    """Token indices whose occluded fraction is >= threshold, most occluded first (ties: index).

    occlusion_grid (G, G) from `mask_to_grid` of the occlusion mask. May be empty.
    """
    g = to_numpy(occlusion_grid)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"occlusion_grid must be a square (G, G) array, got shape {g.shape}.")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold is a fraction of a token's pixels in (0, 1], got {threshold}.")
    flat = g.ravel()
    order = np.lexsort((np.arange(flat.size), -flat))  # descending fraction, then index
    return order[flat[order] >= threshold]


# --------------------------------------------------------------------------------------------
# picking a map out of AttentionMaps
# --------------------------------------------------------------------------------------------
def _block_list(maps: Any, kind: str) -> list:
    if kind not in MAP_KINDS:
        raise ValueError(f"kind must be one of {MAP_KINDS}, got {kind!r}.")
    if maps is None:
        raise ValueError("no attention maps: the module is switched off (use_fit / use_set).")
    blocks = getattr(maps, kind)
    if not blocks:
        raise ValueError(
            f"these maps have no {kind!r} entries (SET and attention='softmax' have no gate)."
        )
    return blocks


def attention_row(
    maps: Any, kind: str, block: int, head: int, query: int, sample: int = 0
) -> np.ndarray:
    """One (G, G) picture out of an AttentionMaps.

    kind "softmax" / "product": row ``query`` of A or C = A * g: where that query takes its
    values from. kind "gate": the gate g at every query location (g is one number per query,
    so this map does not depend on ``query``).
    """
    blocks = _block_list(maps, kind)
    if not 0 <= block < len(blocks):
        raise ValueError(f"block {block} does not exist: these maps have {len(blocks)} block(s).")
    t = blocks[block]  # (B, H, N, N) or (B, H, N, 1)
    b, h, n = t.shape[:3]
    grid = int(round(n**0.5))
    if grid * grid != n:
        raise ValueError(f"{n} tokens do not form a square grid; expected N = G * G.")
    if not (0 <= sample < b and 0 <= head < h):
        raise ValueError(
            f"sample {sample} / head {head} out of range: the maps hold {b} sample(s) and "
            f"{h} head(s)."
        )
    token_rowcol(query, grid)  # validates the query index
    row = t[sample, head, :, 0] if kind == "gate" else t[sample, head, query]  # (N,)
    return to_numpy(row).reshape(grid, grid)


def map_shape(maps: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """{"fit" / "set": (blocks, heads)} of the modules that returned maps."""
    out = {}
    for name, m in maps.items():
        if m is not None and m.product:
            out[name] = (len(m.product), int(m.product[0].shape[1]))
    return out


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(
            f"scale must be one of {SCALES} ('shared': A and C = g A on A's colour scale, so the "
            f"gate's dimming shows; 'own': each on its own scale), got {scale!r}."
        )


def fit_views(
    fit: Any, query: int, head: int, block: int, sample: int, scale: str = "shared"
) -> list[View]:
    """FIT's panels for one query: A[q], the gate g at every query, C[q] = g[q] A[q].

    scale "shared": C[q] is drawn on A[q]'s scale (same top, centre 1/N), so a gate below 1
    visibly dims it; "own": C[q] gets its own top and its own uniform level g[q]/N, and then looks
    exactly like A[q] (C[q] is A[q] times one number).
    """
    _check_scale(scale)
    soft = attention_row(fit, "softmax", block, head, query, sample)  # (G, G)
    n = soft.size
    top = max(float(soft.max()), 2.0 / n)  # keep 1/N inside the scale for flat rows
    views = [View(f"FIT A[q] (softmax)\nmax {soft.max():.3f}, 1/N = {1 / n:.4f}", soft, top,
                  1.0 / n, "1/N")]  # fmt: skip
    if not fit.gate:
        return views
    gate = attention_row(fit, "gate", block, head, query, sample)  # (G, G)
    g_q = float(gate.ravel()[query])
    views.append(View(f"FIT gate g (every query)\ng[q] = {g_q:.3f}", gate, 1.0))
    prod = attention_row(fit, "product", block, head, query, sample)  # (G, G)
    title = f"FIT C[q] = g[q] A[q], {scale} scale\nrow sum = g[q] = {prod.sum():.3f}"
    if scale == "shared":
        views.append(View(title, prod, top, 1.0 / n, "1/N"))
    else:
        own_top = max(float(prod.max()), 2.0 * g_q / n, 1e-12)
        views.append(View(title, prod, own_top, g_q / n if g_q > 0 else None, "g/N"))
    return views


def explorer_views(
    maps: Mapping[str, Any],
    query: int,
    head: int = 0,
    block: int = 0,
    sample: int = 0,
    scale: str = "shared",
) -> list[View]:
    """The explorer's attention panels for one query token: FIT's softmax row A[q], its gate g
    (all queries), the scaled row C[q] = g[q] A[q] (on A[q]'s colour scale when
    scale="shared", see `fit_views`), and SET's softmax row. Panels of switched-off parts are
    left out."""
    _check_scale(scale)
    views: list[View] = []
    if maps.get("fit") is not None:
        views += fit_views(maps["fit"], query, head, block, sample, scale)
    set_maps = maps.get("set")
    if set_maps is not None:
        soft = attention_row(set_maps, "softmax", block, head, query, sample)
        n = soft.size
        title = f"SET A'[q] (softmax)\nmax {soft.max():.3f}, 1/N = {1 / n:.4f}"
        views.append(View(title, soft, max(float(soft.max()), 2.0 / n), 1.0 / n, "1/N"))
    if not views:
        raise ValueError("maps holds neither FIT nor SET maps (both switched off?).")
    return views
