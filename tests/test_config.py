"""ModelConfig: presets, consistency checks with clear errors, JSON/YAML round trip."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from handoccnet_lite.config import PRESETS, LossWeights, ModelConfig, TransformerConfig, preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_consistent(name: str) -> None:
    cfg = preset(name)
    assert cfg.grid * 8 == cfg.input_size
    assert cfg.fit.dim == cfg.set.dim == cfg.feat_dim
    assert cfg.fit.grid == cfg.set.grid == cfg.grid
    assert 2**cfg.encoder_stages * 2 == cfg.grid  # the encoder pools G down to 2


def test_paper_preset_has_the_release_sizes() -> None:
    cfg = preset("paper")
    assert (cfg.backbone, cfg.input_size, cfg.feat_dim, cfg.grid) == ("resnet50", 256, 256, 32)
    assert (cfg.fit.heads, cfg.fit.depth, cfg.fit.variant) == (4, 2, "official")
    assert cfg.encoding_dim == 1024 and cfg.mano_hidden == (1024, 512)
    assert cfg.activation == "leaky_relu" and cfg.hourglass_depth == 4
    assert cfg.loss == LossWeights(verts=1e4, joints=1e4, pose=10, shape=0.1, joints_img=100)


def test_tiny_is_smaller_than_lite() -> None:
    tiny, lite = preset("tiny"), preset("lite")
    assert tiny.input_size < lite.input_size and tiny.feat_dim < lite.feat_dim
    assert tiny.hand_model == "synth"  # tests never need MANO


def test_unknown_preset() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        preset("huge")


def test_grid_must_follow_input_size() -> None:
    with pytest.raises(ValueError, match="input_size / 8"):
        ModelConfig(input_size=128)  # grid stays 32
    cfg = preset("paper").resized(128)
    assert (cfg.grid, cfg.fit.grid, cfg.set.grid) == (16, 16, 16)


def test_grid_power_of_two_and_hourglass_depth() -> None:
    with pytest.raises(ValueError, match="power of two"):
        preset("paper").resized(96)  # grid 12
    with pytest.raises(ValueError, match="hourglass_depth"):
        preset("tiny").replace(hourglass_depth=4)  # grid 8 < 2**4


def test_transformer_sizes_must_match_backbone() -> None:
    cfg = preset("tiny")
    with pytest.raises(ValueError, match=r"ModelConfig\.fit has dim=256"):
        cfg.replace(fit=TransformerConfig(dim=256, grid=cfg.grid))
    with pytest.raises(ValueError, match=r"ModelConfig\.set .*grid=32"):
        cfg.replace(set=dataclasses.replace(cfg.set, grid=32))


@pytest.mark.parametrize(
    ("field", "value"), [("backbone", "resnet101"), ("activation", "gelu"), ("hand_model", "x")]
)
def test_bad_choices(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"ModelConfig.{field}="):
        preset("tiny").replace(**{field: value})


def test_odd_widths_rejected() -> None:
    with pytest.raises(ValueError, match="even"):
        preset("tiny").replace(hourglass_channels=33)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_round_trip(tmp_path, name: str, suffix: str) -> None:
    cfg = preset(name).replace(use_set=False, loss=LossWeights(pose=3.0))
    path = tmp_path / f"cfg{suffix}"
    cfg.save(path)
    back = ModelConfig.load(path)
    assert back == cfg
    assert isinstance(back.mano_hidden, tuple) and isinstance(back.fit, TransformerConfig)


def test_from_dict_rejects_unknown_keys() -> None:
    d = preset("tiny").to_dict() | {"dropout": 0.1}
    with pytest.raises(ValueError, match="Unknown ModelConfig keys"):
        ModelConfig.from_dict(d)


def test_config_import_is_light() -> None:
    code = "import sys, handoccnet_lite.config; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_backbone_stages_option() -> None:
    """3 or 4 ResNet stages into the FPN; anything else is a clear error; presets keep theirs."""
    assert preset("paper").backbone_stages == 4 and preset("tiny").backbone_stages == 4
    assert preset("lite").backbone_stages == 3
    with pytest.raises(ValueError, match="backbone_stages=5"):
        preset("tiny").replace(backbone_stages=5)
