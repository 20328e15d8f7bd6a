"""Attention maps drawn over images: the pure plotting functions behind notebook 08's explorer.

Every function takes arrays (numpy, or torch tensors on any device) and returns numpy arrays or
matplotlib objects. No widgets and no global state live here: the notebook's widget cells only
connect controls to these functions, and the same functions write the static figures.

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


class View(NamedTuple):
    """One panel of the explorer: a (G, G) map, its title and colour range."""

    title: str
    values: np.ndarray  # (G, G)
    vmax: float  # colour scale upper bound (lower bound 0)


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


def explorer_views(
    maps: Mapping[str, Any], query: int, head: int = 0, block: int = 0, sample: int = 0
) -> list[View]:
    """The explorer's panels for one query token: FIT's softmax row A[q], its gate g (all
    queries), the scaled row C[q] = g[q] A[q] (same colour scale as A[q], so the attenuation
    shows), and SET's softmax row. Panels of switched-off parts are left out."""
    views: list[View] = []
    fit = maps.get("fit")
    if fit is not None:
        soft = attention_row(fit, "softmax", block, head, query, sample)
        views.append(View(f"FIT softmax A[q]\nmax {soft.max():.3f}", soft, soft.max()))
        if fit.gate:
            gate = attention_row(fit, "gate", block, head, query, sample)
            g_q = gate.ravel()[query]
            views.append(View(f"FIT gate g (every query)\ng[q] = {g_q:.3f}", gate, 1.0))
            prod = attention_row(fit, "product", block, head, query, sample)
            title = f"FIT C[q] = g[q] A[q]\nrow sum {prod.sum():.3f}"
            views.append(View(title, prod, soft.max()))
    set_maps = maps.get("set")
    if set_maps is not None:
        soft = attention_row(set_maps, "softmax", block, head, query, sample)
        views.append(View(f"SET softmax A'[q]\nmax {soft.max():.3f}", soft, soft.max()))
    if not views:
        raise ValueError("maps holds neither FIT nor SET maps (both switched off?).")
    return views


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------
def as_image(image: Any) -> np.ndarray:
    """(3, S, S) or (S, S, 3) in [0, 1] (or uint8) -> (S, S, 3) float in [0, 1]."""
    img = to_numpy(image)
    if img.ndim == 3 and img.shape[0] == 3 and img.shape[-1] != 3:
        img = img.transpose(1, 2, 0)  # (S, S, 3)
    if img.ndim != 3 or img.shape[-1] != 3 or img.shape[0] != img.shape[1]:
        raise ValueError(
            f"image must be a square (3, S, S) or (S, S, 3) RGB array, got {img.shape}."
        )
    if img.max() > 1.0 + 1e-6:
        img = img / 255.0
    return np.clip(img, 0.0, 1.0)


def mark_query(ax: Any, query: int, grid: int, size: int, color: str = "red") -> None:
    """Outline the query token's pixel block on an image axis."""
    from matplotlib.patches import Rectangle

    row, col = token_rowcol(query, grid)
    cell = size / grid
    ax.add_patch(
        Rectangle((col * cell - 0.5, row * cell - 0.5), cell, cell, fill=False, ec=color, lw=2)
    )


def attention_overlay(
    image: Any,
    attn_map: Any,
    ax: Any = None,
    query: int | None = None,
    vmax: float | None = None,
    alpha: float = 0.75,
    cmap: str = "inferno",
    title: str | None = None,
    colorbar: bool = True,
) -> Any:
    """Draw a (G, G) map over the (S, S) image; returns the axis.

    Each token's value colours its pixel block; the overlay's opacity grows with the value
    (alpha * value / vmax), so low attention leaves the image visible. ``query`` outlines that
    token in red. The colour scale runs from 0 to ``vmax`` (default: the map's maximum).
    """
    import matplotlib.pyplot as plt
    from matplotlib import colors

    img = as_image(image)
    m = to_numpy(attn_map)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"attn_map must be a square (G, G) array, got shape {m.shape}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    size, grid = img.shape[0], m.shape[0]
    top = float(vmax) if vmax is not None else float(m.max())
    norm = colors.Normalize(vmin=0.0, vmax=top if top > 0 else 1.0)
    up = upsample_grid(m, size)  # (S, S)
    rgba = plt.get_cmap(cmap)(norm(up))  # (S, S, 4)
    rgba[..., 3] = alpha * np.clip(norm(up), 0.0, 1.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(3.4, 3.4))
    ax.imshow(img)
    ax.imshow(rgba)
    if query is not None:
        mark_query(ax, query, grid, size)
    if colorbar:
        ax.figure.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=ax, fraction=0.046, pad=0.02)
    ax.set_title(title or "", fontsize=9)
    ax.set_axis_off()
    return ax


def explorer_figure(
    maps: Mapping[str, Any],
    image: Any,
    query: int,
    head: int = 0,
    block: int = 0,
    sample: int = 0,
    occlusion: Any = None,
    suptitle: str | None = None,
) -> Any:
    """The explorer's figure: the image (query outlined, occluded pixels contoured in cyan when
    ``occlusion`` (S, S) is given), then every panel of `explorer_views` overlaid on it."""
    import matplotlib.pyplot as plt

    views = explorer_views(maps, query, head, block, sample)
    img = as_image(image)
    grid = views[0].values.shape[0]
    row, col = token_rowcol(query, grid)
    fig, axes = plt.subplots(1, len(views) + 1, figsize=(3.3 * (len(views) + 1), 3.6))
    axes[0].imshow(img)
    if occlusion is not None:
        occ = to_numpy(occlusion)
        if occ.shape != img.shape[:2]:
            raise ValueError(f"occlusion must be (S, S) = {img.shape[:2]}, got {occ.shape}.")
        axes[0].contour(occ, levels=[0.5], colors="cyan", linewidths=1.2)
    mark_query(axes[0], query, grid, img.shape[0])
    axes[0].set_title(f"query token ({row}, {col})\nhead {head}, block {block}", fontsize=9)
    axes[0].set_axis_off()
    for ax, view in zip(axes[1:], views, strict=True):
        attention_overlay(img, view.values, ax, query=query, vmax=view.vmax, title=view.title)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def figure_png(fig: Any, dpi: int = 90, close: bool = True) -> bytes:
    """A matplotlib figure as PNG bytes (for an ipywidgets.Image), closed afterwards by default
    so that a redrawing widget does not accumulate open figures."""
    import io

    import matplotlib.pyplot as plt

    if not hasattr(fig, "savefig"):
        raise TypeError(f"figure_png expects a matplotlib Figure, got {type(fig).__name__}.")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if close:
        plt.close(fig)
    return buf.getvalue()


def heads_blocks_figure(
    maps: Any, image: Any, query: int, kind: str = "product", sample: int = 0
) -> Any:
    """Every (block, head) of one module's ``kind`` map for one query, on a shared colour scale:
    rows are blocks, columns heads."""
    import matplotlib.pyplot as plt

    blocks = _block_list(maps, kind)
    n_blocks, n_heads = len(blocks), int(blocks[0].shape[1])
    rows = [
        [attention_row(maps, kind, b, h, query, sample) for h in range(n_heads)]
        for b in range(n_blocks)
    ]
    top = max(float(r.max()) for row in rows for r in row)
    fig, axes = plt.subplots(
        n_blocks, n_heads, figsize=(3.0 * n_heads, 2.9 * n_blocks), squeeze=False
    )
    for b in range(n_blocks):
        for h in range(n_heads):
            attention_overlay(
                image,
                rows[b][h],
                axes[b, h],
                query=query,
                vmax=top,
                title=f"block {b}, head {h}",
                colorbar=h == n_heads - 1,
            )
    fig.tight_layout()
    return fig
