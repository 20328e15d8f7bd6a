"""Tests for handoccnet_lite.viz: token bookkeeping, picking maps, masks, and the figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from handoccnet_lite import viz
from handoccnet_lite.model.attention import AttentionMaps

G, S, HEADS, BLOCKS, B = 4, 32, 2, 2, 2
N = G * G


def _maps(with_gate: bool = True, seed: int = 0) -> AttentionMaps:
    """Random row-stochastic maps of known shape: softmax (B, H, N, N), gate (B, H, N, 1)."""
    gen = torch.Generator().manual_seed(seed)
    maps = AttentionMaps()
    for _ in range(BLOCKS):
        soft = torch.softmax(torch.randn(B, HEADS, N, N, generator=gen) * 3, dim=-1)
        gate = torch.sigmoid(torch.randn(B, HEADS, N, 1, generator=gen)) if with_gate else None
        maps.append(soft, gate, soft if gate is None else soft * gate)
    return maps


def _image() -> torch.Tensor:
    return torch.rand(3, S, S, generator=torch.Generator().manual_seed(1))  # (3, S, S)


def _pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    out = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return out


def test_token_index_round_trip_is_row_major() -> None:
    idx = [viz.token_index(r, c, G) for r in range(G) for c in range(G)]
    assert idx == list(range(N))
    assert all(viz.token_rowcol(i, G) == divmod(i, G) for i in range(N))


@pytest.mark.parametrize("row, col", [(-1, 0), (0, G), (G, 1)])
def test_token_index_rejects_cells_outside_the_grid(row: int, col: int) -> None:
    with pytest.raises(ValueError, match="outside the 4 x 4 token grid"):
        viz.token_index(row, col, G)


def test_token_rowcol_and_grid_errors_say_what_is_expected() -> None:
    with pytest.raises(ValueError, match="0 <= index < 16"):
        viz.token_rowcol(N, G)
    with pytest.raises(ValueError, match="positive integer"):
        viz.token_index(0, 0, 0)


def test_upsample_grid_fills_each_token_block() -> None:
    m = np.arange(N, dtype=float).reshape(G, G)
    up = viz.upsample_grid(m, S)  # (S, S)
    cell = S // G
    assert up.shape == (S, S)
    assert up[0, 0] == 0 and up[cell - 1, cell - 1] == 0 and up[cell, 0] == G
    assert up[S - 1, S - 1] == N - 1
    with pytest.raises(ValueError, match="square"):
        viz.upsample_grid(np.zeros((2, 3)), S)


def test_mask_to_grid_is_the_fraction_of_pixels_per_token() -> None:
    mask = np.zeros((S, S), bool)
    cell = S // G
    mask[:cell, :cell] = True  # token (0, 0) fully set
    mask[cell : cell + cell // 2, :cell] = True  # token (1, 0) half set
    frac = viz.mask_to_grid(mask, G)
    assert frac.shape == (G, G)
    assert frac[0, 0] == 1.0 and frac[1, 0] == 0.5 and frac.sum() == 1.5
    with pytest.raises(ValueError, match="multiple of grid"):
        viz.mask_to_grid(np.zeros((30, 30)), G)


def test_occluded_tokens_sorted_most_occluded_first() -> None:
    frac = np.zeros((G, G))
    frac[0, 1], frac[2, 3], frac[3, 0], frac[1, 1] = 0.6, 1.0, 0.6, 0.4
    got = viz.occluded_tokens(frac, threshold=0.5)
    assert got.tolist() == [viz.token_index(2, 3, G), viz.token_index(0, 1, G), 12]
    assert viz.occluded_tokens(np.zeros((G, G))).size == 0
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        viz.occluded_tokens(frac, threshold=0.0)


def test_attention_row_picks_the_right_slice() -> None:
    maps = _maps()
    q, h, b, s = 5, 1, 1, 1
    row = viz.attention_row(maps, "softmax", b, h, q, s)
    assert row.shape == (G, G)
    np.testing.assert_allclose(row.ravel(), maps.softmax[b][s, h, q].numpy(), rtol=1e-6)
    assert row.sum() == pytest.approx(1.0, abs=1e-5)
    gate = viz.attention_row(maps, "gate", b, h, q, s)
    np.testing.assert_allclose(gate.ravel(), maps.gate[b][s, h, :, 0].numpy(), rtol=1e-6)
    prod = viz.attention_row(maps, "product", b, h, q, s)
    assert prod.sum() == pytest.approx(gate.ravel()[q], rel=1e-5)  # rows of C sum to g[q]


def test_attention_row_errors_name_the_problem() -> None:
    maps = _maps()
    with pytest.raises(ValueError, match="kind must be one of"):
        viz.attention_row(maps, "value", 0, 0, 0)
    with pytest.raises(ValueError, match="2 block"):
        viz.attention_row(maps, "softmax", BLOCKS, 0, 0)
    with pytest.raises(ValueError, match="2 head"):
        viz.attention_row(maps, "softmax", 0, HEADS, 0)
    with pytest.raises(ValueError, match="no 'gate' entries"):
        viz.attention_row(_maps(with_gate=False), "gate", 0, 0, 0)
    with pytest.raises(ValueError, match="switched off"):
        viz.attention_row(None, "softmax", 0, 0, 0)


def test_explorer_views_and_their_colour_scales() -> None:
    fit, set_ = _maps(seed=0), _maps(with_gate=False, seed=2)
    views = viz.explorer_views({"fit": fit, "set": set_}, query=3, head=1, block=0)
    assert [v.title.split("\n")[0] for v in views] == [
        "FIT A[q] (softmax)",
        "FIT gate g (every query)",
        "FIT C[q] = g[q] A[q], shared scale",
        "SET A'[q] (softmax)",
    ]
    assert views[1].vmax == 1.0 and views[2].vmax == views[0].vmax  # C on A's scale
    assert np.all(views[2].values <= views[0].values + 1e-12)  # the gate only attenuates
    only_set = viz.explorer_views({"fit": None, "set": set_}, query=0)
    assert len(only_set) == 1
    no_gate = viz.explorer_views({"fit": _maps(with_gate=False), "set": None}, query=0)
    assert len(no_gate) == 1
    with pytest.raises(ValueError, match="neither FIT nor SET"):
        viz.explorer_views({"fit": None, "set": None}, query=0)


def test_map_shape_lists_blocks_and_heads() -> None:
    assert viz.map_shape({"fit": _maps(), "set": None}) == {"fit": (BLOCKS, HEADS)}


def test_as_image_accepts_chw_hwc_and_uint8() -> None:
    chw = _image()
    hwc = viz.as_image(chw)
    assert hwc.shape == (S, S, 3)
    np.testing.assert_allclose(viz.as_image(chw.permute(1, 2, 0)), hwc)
    u8 = (hwc * 255).astype(np.uint8)
    assert viz.as_image(u8).max() <= 1.0
    with pytest.raises(ValueError, match="RGB"):
        viz.as_image(np.zeros((S, S)))


def test_attention_overlay_draws_map_query_box_and_colorbar() -> None:
    m = np.zeros((G, G))
    m[1, 2] = 1.0
    ax = viz.attention_overlay(_image(), m, query=viz.token_index(1, 2, G), title="t")
    fig = ax.figure
    assert len(ax.images) == 2 and len(ax.patches) == 1 and len(fig.axes) == 2  # + colorbar
    overlay = ax.images[1].get_array()  # (S, S, 4) RGBA
    cell = S // G
    assert overlay[cell, 2 * cell, 3] == pytest.approx(0.75)  # opaque where the map is 1
    assert overlay[0, 0, 3] == 0.0  # transparent where it is 0
    plt.close(fig)
    with pytest.raises(ValueError, match="alpha"):
        viz.attention_overlay(_image(), m, alpha=2.0)


def test_explorer_figure_changes_with_the_query() -> None:
    maps = {"fit": _maps(seed=0), "set": _maps(with_gate=False, seed=3)}
    occ = np.zeros((S, S))
    occ[: S // 2] = 1.0
    fig = viz.explorer_figure(maps, _image(), query=0, head=0, block=1, occlusion=occ)
    assert len([a for a in fig.axes if a.get_title()]) == 5  # image + 4 panels
    a = _pixels(fig)
    b = _pixels(viz.explorer_figure(maps, _image(), query=N - 1, head=0, block=1, occlusion=occ))
    assert a.shape == b.shape and (a != b).any(axis=-1).mean() > 0.01
    with pytest.raises(ValueError, match="hidden mask must be"):
        viz.explorer_figure(maps, _image(), query=0, occlusion=np.zeros((4, 4)))


def test_heads_blocks_figure_has_one_panel_per_block_and_head() -> None:
    fig = viz.heads_blocks_figure(_maps(), _image(), query=2)
    titled = [a.get_title() for a in fig.axes if a.get_title()]
    assert titled == [f"block {b}, head {h}" for b in range(BLOCKS) for h in range(HEADS)]
    plt.close(fig)


def test_explorer_on_a_real_forward_pass() -> None:
    """The maps HandOccNet returns plug straight into the explorer (tiny preset, random)."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.model import HandOccNet

    torch.manual_seed(0)
    cfg = preset("tiny")
    net = HandOccNet(cfg).eval()
    image = torch.rand(1, 3, cfg.input_size, cfg.input_size)
    with torch.no_grad():
        out = net(image, return_maps=True)
    shape = viz.map_shape(out["maps"])
    assert shape == {"fit": (cfg.fit.depth, cfg.fit.heads), "set": (cfg.set.depth, cfg.set.heads)}
    views = viz.explorer_views(out["maps"], query=cfg.grid + 1, head=1, block=1)
    assert [v.values.shape for v in views] == [(cfg.grid, cfg.grid)] * 4
    plt.close(viz.explorer_figure(out["maps"], image[0], query=cfg.grid + 1))


def test_crop_mask_follows_the_image_crop() -> None:
    from handoccnet_lite.data.dataset import SynthOccDataset
    from handoccnet_lite.utils import DATA_SAMPLES_DIR

    data = SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", input_size=S)
    rec = data.record(0)
    hand = viz.crop_mask(rec, data.cfg, "hand_mask")
    assert hand.shape == (S, S) and 0.0 <= hand.min() and hand.max() <= 1.0
    assert hand.mean() > 0.05  # the crop is centred on the hand
    with pytest.raises(ValueError, match="augment=False"):
        viz.crop_mask(rec, SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", S, True).cfg)
    with pytest.raises(ValueError, match="key must be one of"):
        viz.crop_mask(rec, data.cfg, "image")


def test_figure_png_returns_png_bytes_and_closes_the_figure() -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    data = viz.figure_png(fig)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(TypeError, match="matplotlib Figure"):
        viz.figure_png(np.zeros((2, 2)))


# ------------------------------------------------------------------ colour scales
def test_shared_scale_draws_c_on_a_scale_and_own_scale_hides_the_gate() -> None:
    maps = {"fit": _maps(seed=0)}
    shared = viz.explorer_views(maps, query=3, scale="shared")
    own = viz.explorer_views(maps, query=3, scale="own")
    a, g_q = shared[0], float(maps["fit"].gate[0][0, 0, 3, 0])
    assert shared[2].vmax == a.vmax and shared[2].center == pytest.approx(1 / N)
    assert own[2].center == pytest.approx(g_q / N) and own[2].vmax < a.vmax
    # the same pixels under "own" as A's, dimmed by g under "shared"
    rgba = lambda v: viz.overlay_rgba(v.values, S, v.vmax, v.center, 0.75, "RdBu_r")  # noqa: E731
    np.testing.assert_allclose(rgba(own[2]), rgba(a), atol=1e-6)
    assert np.abs(rgba(shared[2]) - rgba(a)).max() > 0.1
    with pytest.raises(ValueError, match="scale must be one of"):
        viz.explorer_views(maps, query=3, scale="log")


def test_uniform_map_is_transparent_not_a_hot_wash() -> None:
    flat = np.full((G, G), 1 / N)
    flat[0, 0] *= 1.01  # a nearly uniform row
    rgba = viz.overlay_rgba(flat, S, max(flat.max(), 2 / N), 1 / N, 0.75, "RdBu_r")
    assert rgba[..., 3].max() < 0.02  # the image shows through everywhere
    ax = viz.attention_overlay(_image(), flat, center=1 / N, center_label="1/N", vmax=2 / N)
    bar = ax.figure.axes[-1]
    assert "1/N" in [t.get_text() for t in bar.get_yticklabels()]
    plt.close(ax.figure)


# ------------------------------------------------------------------ computed sentences
@pytest.mark.parametrize(
    ("ratios", "expected", "absent"),
    [
        ([0.5, 0.8, 0.9, 0.7, 0.6, 0.85], "avoid the visible hand in every image", "not in every"),
        (
            [0.97, 0.8, 0.9, 0.7, 0.6, 0.85],
            "lean away from the visible hand in every image",
            "not in",
        ),
        ([1.2, 1.5, 1.1, 1.3], "prefer the visible hand in every image", "not in every"),
        ([1.02, 1.5, 1.1], "lean towards the visible hand in every image", "not in every"),
        ([0.5, 1.2, 0.9], "lean away from the visible hand on average, but not in every", "prefer"),
        ([1.5, 0.9, 1.2], "lean towards the visible hand on average, but not in every", "avoid"),
        ([1.01, 0.98], "attend about uniformly", "every image"),
    ],
)
def test_ratio_verdict(ratios: list[float], expected: str, absent: str) -> None:
    text = viz.ratio_verdict(ratios)
    assert expected in text and absent not in text
    assert f"over {len(ratios)} image" in text


def test_ratio_verdict_bad_input() -> None:
    assert "cannot be measured" in viz.ratio_verdict([])
    with pytest.raises(ValueError, match="finite"):
        viz.ratio_verdict([1.0, float("nan")])


def test_growth_sentence_words_follow_the_measured_exponent() -> None:
    n = [64, 256, 1024]
    assert viz.growth_exponent(n, [1.0, 4.0, 16.0]) == pytest.approx(1.0)
    assert "about flat" in viz.growth_sentence("gate O(N)", n, [0.05, 0.05, 0.06])
    assert "slower than N" in viz.growth_sentence("gate O(N)", n, [0.18, 0.35, 0.7])
    assert "linearly" in viz.growth_sentence("gate O(N)", n, [0.05, 0.2, 0.8])
    assert "like N² or faster" in viz.growth_sentence("gate explicit", n, [0.1, 1.6, 25.6])
    import pandas as pd  # the notebook passes DataFrame columns

    table = pd.DataFrame({"N": n, "a": [1.0, 1.0, 1.0], "b": [2.0, 2.0, 4.0]})
    assert "N = 1024" in viz.growth_sentence("a", table["N"], table["a"])
    assert "every N" in viz.faster_sentence("a", "b", table["N"], table["a"], table["b"])
    assert "N = 1024" in viz.growth_sentence("x", n, [1, 2, 3])
    with pytest.raises(ValueError, match="two different sizes"):
        viz.growth_exponent([64], [1.0])
    text = viz.faster_sentence("O(N)", "explicit", n, [1, 1, 1], [2, 0.5, 4])
    assert "at 2 of 3 sizes" in text and "0.25x" in text
    assert "every N" in viz.faster_sentence("O(N)", "explicit", n, [1, 1, 1], [2, 2, 4])


# ------------------------------------------------------------------ occluder and explorer
@pytest.fixture(scope="module")
def synthocc():
    from handoccnet_lite.data.dataset import SynthOccDataset
    from handoccnet_lite.utils import DATA_SAMPLES_DIR

    return SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", input_size=64)


def test_placed_disc_hides_the_visible_hand_and_updates_the_masks(synthocc) -> None:
    from handoccnet_lite.hand import load_hand_model

    rec = synthocc.record(0)
    faces = load_hand_model(synthocc.manifest["hand_model"]).faces
    sample = viz.OccludableSample(rec, synthocc.cfg, faces)
    x, y = sample.visible_centre()
    new = sample.render(viz.OccluderSpec("disc", x, y, 0.2))
    assert new["occlusion"] > rec["occlusion"] + 0.1
    assert (new["occlusion_mask"] >= rec["occlusion_mask"]).all()  # only more is hidden
    assert (new["occlusion_mask"] <= new["hand_mask"]).all()
    changed = (new["image"] != rec["image"]).any(-1)
    assert changed.any() and (changed <= new["occluder_mask"]).all()
    assert new["joints_vis"].sum() <= rec["joints_vis"].sum()
    item = sample.item(viz.OccluderSpec("box", x, y, 0.2))
    assert item["occluder_px"].max() == 1.0 and item["image"].shape == (3, 64, 64)
    assert sample.render(viz.OccluderSpec("none"))["occlusion"] == rec["occlusion"]
    with pytest.raises(ValueError, match="shape must be one of"):
        viz.OccluderSpec("cone")


def test_explorer_controls_change_the_pictures(synthocc) -> None:
    """The widget without a browser: set controls as a student would, check what is shown."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.model import HandOccNet

    torch.manual_seed(0)
    cfg = preset("tiny")
    model = HandOccNet(cfg).eval()
    data = type(synthocc)(synthocc.folder.parent, "test", input_size=cfg.input_size)
    ex = viz.attention_explorer(model, data, n_images=2, weights="random tiny")
    c = ex.controls
    assert all(w.style.description_width == "initial" for w in c.values())
    assert ex.jump_button.layout.width == "auto"
    png0, image0 = ex.plot.value, ex.state["item"]["image"].clone()
    gate0 = ex.state["out"]["gate"].clone()
    c["shape"].value = "disc"  # place an object: scene, prediction and gate change
    assert not torch.equal(ex.state["item"]["image"], image0)
    assert not torch.equal(ex.state["out"]["gate"], gate0)
    assert ex.plot.value != png0 and float(ex.state["item"]["occlusion"]) > 0
    png1 = ex.plot.value
    c["x"].value = 0.2  # move it
    assert ex.plot.value != png1
    png2, runs = ex.plot.value, len(ex.timings)
    c["scale"].value = "own"  # redraw only, no new forward pass
    assert ex.plot.value != png2 and len(ex.timings) == runs + 1
    assert all(t["total_s"] > 0 for t in ex.timings)


def test_attention_stats_sentences_compare_with_the_background_control() -> None:
    import pandas as pd

    rows = [
        ("gate_auc", "gate", 0, "mean", 0.88, 100),
        ("visible_attention_ratio", "fit", 0, "mean", 2.0, 10),
        ("visible_attention_ratio_background", "fit", 0, "mean", 1.7, 90),
        ("visible_attention_ratio", "fit", 1, "mean", 0.95, 10),
        ("visible_attention_ratio_background", "fit", 1, "mean", 0.94, 90),
        ("gate_unsaturated_hand", "fit", 0, "mean", 0.01, 50),
    ]
    df = pd.DataFrame(rows, columns=["measure", "module", "block", "head", "value", "n"])
    text = viz.attention_stats_sentences(df)
    assert "tells visible-hand cells from the rest well (AUC 0.88" in text[0]
    assert "block 0" in text[1] and "targeted look" in text[1]
    assert "block 1" in text[2] and "nothing specific" in text[2]
    assert "on/off switch" in text[3]


def test_explorer_switches_between_models(synthocc) -> None:
    """{name: model}: a "model" menu; the forward pass, the gate and the caption follow it."""
    from handoccnet_lite.config import preset
    from handoccnet_lite.engine.overrides import apply_overrides
    from handoccnet_lite.engine.profiles import VARIANTS
    from handoccnet_lite.model import HandOccNet

    torch.manual_seed(0)
    cfg = preset("tiny")
    models = {v: HandOccNet(apply_overrides(cfg, VARIANTS[v])) for v in ("official", "supplement")}
    data = type(synthocc)(synthocc.folder.parent, "test", input_size=cfg.input_size)
    ex = viz.attention_explorer(models, data, n_images=2)
    menu = ex.controls["model"]
    assert list(menu.options) == ["official", "supplement"] and menu.layout.display is None
    assert ex.model is models["official"] and "model: official" in ex.status.value
    gate0, png0 = ex.state["out"]["gate"].clone(), ex.plot.value
    ex.controls["block"].value = 1  # the official model has 2 blocks, the supplement's 1
    menu.value = "supplement"
    assert list(ex.controls["block"].options) == [0] and ex.controls["block"].value == 0
    assert ex.model is models["supplement"] and "model: supplement" in ex.status.value
    assert not torch.equal(ex.state["out"]["gate"], gate0) and ex.plot.value != png0
    single = viz.attention_explorer(models["official"], data, n_images=1)
    assert single.controls["model"].layout.display == "none" and "model:" not in single.caption
    menu.value = "official"
    assert list(ex.controls["block"].options) == [0, 1]
    with pytest.raises(ValueError, match="empty dict"):
        viz.attention_explorer({}, data, n_images=1)
