"""Plotly view of a hand mesh and its skeleton (pure function; plotly imported lazily)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .joints import SKELETON


def _np(x: Any) -> np.ndarray:
    """Tensor or array -> float numpy (detached, on CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _skeleton_lines(joints: np.ndarray, edges) -> tuple[list, list, list]:
    """Polyline coordinates with None breaks between bones, for one Scatter3d trace."""
    xs, ys, zs = [], [], []
    for a, b in edges:
        for seq, k in ((xs, 0), (ys, 1), (zs, 2)):
            seq += [joints[a, k], joints[b, k], None]
    return xs, ys, zs


def hand_figure(
    vertices: Any,
    faces: Any,
    joints: Any | None = None,
    edges=SKELETON,
    color: str = "#e8b89a",
    opacity: float = 0.6,
    title: str | None = None,
):
    """plotly Figure: vertices (V, 3), faces (F, 3), optional joints (21, 3) canonical order.

    A batch element must be chosen by the caller (pass ``out.vertices[0]``).
    """
    import plotly.graph_objects as go

    v, f = _np(vertices), _np(faces).astype(int)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(
            f"hand_figure expects vertices (V, 3) and faces (F, 3), got {v.shape} and "
            f"{f.shape}; index one hand of a batch first (out.vertices[0])."
        )
    traces = [go.Mesh3d(x=v[:, 0], y=v[:, 1], z=v[:, 2], i=f[:, 0], j=f[:, 1], k=f[:, 2],
                        color=color, opacity=opacity, flatshading=True, name="mesh")]  # fmt: skip
    if joints is not None:
        jt = _np(joints).reshape(-1, 3)
        xs, ys, zs = _skeleton_lines(jt, edges)
        line = dict(color="#1f4e99", width=5)
        traces.append(go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", name="skeleton", line=line))
        marker = dict(size=3, color="#c0392b")
        x, y, z = jt.T
        traces.append(go.Scatter3d(x=x, y=y, z=z, mode="markers", marker=marker, name="joints"))
    fig = go.Figure(traces)
    fig.update_layout(scene=dict(aspectmode="data"), title=title, margin=dict(l=0, r=0, t=30, b=0))
    return fig
