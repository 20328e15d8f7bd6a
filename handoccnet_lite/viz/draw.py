"""Drawing attention maps over images: pure matplotlib functions (no widgets, no global state).

Colours. Attention rows (A, C = g A, SET's A') use a diverging map centred at their uniform level
(1/N for a softmax row): white and transparent where a token gets exactly a uniform share, red
where it gets more, blue where less, so a near-uniform map leaves the image visible. Gates (FIT's
g, the spatial gate s) lie in [0, 1] and use a sequential map whose opacity grows with the value.
Sizes: titles and colour-bar labels are `TITLE_PT` / `LABEL_PT` points; at the explorer's PNG
resolution (`EXPLORER_DPI`) they are at least as large as JupyterLab's 14 px body text.
Shape letters: G grid side, S image side, J joints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .maps import (
    View,
    _block_list,
    attention_row,
    explorer_views,
    to_numpy,
    token_rowcol,
    upsample_grid,
)

TITLE_PT, LABEL_PT = 12.0, 11.0  # points; x EXPLORER_DPI / 72 = pixels on screen
EXPLORER_DPI = 96  # 12 pt -> 16 px, 11 pt -> 14.7 px
PANEL_IN = 3.4  # inches per panel side
ATTN_CMAP, GATE_CMAP = "RdBu_r", "viridis"
OUTLINES = {  # legend of the image panel: what each outline colour means
    "visible": ("lime", "visible hand"),
    "hidden": ("cyan", "hidden hand"),
    "occluder": ("white", "your occluder"),
}


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


def _norm(vmax: float, center: float | None) -> Any:
    """Colour normalisation: diverging around `center` when it lies inside (0, vmax)."""
    from matplotlib import colors

    top = float(vmax) if vmax > 0 else 1.0
    if center is not None and 0.0 < center < top:
        return colors.TwoSlopeNorm(vmin=0.0, vcenter=float(center), vmax=top)
    return colors.Normalize(vmin=0.0, vmax=top)


def overlay_rgba(
    attn_map: Any, size: int, vmax: float, center: float | None, alpha: float, cmap: str
) -> np.ndarray:
    """(G, G) map -> (S, S, 4) RGBA overlay. Opacity alpha x (distance from `center` on the
    colour scale, 0 at the centre, 1 at either end), or alpha x value / vmax without a centre."""
    import matplotlib.pyplot as plt

    norm = _norm(vmax, center)
    scaled = np.clip(norm(upsample_grid(attn_map, size)), 0.0, 1.0)  # (S, S) in [0, 1]
    rgba = plt.get_cmap(cmap)(scaled)  # (S, S, 4)
    diverging = center is not None and 0.0 < center < vmax
    rgba[..., 3] = alpha * (np.abs(2.0 * scaled - 1.0) if diverging else scaled)
    return rgba


def _colorbar(ax: Any, vmax: float, center: float | None, label: str, cmap: str) -> None:
    """Colour bar with ticks 0, the uniform level (labelled, e.g. '1/N') and the top."""
    import matplotlib.pyplot as plt

    norm = _norm(vmax, center)
    bar = ax.figure.colorbar(plt.cm.ScalarMappable(norm, cmap), ax=ax, fraction=0.046, pad=0.02)
    ticks, names = [0.0, vmax], ["0", f"{vmax:.3g}"]
    if center is not None and 0.0 < center < vmax:
        ticks, names = [0.0, center, vmax], ["0", label or f"{center:.3g}", f"{vmax:.3g}"]
    bar.set_ticks(ticks)
    bar.set_ticklabels(names)
    bar.ax.tick_params(labelsize=LABEL_PT)


def attention_overlay(
    image: Any,
    attn_map: Any,
    ax: Any = None,
    query: int | None = None,
    vmax: float | None = None,
    alpha: float = 0.75,
    cmap: str | None = None,
    title: str | None = None,
    colorbar: bool = True,
    center: float | None = None,
    center_label: str = "",
) -> Any:
    """Draw a (G, G) map over the (S, S) image; returns the axis.

    Each token's value colours its pixel block. Without ``center`` the scale runs from 0 to
    ``vmax`` (default: the map's maximum) and the opacity grows with the value; with ``center``
    (the uniform level, e.g. 1/N) the map is diverging and transparent at the centre (see
    `overlay_rgba`). ``query`` outlines that token in red.
    """
    import matplotlib.pyplot as plt

    img = as_image(image)
    m = to_numpy(attn_map)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"attn_map must be a square (G, G) array, got shape {m.shape}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    top = float(vmax) if vmax is not None else float(m.max())
    top = top if top > 0 else 1.0
    cmap = cmap or (ATTN_CMAP if center is not None else GATE_CMAP)
    if ax is None:
        _, ax = plt.subplots(figsize=(PANEL_IN, PANEL_IN))
    ax.imshow(img)
    ax.imshow(overlay_rgba(m, img.shape[0], top, center, alpha, cmap))
    if query is not None:
        mark_query(ax, query, m.shape[0], img.shape[0])
    if colorbar:
        _colorbar(ax, top, center, center_label, cmap)
    ax.set_title(title or "", fontsize=TITLE_PT)
    ax.set_axis_off()
    return ax


def _outline(ax: Any, mask: Any, shape: tuple[int, ...], key: str) -> None:
    m = to_numpy(mask)
    if m.shape != shape:
        raise ValueError(f"{key} mask must be (S, S) = {shape}, got {m.shape}.")
    if m.max() > 0.5 > m.min():
        ax.contour(m, levels=[0.5], colors=OUTLINES[key][0], linewidths=1.5)


def draw_skeleton(ax: Any, joints_img: Any, size: int, color: str = "yellow") -> None:
    """Predicted 2D joints (J, 2) in [0, 1] crop coordinates as a skeleton on an (S, S) axis."""
    from handoccnet_lite.hand.joints import SKELETON

    xy = to_numpy(joints_img) * size - 0.5  # (J, 2) pixel centres
    for a, b in SKELETON:
        ax.plot(xy[[a, b], 0], xy[[a, b], 1], "-", color=color, lw=1.5)
    ax.plot(xy[:, 0], xy[:, 1], "o", color=color, ms=2.5)


def _legend(ax: Any, keys: list[str], with_joints: bool) -> None:
    """Legend under the image panel: outlines, the query square, the predicted skeleton."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=OUTLINES[k][0], lw=2, label=OUTLINES[k][1]) for k in keys]
    handles.append(Patch(fc="none", ec="red", lw=2, label="query token"))
    if with_joints:
        handles.append(Line2D([], [], color="yellow", lw=2, marker="o", label="prediction"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2,
              fontsize=LABEL_PT, frameon=True, facecolor="0.85", handlelength=1.5)  # fmt: skip


def image_panel(
    ax: Any,
    image: Any,
    query: int,
    grid: int,
    title: str,
    outlines: Mapping[str, Any] | None = None,
    joints_img: Any = None,
) -> None:
    """The input image with the query square, outlines (keys of `OUTLINES` -> (S, S) masks),
    the predicted skeleton and a legend."""
    img = as_image(image)
    ax.imshow(img)
    for key, mask in (outlines or {}).items():
        if key not in OUTLINES:
            raise ValueError(f"outline keys must be among {tuple(OUTLINES)}, got {key!r}.")
        if mask is not None:
            _outline(ax, mask, img.shape[:2], key)
    if joints_img is not None:
        draw_skeleton(ax, joints_img, img.shape[0])
    mark_query(ax, query, grid, img.shape[0])
    keys = [k for k, v in (outlines or {}).items() if v is not None]
    _legend(ax, keys, joints_img is not None)
    ax.set_title(title, fontsize=TITLE_PT)
    ax.set_xlim(-0.5, img.shape[1] - 0.5)
    ax.set_ylim(img.shape[0] - 0.5, -0.5)
    ax.set_axis_off()


def explorer_figure(
    maps: Mapping[str, Any],
    image: Any,
    query: int,
    head: int = 0,
    block: int = 0,
    sample: int = 0,
    occlusion: Any = None,
    suptitle: str | None = None,
    scale: str = "shared",
    visible: Any = None,
    occluder: Any = None,
    spatial_gate: Any = None,
    joints_img: Any = None,
    ncols: int = 3,
) -> Any:
    """The explorer's figure, ``ncols`` panels a row: the image (query square; outlines of the
    hidden hand ``occlusion``, the visible hand ``visible`` and a placed ``occluder``, (S, S)
    masks each; the predicted skeleton ``joints_img`` (J, 2) in [0, 1]; a legend), the spatial
    gate s (``spatial_gate`` (G, G), when given), then every panel of `explorer_views`."""
    import matplotlib.pyplot as plt

    views = explorer_views(maps, query, head, block, sample, scale)
    grid = views[0].values.shape[0]
    if spatial_gate is not None:
        s = to_numpy(spatial_gate).reshape(grid, grid)
        views.insert(0, View(f"spatial gate s\nmean {s.mean():.3f}", s, 1.0))
    n_panels = len(views) + 1
    rows = -(-n_panels // ncols)
    fig, axes = plt.subplots(
        rows,
        ncols,
        figsize=(PANEL_IN * ncols * 1.15, PANEL_IN * rows * 1.3 + 0.4),
        gridspec_kw=dict(
            left=0.01,
            right=0.95,
            bottom=0.1 / rows,
            top=1 - 0.5 / (rows * 3.4),
            wspace=0.3,
            hspace=0.55,
        ),
    )  # fmt: skip  (a fixed layout: tight_layout would draw the figure once more)
    axes = np.atleast_1d(axes).ravel()
    row, col = token_rowcol(query, grid)
    outlines = {"visible": visible, "hidden": occlusion, "occluder": occluder}
    title = f"query token ({row}, {col})\nhead {head}, block {block}"
    image_panel(axes[0], image, query, grid, title, outlines, joints_img)
    for ax, view in zip(axes[1:], views, strict=False):
        attention_overlay(image, view.values, ax, query=query, vmax=view.vmax, title=view.title,
                          center=view.center, center_label=view.center_label)  # fmt: skip
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle, fontsize=TITLE_PT)
    return fig


def figure_png(fig: Any, dpi: int = EXPLORER_DPI, close: bool = True, tight: bool = True) -> bytes:
    """A matplotlib figure as PNG bytes (for an ipywidgets.Image), closed afterwards by default
    so that a redrawing widget does not accumulate open figures. tight=False keeps the figure's
    own layout and draws it once (about half the time of the tight bounding box)."""
    import io

    import matplotlib.pyplot as plt

    if not hasattr(fig, "savefig"):
        raise TypeError(f"figure_png expects a matplotlib Figure, got {type(fig).__name__}.")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None,
                metadata={"Software": None})  # fmt: skip
    if close:
        plt.close(fig)
    return buf.getvalue()


def heads_blocks_figure(
    maps: Any, image: Any, query: int, kind: str = "product", sample: int = 0
) -> Any:
    """Every (block, head) of one module's ``kind`` map for one query, on one shared colour scale
    centred at the uniform level 1/N (gates: 0..1): rows are blocks, columns heads."""
    import matplotlib.pyplot as plt

    blocks = _block_list(maps, kind)
    n_blocks, n_heads = len(blocks), int(blocks[0].shape[1])
    rows = [
        [attention_row(maps, kind, b, h, query, sample) for h in range(n_heads)]
        for b in range(n_blocks)
    ]
    n = rows[0][0].size
    center = None if kind == "gate" else 1.0 / n
    top = 1.0 if kind == "gate" else max(max(float(r.max()) for row in rows for r in row), 2.0 / n)
    fig, axes = plt.subplots(
        n_blocks, n_heads, figsize=(PANEL_IN * n_heads, PANEL_IN * n_blocks), squeeze=False
    )
    for b in range(n_blocks):
        for h in range(n_heads):
            attention_overlay(image, rows[b][h], axes[b, h], query=query, vmax=top,
                              title=f"block {b}, head {h}", colorbar=h == n_heads - 1,
                              center=center, center_label="1/N")  # fmt: skip
    fig.tight_layout()
    return fig
