"""The ablation's attention columns (engine.ablation_attention) on constructed rows whose answers
are known, attention_stats on cached features against the same images, and an adopted stage 1
(engine.features.adopt_stage1)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from handoccnet_lite.data.dataset import SynthOccDataset
from handoccnet_lite.engine import ablation
from handoccnet_lite.engine import checkpoint as ckpt
from handoccnet_lite.engine.ablation_attention import (
    attention_report_lines,
    attention_summary,
    run_attention_row,
)
from handoccnet_lite.engine.builders import build_model, first_items
from handoccnet_lite.engine.features import FeatureDataset, adopt_stage1, extract_feature_cache
from handoccnet_lite.engine.profiles import get_profile, profile_model_config
from handoccnet_lite.evaluation.attention_stats import COLUMNS, attention_stats
from handoccnet_lite.utils import DATA_SAMPLES_DIR


def _rows(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def test_run_row_takes_the_best_fit_block_and_its_own_control() -> None:
    df = _rows(
        ("gate_auc", "gate", pd.NA, "", 0.9, 100),
        ("visible_attention_ratio", "fit", 0, "0", 9.0, 5),  # a head value, not the mean
        ("visible_attention_ratio", "fit", 0, "mean", 1.5, 5),
        ("visible_attention_ratio", "fit", 1, "mean", 2.5, 5),
        ("visible_attention_ratio_background", "fit", 0, "mean", 1.1, 7),
        ("visible_attention_ratio_background", "fit", 1, "mean", 1.3, 7),
        ("visible_attention_ratio", "set", 0, "mean", 0.8, 5),
        ("gate_unsaturated_hand", "fit", 0, "mean", 0.2, 5),
        ("gate_unsaturated_hand", "fit", 1, "mean", 0.4, 5),
        ("gate_unsaturated_background", "fit", 0, "mean", 0.0, 7),
    )
    row = run_attention_row(df)
    assert row["gate_auc"] == 0.9
    assert row["fit_ratio"] == 2.5 and row["fit_ratio_background"] == 1.3  # block 1, not 0
    assert row["set_ratio"] == 0.8
    assert row["gate_graded_hand"] == pytest.approx(0.3)  # mean over blocks
    assert row["gate_graded_background"] == 0.0
    # a variant without FIT (no_fit) or without a gate (fit_softmax): those columns stay empty
    no_fit = run_attention_row(df[df["module"] != "fit"])
    assert math.isnan(no_fit["fit_ratio"]) and math.isnan(no_fit["gate_graded_hand"])
    assert no_fit["set_ratio"] == 0.8


def test_summary_and_report_are_per_variant_over_seeds() -> None:
    table = pd.DataFrame(
        {"variant": ["official", "official", "no_fit"], "seed": [0, 1, 0],
         "gate_auc": [0.8, 0.9, 0.7], "fit_ratio": [2.0, 4.0, np.nan],
         "fit_ratio_background": [1.0, 1.0, np.nan], "set_ratio": [1.0, 1.0, 1.0],
         "gate_graded_hand": [0.1, 0.3, np.nan], "gate_graded_background": [0.0, 0.0, np.nan]}
    )  # fmt: skip
    summary = attention_summary(table).set_index(["variant", "measure"])
    assert summary.loc[("official", "fit_ratio"), "mean"] == pytest.approx(3.0)
    assert summary.loc[("official", "fit_ratio"), "n"] == 2
    assert ("no_fit", "fit_ratio") not in summary.index  # nothing to summarise
    lines = attention_report_lines(table)
    official = next(line for line in lines if line.startswith("| official |"))
    assert "| 2 |" in official and "3.000 ± 1.414" in official
    no_fit = next(line for line in lines if line.startswith("| no_fit |"))
    assert "| 1 | 0.700 |  |" in no_fit  # one seed: no std; no FIT: an empty cell
    assert attention_report_lines(table.iloc[:0]) == []


def _tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(profile_model_config(get_profile("quick"))).eval()


def test_attention_stats_on_cached_features_equals_on_images() -> None:
    model = _tiny_model()
    size = model.cfg.input_size
    data = first_items(SynthOccDataset(DATA_SAMPLES_DIR / "synthocc", "test", size), 8)
    on_images = attention_stats(model, data, batch_size=4, progress=False)
    cache = extract_feature_cache(model, data, batch_size=4, device="cpu", progress=False)
    on_features = attention_stats(model, FeatureDataset(cache), batch_size=4, progress=False)
    assert list(on_images["measure"]) == list(on_features["measure"])
    # the cache stores F in float16: equal up to that rounding
    np.testing.assert_allclose(on_features["value"], on_images["value"], atol=0.02)
    assert on_images["value"].notna().any()


def test_adopted_stage1_is_copied_after_its_config_is_checked(tmp_path: Path) -> None:
    profile = get_profile("quick")
    model = _tiny_model()
    source = ckpt.save_model(
        tmp_path / "trained.pt", model, dataclasses.asdict(model.cfg), step=123
    )
    dest = tmp_path / "run" / "backbone" / ckpt.MODEL_NAME
    adopt_stage1(source, profile_model_config(profile), dest)
    assert dest.read_bytes() == source.read_bytes()
    assert json.loads((dest.parent / "adopted_from.json").read_text())["step"] == 123

    base = profile_model_config(profile)
    other = base.replace(hourglass_depth=base.hourglass_depth + 1)
    with pytest.raises(ValueError, match="hourglass_depth: checkpoint"):
        adopt_stage1(source, other, tmp_path / "x.pt")
    with pytest.raises(FileNotFoundError, match="restore it"):
        adopt_stage1(tmp_path / "missing.pt", other, tmp_path / "x.pt")

    # the runner adopts it instead of training a backbone
    logs: list[str] = []
    prof = dataclasses.replace(profile, stage1=str(source))
    abl = ablation.Ablation(prof, tmp_path / "abl", device="cpu", progress=False, log=logs.append)
    weights = abl.backbone(train_set=None)
    assert weights.read_bytes() == source.read_bytes()
    assert any("adopting" in line for line in logs), logs


def test_teach_profile_adopts_the_bundled_official_model() -> None:
    """The teach profile's model config is the bundled teaching model's, so it adopts it."""
    prof = get_profile("teach")
    state = ckpt.load_checkpoint(prof.stage1)
    assert ckpt.trained_model_config(state) == profile_model_config(prof)
    assert prof.protocol == "cached" and len(prof.seeds) >= 5


def test_readmes_show_the_committed_overview() -> None:
    """README.md and results/teach_ablation/README.md carry the table `ablate --overview` prints
    from the committed files (paste it again after rerunning the ablation)."""
    from handoccnet_lite.engine.ablation_report import overview_table
    from handoccnet_lite.utils import REPO_ROOT

    folder = REPO_ROOT / "results" / "teach_ablation"
    table = overview_table(folder)
    for readme in (REPO_ROOT / "README.md", folder / "README.md"):
        assert table in readme.read_text(), (
            f"{readme} lacks the current overview: paste the output of "
            "`handoccnet-lite ablate --out results/teach_ablation --overview`"
        )
