"""The attention explorer widget: one call, `attention_explorer(model, dataset)`.

Controls: a test image; the query token (row, col; "jump to an occluded token"); head and block;
the colour scale of A and C = g A (one shared scale, so the gate's dimming shows, or each its
own); an object you place in front of the hand (shape, x, y, size in the crop). Every change
redraws `draw.explorer_figure` into an image widget: the image with outlines, the predicted
skeleton and a legend, the spatial gate s, FIT's A[q], g and C[q], and SET's A'[q]. Changing the
object or the image re-renders the scene (`occlude.OccludableSample`) and runs the model again;
changing the query, head, block or scale only redraws.

The widget logic is plain methods (`compute`, `redraw`, `jump`) on plain attributes, so tests
drive it by setting widget values, without a browser. Shape letters: S image side, G grid side.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .draw import EXPLORER_DPI, explorer_figure, figure_png
from .maps import SCALES, map_shape, mask_to_grid, occluded_tokens, token_index, token_rowcol
from .occlude import OCCLUDER_SHAPES, OccludableSample, OccluderSpec

WIDE = {"description_width": "initial"}  # labels in full, never cut


def pick_occluded(dataset: Any, n: int, min_occlusion: float = 0.25) -> list[int]:
    """n test indices spread from the least to the most occluded among those with at least
    `min_occlusion` of the hand hidden (all indices when none is that occluded)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of images, got {n}.")
    occ = np.array([dataset.record(i)["occlusion"] for i in range(len(dataset))])
    cand = np.flatnonzero(occ >= min_occlusion)
    cand = cand if cand.size else np.arange(len(dataset))
    cand = cand[np.argsort(occ[cand], kind="stable")]  # least to most occluded
    return sorted({int(cand[round(q)]) for q in np.linspace(0, cand.size - 1, n)},
                  key=lambda i: occ[i])  # fmt: skip


class AttentionExplorer:
    """Widgets + state of the explorer (see the module docstring). Build it with
    `attention_explorer`; display it by leaving it as a cell's last expression."""

    def __init__(
        self,
        model: Any,
        dataset: Any,
        indices: list[int],
        weights: str = "",
        device: Any = None,
    ) -> None:
        import torch

        if not indices:
            raise ValueError("indices is empty: pass at least one test index of the dataset.")
        # one model, or {name: model} (a "model" menu switches between them)
        self.models = {
            k: m.eval() for k, m in (model if isinstance(model, dict) else {"": model}).items()
        }
        if not self.models:
            raise ValueError("model is an empty dict: pass a model or {name: model}.")
        self.dataset, self.indices, self.weights = dataset, indices, weights
        first = next(iter(self.models.values()))
        self.device = device or next(first.parameters()).device
        with torch.no_grad():  # one pass per model for the map sizes (they must agree)
            image = dataset[indices[0]]["image"][None].to(self.device)
            probes = {k: m(image, return_maps=True) for k, m in self.models.items()}
        grids = {k: int(p["gate"].shape[-1]) for k, p in probes.items()}
        if len(set(grids.values())) > 1:
            raise ValueError(f"the models' token grids differ ({grids}); the explorer compares "
                             "models of one input size and feature stride.")  # fmt: skip
        probe = next(iter(probes.values()))
        # {model: {"fit"/"set": (blocks, heads)}}: the block and head menus follow the model
        self.shapes = {k: map_shape(p["maps"]) for k, p in probes.items()}
        if not all(self.shapes.values()):
            raise ValueError("a model returns no attention maps (FIT and SET switched off).")
        self.shape = next(iter(self.shapes.values()))
        self.grid = int(probe["gate"].shape[-1])
        self.faces = _hand_faces(dataset)
        self._samples: dict[int, OccludableSample] = {}
        self._cache: tuple[Any, Any] | None = None  # (key, (item, out)) of the last forward
        self._hold = False
        self.timings: list[dict[str, float]] = []
        self.state: dict[str, Any] = {}
        self._build_widgets()  # nothing drawn yet: `attention_explorer` draws the first view

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self) -> None:
        import ipywidgets as w

        n_blocks = min(b for b, _ in self.shape.values())
        n_heads = min(h for _, h in self.shape.values())
        G, occ = self.grid, [self.dataset.record(i)["occlusion"] for i in self.indices]
        pairs = enumerate(zip(self.indices, occ, strict=True))
        labels = [(f"test #{i} ({o:.0%} hidden)", k) for k, (i, o) in pairs]
        menu = lambda name, opts, v: w.Dropdown(options=opts, value=v, description=name, style=WIDE)  # noqa: E731
        token = lambda name: _slider(w.IntSlider, name, G // 2, 0, G - 1, 1)  # noqa: E731
        frac = lambda name, v, lo=0.0, hi=1.0: _slider(w.FloatSlider, name, v, lo, hi, 0.02)  # noqa: E731
        scales = [("A and C on one scale", "shared"), ("each on its own scale", "own")]
        names = list(self.models)
        self.controls = {
            "model": menu("model", names, names[0]),
            "image": menu("test image", labels, len(labels) - 1),
            "row": token("query row"),
            "col": token("query col"),
            "head": menu("head", list(range(n_heads)), 0),
            "block": menu("block", list(range(n_blocks)), 0),
            "scale": w.ToggleButtons(options=scales, description="colour scale", style=WIDE),
            "shape": w.ToggleButtons(options=list(OCCLUDER_SHAPES), value="none",
                                     description="your occluder", style=WIDE),
            "x": frac("occluder x", 0.5),
            "y": frac("occluder y", 0.5),
            "size": frac("occluder size", 0.15, 0.02, 0.5),
        }  # fmt: skip
        self.jump_button = w.Button(description="jump to an occluded token", icon="crosshairs",
                                    layout=w.Layout(width="auto"))  # fmt: skip
        self.status = w.Label()
        self.plot = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        hooks = dict(self.controls, jump=self.jump_button, plot=self.plot, status=self.status)
        for name, widget in hooks.items():
            widget.add_class(f"hoc-explorer-{name}")  # stable hooks for tests/test_browser.py
            if name in self.controls:
                widget.observe(self._switch_model if name == "model" else self.redraw, "value")
        self.jump_button.on_click(self.jump)
        c = self.controls
        c["model"].layout.display = None if len(names) > 1 else "none"  # one model: no menu
        self.widget = w.VBox([
            w.HBox([c["model"], c["image"], c["head"], c["block"]]),
            w.HBox([c["row"], c["col"], self.jump_button]),
            c["scale"],
            w.HBox([c["shape"]]),
            w.HBox([c["x"], c["y"], c["size"]]),
            self.status,
            self.plot,
        ])  # fmt: skip

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ logic
    @property
    def model(self) -> Any:
        """The model the "model" menu selects (the only one when one was given)."""
        return self.models[self.controls["model"].value]

    @property
    def caption(self) -> str:
        """The line above the figure: the weights, and the selected model's name."""
        name = self.controls["model"].value
        return " | ".join(x for x in (f"model: {name}" if name else "", self.weights) if x)

    def _switch_model(self, *_: Any) -> None:
        """Another model: its own block and head menus (values kept where they exist), one
        redraw."""
        self.shape = self.shapes[self.controls["model"].value]
        n_blocks = min(b for b, _ in self.shape.values())
        n_heads = min(h for _, h in self.shape.values())
        held, self._hold = self._hold, True
        for name, n in (("block", n_blocks), ("head", n_heads)):
            menu = self.controls[name]
            keep = min(menu.value, n - 1)
            menu.options = list(range(n))
            menu.value = keep
        self._hold = held
        self.redraw()

    def spec(self) -> OccluderSpec:
        """The placed object as the controls say."""
        c = self.controls
        return OccluderSpec(c["shape"].value, c["x"].value, c["y"].value, c["size"].value)

    def sample(self, k: int) -> OccludableSample:
        """The re-renderable scene of picked image k (the hand is rasterised once per image)."""
        if k not in self._samples:
            rec = self.dataset.record(self.indices[k])
            self._samples[k] = OccludableSample(rec, self.dataset.cfg, self.faces)
        return self._samples[k]

    def forward(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(item, model output) for the current image and object; cached while they stay."""
        import torch

        key = (self.controls["model"].value, self.controls["image"].value, self.spec())
        if self._cache is None or self._cache[0] != key:
            item = self.sample(key[1]).item(key[2])
            with torch.no_grad():
                out = self.model(item["image"][None].to(self.device), return_maps=True)
            self._cache = (key, (item, out))
        return self._cache[1]

    def figure(self) -> Any:
        """The matplotlib figure of the controls' current values (for saving; `compute` shows
        it as PNG)."""
        c = self.controls
        item, out = self.forward()
        q = token_index(c["row"].value, c["col"].value, self.grid)
        return explorer_figure(
            out["maps"], item["image"], q, c["head"].value, c["block"].value,
            scale=c["scale"].value, occlusion=item["hidden_px"], visible=item["visible_px"],
            occluder=item["occluder_px"] if item["occluder_px"].any() else None,
            spatial_gate=out["gate"][0, 0], joints_img=out["joints_img"][0], suptitle=self.caption,
        )  # fmt: skip

    def compute(self) -> dict[str, Any]:
        """Everything one redraw shows, as arrays, plus the figure's PNG bytes and timings
        (wall seconds, and CPU seconds of this process: the cost without other load)."""
        t0, c0 = time.perf_counter(), time.process_time()
        item, out = self.forward()
        t1 = time.perf_counter()
        png = figure_png(self.figure(), dpi=EXPLORER_DPI, tight=False)
        t2, c2 = time.perf_counter(), time.process_time()
        self.timings.append({"scene_and_model_s": t1 - t0, "draw_s": t2 - t1, "total_s": t2 - t0,
                             "cpu_s": c2 - c0})  # fmt: skip
        q = token_index(self.controls["row"].value, self.controls["col"].value, self.grid)
        return {"item": item, "out": out, "query": q, "png": png, "seconds": t2 - t0}

    def redraw(self, *_: Any) -> None:
        """Recompute and show the figure for the widgets' current values."""
        if self._hold:
            return
        self.state = self.compute()
        item, c = self.state["item"], self.controls
        hidden = mask_to_grid(item["hidden_px"], self.grid)[c["row"].value, c["col"].value]
        self.status.value = (
            f"test #{self.indices[c['image'].value]}: {float(item['occlusion']):.0%} of the hand "
            f"hidden; query token ({c['row'].value}, {c['col'].value}) is {hidden:.0%} hidden "
            f"hand | redrawn in {self.state['seconds']:.2f} s | {self.caption}"
        )
        self.plot.value = self.state["png"]

    def occluded_tokens(self) -> list[int]:
        """Tokens of the current scene that are at least half hidden hand, most hidden first."""
        item = self.forward()[0]
        return [int(t) for t in occluded_tokens(mask_to_grid(item["hidden_px"], self.grid), 0.5)]

    def jump(self, _: Any = None) -> None:
        """Move the query to the next occluded token after the current one (cycling); one
        redraw for both sliders."""
        tokens = self.occluded_tokens()
        c = self.controls
        if not tokens:
            self.status.value = "this scene has no token that is at least half hidden hand"
            return
        here = token_index(c["row"].value, c["col"].value, self.grid)
        nxt = tokens[(tokens.index(here) + 1) % len(tokens)] if here in tokens else tokens[0]
        self._hold = True
        try:
            c["row"].value, c["col"].value = token_rowcol(nxt, self.grid)
        finally:
            self._hold = False
        self.redraw()


def _slider(kind: Any, name: str, value: float, lo: float, hi: float, step: float) -> Any:
    """A slider with its label in full that reports a value when released (one redraw a move)."""
    return kind(value=value, min=lo, max=hi, step=step, description=name, style=WIDE,
                continuous_update=False)  # fmt: skip


def _hand_faces(dataset: Any) -> Any:
    """Triangles (F, 3) of the hand model that made the dataset (its manifest says which)."""
    from handoccnet_lite.hand import load_hand_model

    kind = dataset.manifest["hand_model"]
    return load_hand_model(kind, mano_dir=getattr(dataset, "mano_dir", None)).faces


def attention_explorer(
    model: Any,
    dataset: Any,
    n_images: int = 6,
    min_occlusion: float = 0.25,
    indices: list[int] | None = None,
    weights: str = "",
    scale: str = "shared",
) -> AttentionExplorer:
    """The explorer over `n_images` test images of a SynthOcc `dataset` (centred crops,
    augment=False) spread over occlusion levels >= `min_occlusion` (or the given `indices`),
    starting at the most occluded one with the query on its most hidden token. `model`: one
    model, or {name: model} of one preset (e.g. the bundled teaching models of both variants,
    `utils.BUNDLED_CHECKPOINTS`), switched with a "model" menu. `weights` is printed above the
    figure (say which checkpoint ran)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}.")
    picks = (
        list(indices) if indices is not None else pick_occluded(dataset, n_images, min_occlusion)
    )
    ex = AttentionExplorer(model, dataset, picks, weights)
    ex._hold = True
    ex.controls["scale"].value = scale
    x, y = ex.sample(ex.controls["image"].value).visible_centre()
    ex.controls["x"].value, ex.controls["y"].value = round(x, 2), round(y, 2)
    ex._hold = False
    if ex.occluded_tokens():
        ex.jump()  # the query on the most hidden token, drawn
    else:
        ex.redraw()
    return ex
