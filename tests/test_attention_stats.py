"""Attention statistics: pure measures on constructed maps, streaming, variants, a tiny model."""

from __future__ import annotations

import dataclasses
import json
import math

import pandas as pd
import pytest
import torch

from handoccnet_lite.config import preset
from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.evaluation import attention_report as R
from handoccnet_lite.evaluation import attention_stats as S
from handoccnet_lite.model import HandOccNet
from handoccnet_lite.model.attention import AttentionMaps
from handoccnet_lite.utils import DATA_SAMPLES_DIR

G, N = 4, 16  # a 4 x 4 grid of 16 tokens


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def masks() -> tuple[torch.Tensor, torch.Tensor]:
    """Two images (2, G, G): visible / occluded fractions with every cell class present."""
    visible = torch.zeros(2, G, G)
    occluded = torch.zeros(2, G, G)
    visible[0, 0, :2] = 1.0  # image 0: 2 visible-hand tokens (0, 1)
    visible[0, 0, 2] = 0.25  # token 2: partly visible, partly hidden (hand 0.75)
    occluded[0, 0, 2] = 0.5
    occluded[0, 1, :3] = 1.0  # tokens 4, 5, 6: occluded hand
    visible[1, 2, :] = 0.75  # image 1: 4 visible-hand tokens (8..11)
    occluded[1, 3, 0] = 0.75  # token 12: occluded hand
    return visible, occluded


# --------------------------------------------------------------------------- cell classes
def test_cell_classes_follow_the_threshold() -> None:
    c = S.cell_classes(*masks())
    assert c["visible"][0].nonzero().flatten().tolist() == [0, 1]
    assert c["occluded"][0].nonzero().flatten().tolist() == [2, 4, 5, 6]
    assert c["hand"][0].nonzero().flatten().tolist() == [0, 1, 2, 4, 5, 6]
    assert int(c["background"][0].sum()) == N - 6 and not c["background"][0, 2]
    assert int(c["no_visible"][1].sum()) == N - 4
    with pytest.raises(ValueError, match="same shape"):
        S.cell_classes(torch.zeros(2, G, G), torch.zeros(2, G, G + 1))


# --------------------------------------------------------------------------- AUC
def test_rank_auc_counts_ties_as_half() -> None:
    # pairs: 1 > 0, 1 < 2, 2 > 0, 2 == 2 -> (1 + 0 + 1 + 0.5) / 4
    assert S.rank_auc(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 2.0])) == 0.625
    assert math.isnan(S.rank_auc(torch.tensor([1.0]), torch.zeros(0)))


def test_spatial_gate_auc_of_the_mask_its_negation_and_a_constant() -> None:
    visible, occluded = masks()
    c = S.cell_classes(visible, occluded)
    gate = visible[:, None]  # (2, 1, G, G): s equal to the visible mask
    assert S.spatial_gate_auc(gate, c["visible"], c["no_visible"]) == 1.0
    assert S.spatial_gate_auc(1 - gate, c["visible"], c["no_visible"]) == 0.0
    assert S.spatial_gate_auc(torch.full_like(gate, 0.5), c["visible"], c["no_visible"]) == 0.5
    assert S.spatial_gate_auc(gate, c["visible"], c["occluded"]) == 1.0
    with pytest.raises(ValueError, match="cells per image"):
        S.spatial_gate_auc(torch.zeros(2, 1, 8, 8), c["visible"], c["no_visible"])


# --------------------------------------------------------------------------- attention ratio
def test_ratio_is_one_over_share_when_all_mass_is_on_the_visible_hand() -> None:
    visible, occluded = masks()
    c = S.cell_classes(visible, occluded)
    keys = c["visible"].float()  # (2, N)
    on_visible = (keys / keys.sum(-1, keepdim=True))[:, None, None, :].expand(2, 1, N, N)
    uniform = torch.full((2, 1, N, N), 1.0 / N)
    attn = torch.cat([on_visible, uniform], 1)  # (2, 2, N, N): head 0 on the hand, head 1 flat
    ratio = S.visible_attention_ratio(attn, c["occluded"], c["visible"])  # (2,)
    # image 0: 4 occluded queries, share 2/16; image 1: 1 query, share 4/16
    expected = (4 * (N / 2) + 1 * (N / 4)) / 5
    torch.testing.assert_close(ratio, torch.tensor([expected, 1.0], dtype=torch.float64))
    assert ratio[1].item() == 1.0  # a uniform map gives exactly 1 (N a power of two)
    away = (1 - keys) / (1 - keys).sum(-1, keepdim=True)  # all mass off the visible hand
    assert S.visible_attention_ratio(away[:, None, None].expand(2, 1, N, N), c["occluded"],
                                     c["visible"]).item() == 0.0  # fmt: skip


def test_ratio_skips_images_without_visible_hand_and_is_nan_without_queries() -> None:
    visible, occluded = masks()
    visible[1] = 0  # image 1 has no visible hand: its occluded query is not counted
    c = S.cell_classes(visible, occluded)
    sums, n = S.visible_attention_ratio_sums(torch.full((2, 3, N, N), 1 / N), c["occluded"],
                                             c["visible"])  # fmt: skip
    assert n == 4 and sums.shape == (3,)
    no_queries = torch.zeros(2, N, dtype=torch.bool)
    assert S.visible_attention_ratio(torch.full((2, 1, N, N), 1 / N), no_queries,
                                     c["visible"]).isnan().all()  # fmt: skip


# --------------------------------------------------------------------------- gate saturation
def test_unsaturated_fraction_counts_the_open_band_only() -> None:
    values = torch.tensor([0.01, 0.05, 0.2, 0.5, 0.95, 0.999, 0.6, 0.0])  # 3 strictly inside
    gate = torch.stack([values, torch.full_like(values, 0.5)])  # (2 heads, 8)
    gate = gate[None, :, :, None]  # (1, 2, 8, 1)
    queries = torch.ones(1, 8, dtype=torch.bool)
    frac = S.gate_unsaturated_fraction(gate, queries)
    torch.testing.assert_close(frac, torch.tensor([3 / 8, 1.0], dtype=torch.float64))
    queries[0, 2:4] = False  # drop two inside values from the queries
    assert S.gate_unsaturated_fraction(gate, queries)[0].item() == 1 / 6


# --------------------------------------------------------------------------- streaming
def model_output(gate_fit: bool, seed: int = 0) -> tuple[dict, dict]:
    """A model-output dict built from AttentionMaps, and its batch, for two images."""
    gen = torch.Generator().manual_seed(seed)
    visible, occluded = masks()
    fit, set_maps = AttentionMaps(), AttentionMaps()
    for _ in range(2):  # blocks
        a = torch.softmax(torch.randn(2, 2, N, N, generator=gen) * 3, -1)  # (B, H, N, N)
        g = torch.rand(2, 2, N, 1, generator=gen) if gate_fit else None
        fit.append(a, g, a if g is None else a * g)
        set_maps.append(a.flip(-1), None, a.flip(-1))
    out = {"gate": torch.rand(2, 1, G, G, generator=gen), "maps": {"fit": fit, "set": set_maps}}
    batch = {"visible_mask": visible, "occluded_mask": occluded, "has_mask": torch.ones(2)}
    return out, batch


def split(out: dict, batch: dict, i: int) -> tuple[dict, dict]:
    """Image i alone (a batch of one)."""
    cut = lambda maps: AttentionMaps(  # noqa: E731
        [a[i : i + 1] for a in maps.softmax], [g[i : i + 1] for g in maps.gate],
        [c[i : i + 1] for c in maps.product])  # fmt: skip
    one = {"gate": out["gate"][i : i + 1], "maps": {k: cut(m) for k, m in out["maps"].items()}}
    return one, {k: v[i : i + 1] for k, v in batch.items()}


def test_streaming_over_batches_equals_one_batch() -> None:
    out, batch = model_output(gate_fit=True)
    whole = S.AttentionStatsAccumulator()
    whole.update(out, batch)
    parts = S.AttentionStatsAccumulator()
    for i in range(2):
        parts.update(*split(out, batch, i))
    a, b = whole.frame(), parts.frame()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)
    assert set(a["measure"]) == set(S.MEASURES) and a.attrs["images_with_masks"] == 2
    rows = a[(a["measure"] == "visible_attention_ratio") & (a["module"] == "fit")]
    assert len(rows) == 2 * 3 and set(rows["head"]) == {"0", "1", "mean"}
    hand = a[(a["measure"] == "gate_unsaturated_hand") & (a["head"] == "0")]
    assert hand["n"].tolist() == [11, 11]  # hand tokens: 6 in image 0, 5 in image 1


def test_items_without_masks_and_variants_without_gate_or_fit() -> None:
    out, batch = model_output(gate_fit=False)
    batch["has_mask"] = torch.tensor([1.0, 0.0])  # image 1 (a real-set item) does not count
    acc = S.AttentionStatsAccumulator()
    acc.update(out, batch)
    df = acc.frame()
    assert df.attrs["images"] == 2 and df.attrs["images_with_masks"] == 1
    assert not df["measure"].str.startswith("gate_unsaturated").any()
    assert any("no sigmoid gate" in n for n in df.attrs["notes"])
    ratio = df[(df["measure"] == "visible_attention_ratio") & (df["head"] == "mean")]
    assert ratio["n"].tolist() == [4, 4, 4, 4]  # image 0's four occluded queries only
    out["maps"]["fit"] = None  # use_fit=False
    acc = S.AttentionStatsAccumulator()
    acc.update(out, batch)
    assert set(acc.frame()["module"]) == {"gate", "set"}
    assert any("use_fit=False" in n for n in acc.frame().attrs["notes"])


def test_bad_batches_get_clear_errors() -> None:
    out, batch = model_output(gate_fit=True)
    with pytest.raises(KeyError, match="occluded_mask"):
        S.AttentionStatsAccumulator().update(out, {"visible_mask": batch["visible_mask"]})
    coarse = dict(batch, visible_mask=torch.zeros(2, 2, 2), occluded_mask=torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="model's grid"):
        S.AttentionStatsAccumulator().update(out, coarse)
    with pytest.raises(KeyError, match="return_maps=True"):
        S.AttentionStatsAccumulator().update({"gate": out["gate"]}, batch)
    with pytest.raises(ValueError, match="threshold"):
        S.AttentionStatsAccumulator(threshold=0.0)


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def samples() -> SynthOccDataset:
    return SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", input_size=64)


def tiny_model(**fit_changes) -> HandOccNet:
    torch.manual_seed(0)
    cfg = preset("tiny")
    return HandOccNet(cfg.replace(fit=dataclasses.replace(cfg.fit, **fit_changes)))


def test_tiny_model_on_bundled_samples(samples, tmp_path) -> None:
    model = tiny_model().train()
    df = S.attention_stats(model, samples, max_batches=2, batch_size=3, progress=False)
    assert model.training  # the caller's mode is restored
    assert df.attrs["images"] == 6 and list(df.columns) == S.COLUMNS
    assert set(df["measure"]) == set(S.MEASURES)
    heads, blocks = model.cfg.fit.num_heads, model.cfg.fit.num_blocks
    assert len(df[df["module"] == "fit"]) == 4 * blocks * (heads + 1)  # 2 ratios, 2 gate bands
    assert len(df[df["module"] == "set"]) == 2 * blocks * (heads + 1)  # 2 ratios
    assert not df["value"].isna().any() and (df["n"] > 0).all()
    auc = df[df["module"] == "gate"]["value"]
    assert ((auc >= 0) & (auc <= 1)).all()
    unsat = df[df["measure"].str.startswith("gate_unsaturated")]["value"]
    assert ((unsat >= 0) & (unsat <= 1)).all()
    ratio = df[df["measure"].str.startswith("visible_attention_ratio")]["value"]
    assert (ratio >= 0).all() and (ratio <= N * 4).all()
    paths = R.write_attention_stats(df, tmp_path)
    assert len(pd.read_csv(paths["csv"])) == len(df)
    meta = json.loads(paths["json"].read_text())
    assert meta["meta"]["images"] == 6 and len(meta["rows"]) == len(df)
    assert "spatial gate s" in paths["txt"].read_text()


def test_tiny_variants_sigmoid_softmax_supplement(samples) -> None:
    run = lambda m: S.attention_stats(m, samples, max_batches=1, batch_size=4, progress=False)  # noqa: E731
    sig = run(tiny_model(attention="sigmoid"))
    fit = sig[sig["measure"].str.startswith("visible_attention_ratio") & (sig["module"] == "fit")]
    torch.testing.assert_close(torch.tensor(fit["value"].to_numpy()), torch.ones(len(fit),
                               dtype=torch.float64))  # fmt: skip
    soft = run(tiny_model(attention="softmax"))
    assert not soft["measure"].str.startswith("gate_unsaturated").any()
    sup = run(tiny_model(variant="supplement"))
    assert set(sup[sup["module"] == "fit"]["head"]) == {"0", "mean"}


def test_entry_point_writes_the_files(tmp_path, capsys) -> None:
    from handoccnet_lite.engine.checkpoint import save_model

    model = tiny_model()
    save_model(tmp_path / "model.pt", model, model.cfg.to_dict())
    from handoccnet_lite.cli import main

    code = main(["attention", "--run", str(tmp_path), "--data", str(DATA_SAMPLES_DIR / "synthocc"),
                 "--out", str(tmp_path / "stats"), "--max-batches", "1", "--batch-size", "2",
                 "--no-progress"])  # fmt: skip
    assert code == 0
    assert "over 2 images" in capsys.readouterr().out
    assert (tmp_path / "stats" / "attention_stats.csv").is_file()
