"""Load the authors' released HandOccNet checkpoint into our `paper` model.

The release saves ``{"epoch", "network": DataParallel(model).state_dict(), "optimizer"}`` with
keys such as ``module.backbone.layer0.0.weight``, ``module.FIT.layers.0.encode_query.weight``,
``module.regressor.hand_regHead.hg.0.hg.3.0.0.bn1.weight``. The full list with shapes (read from
the release's model definition) is stored in ``assets/official_checkpoint_keys.json``.

Deliberately ignored checkpoint entries:
- ``regressor.mano_regHead.mano_layer.*``: MANO's own buffers (we use our hand layer);
- ``regressor.hand_regHead.uu`` / ``vv``: pixel-centre grids we recompute;
- ``backbone.smooth2.*``: the release's P3 smoothing conv, whose output is never used;
- ``fitting_loss.*``: constants of the demo's scale/translation fitting.

Pose convention: the release's MANO layer has flat_hand_mean=False, so its network predicts
finger rotations relative to MANO's mean pose (hands_mean), while the package's hand layers use
flat_hand_mean=True (docs/INTERFACES.md). The loaded model therefore always has
``pose_convention="mean"``: its regressor adds the hand layer's mean finger pose to the predicted
pose before the (flat) hand layer, which gives the release's meshes and joints exactly, and its
``pose``/``rotmats`` outputs are in the package's flat convention (ready for our losses and data).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from handoccnet_lite.config import ModelConfig, preset

from .handoccnet import HandOccNet

OFFICIAL_KEYS_PATH = (
    Path(__file__).resolve().parent.parent / "assets" / "official_checkpoint_keys.json"
)
IGNORED_PATTERNS = (
    r"regressor\.mano_regHead\.mano_layer\..*",
    r"regressor\.hand_regHead\.(uu|vv)",
    r"backbone\.smooth2\..*",
    r"fitting_loss\..*",
)
# (release key regex, our key template) for the backbone and the regressor; FIT/SET keys go
# through the converters in model/official.py. Encoder residual names: bn/bn1/bn2 of the
# release's Residual are the bn1/bn2/bn3 of our PreActBottleneck.
RENAMES = (
    (r"backbone\.layer0\.([01])\.(.*)", r"backbone.trunk.stem.\1.\2"),
    (r"backbone\.layer([1-4])\.0\.(.*)", r"backbone.trunk.layer\1.\2"),
    (r"backbone\.toplayer\.(.*)", r"backbone.fpn.lateral.3.\1"),
    (r"backbone\.latlayer1\.(.*)", r"backbone.fpn.lateral.2.\1"),
    (r"backbone\.latlayer2\.(.*)", r"backbone.fpn.lateral.1.\1"),
    (r"backbone\.latlayer3\.(.*)", r"backbone.fpn.lateral.0.\1"),
    (r"backbone\.smooth3\.(.*)", r"backbone.fpn.smooth.\1"),
    (r"backbone\.attention_module\.spatial\.(conv|bn)\.(.*)", r"backbone.gate.\1.\2"),
    (r"regressor\.hand_regHead\.betas", r"regressor.head.betas"),
    (r"regressor\.hand_regHead\.res\.0\.0\.(.*)", r"regressor.head.res.\1"),
    (r"regressor\.hand_regHead\.fc\.0\.block\.([01])\.(.*)", r"regressor.head.fc.\1.\2"),
    (r"regressor\.hand_regHead\.score\.0\.(.*)", r"regressor.head.score.\1"),
    (r"regressor\.hand_Encoder\.(heatmap_conv|encoding_conv)\.(.*)", r"regressor.encoder.\1.\2"),
    (r"regressor\.hand_Encoder\.reg\.(\d+)\.bn\.(.*)", r"regressor.encoder.blocks.\1.bn1.\2"),
    (r"regressor\.hand_Encoder\.reg\.(\d+)\.bn1\.(.*)", r"regressor.encoder.blocks.\1.bn2.\2"),
    (r"regressor\.hand_Encoder\.reg\.(\d+)\.bn2\.(.*)", r"regressor.encoder.blocks.\1.bn3.\2"),
    (
        r"regressor\.hand_Encoder\.reg\.(\d+)\.(conv[123])\.(.*)",
        r"regressor.encoder.blocks.\1.\2.\3",
    ),
    (r"regressor\.mano_regHead\.mano_base_layer\.([02])\.(.*)", r"regressor.mano.base.\1.\2"),
    (r"regressor\.mano_regHead\.pose_reg\.(.*)", r"regressor.mano.pose.\1"),
    (r"regressor\.mano_regHead\.shape_reg\.(.*)", r"regressor.mano.shape.\1"),
)
HOURGLASS = re.compile(r"regressor\.hand_regHead\.hg\.0\.hg\.(\d)\.([0-3])\.0\.(.*)")
HOURGLASS_PART = ("skip", "down", "up", "inner")  # release index j in hg[level][j]


@dataclass
class CheckpointReport:
    """What happened to every key. ``ok``: nothing missing, unexpected or mis-shaped."""

    loaded: list[str] = field(default_factory=list)  # our keys filled from the checkpoint
    missing: list[str] = field(default_factory=list)  # our keys the checkpoint did not fill
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys with no place in ours
    ignored: list[str] = field(default_factory=list)  # checkpoint keys skipped on purpose
    mismatched: list[str] = field(default_factory=list)  # "key: ckpt shape vs ours"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        counts = {k: len(getattr(self, k)) for k in ("loaded", "missing", "unexpected", "ignored")}
        counts["mismatched"] = len(self.mismatched)
        return ", ".join(f"{k} {v}" for k, v in counts.items())


def official_key_shapes() -> dict[str, tuple[int, ...]]:
    """The release's checkpoint keys (with ``module.``) and shapes, from the stored asset."""
    doc = json.loads(OFFICIAL_KEYS_PATH.read_text())
    return {k: tuple(v) for k, v in doc["keys"].items()}


def _hourglass_key(match: re.Match, depth: int) -> str:
    """hg.0.hg.{level}.{j}.0.rest -> head.hourglass.(inner.)*{part}.rest; level 0 is innermost."""
    level, j, rest = int(match[1]), int(match[2]), match[3]
    return (
        "regressor.head.hourglass." + "inner." * (depth - 1 - level) + f"{HOURGLASS_PART[j]}.{rest}"
    )


def map_official_key(key: str, hourglass_depth: int = 4) -> str | None:
    """Release key (without ``module.``) -> our key for backbone/regressor keys, else None."""
    if match := HOURGLASS.fullmatch(key):
        return _hourglass_key(match, hourglass_depth)
    for pattern, template in RENAMES:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, template, key)
    return None


def _is_ignored(key: str) -> bool:
    return any(re.fullmatch(p, key) for p in IGNORED_PATTERNS)


def _convert_each(convert, sub: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """Apply a FIT/SET converter key by key: (converted, keys it does not know)."""
    out, unknown = {}, []
    for key, value in sub.items():
        try:
            out.update(convert({key: value}))
        except ValueError:
            unknown.append(key)
    return out, unknown


def _convert_transformers(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """FIT.* / SET.* release keys -> fit.* / set.* (model.official converters), unknown keys."""
    from .official import convert_official_fit_state, convert_official_set_state

    out: dict[str, Tensor] = {}
    unexpected: list[str] = []
    for prefix, ours, convert in (
        ("FIT.", "fit.", convert_official_fit_state),
        ("SET.", "set.", convert_official_set_state),
    ):
        sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        converted, unknown = _convert_each(convert, sub)
        out.update({ours + k: v for k, v in converted.items()})
        unexpected += [prefix + k for k in unknown]
    return out, unexpected


def convert_official_state(
    state: dict[str, Tensor], hourglass_depth: int = 4
) -> tuple[dict[str, Tensor], list[str], list[str]]:
    """Release state (``module.`` optional) -> (our state, ignored keys, unexpected keys)."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    ours, ignored, unexpected = {}, [], []
    for key, value in state.items():
        if key.startswith(("FIT.", "SET.")):
            continue
        if _is_ignored(key):
            ignored.append(key)
        elif (target := map_official_key(key, hourglass_depth)) is not None:
            ours[target] = value
        else:
            unexpected.append(key)
    transformers, unknown = _convert_transformers(state)
    ours.update(transformers)
    return ours, ignored, unexpected + unknown


def read_official_state(path: str | Path) -> dict[str, Tensor]:
    """The ``network`` state dict of a released checkpoint; clear errors for anything else."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: give the path of the authors' .pth.tar.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and weights_only errors all mean "not ours"
        raise ValueError(f"{path} is not a loadable PyTorch checkpoint ({err}).") from err
    state = ckpt.get("network") if isinstance(ckpt, dict) else None
    keys = [k.removeprefix("module.") for k in state] if isinstance(state, dict) else []
    if not any(k.startswith(("backbone.", "FIT.", "regressor.")) for k in keys):
        raise ValueError(
            f"{path} is not a HandOccNet checkpoint: expected a dict with a 'network' state dict "
            "whose keys look like 'module.backbone.layer0.0.weight', 'module.FIT.layers.0...', "
            "'module.regressor.hand_regHead...'."
        )
    return state


def official_config() -> ModelConfig:
    """The paper preset with the release's choices: LeakyReLU backbone, official FIT/SET, finger
    rotations relative to MANO's mean pose (``pose_convention="mean"``, see the module docstring).
    """
    cfg = preset("paper")
    fit = dataclasses.replace(cfg.fit, variant="official")
    st = dataclasses.replace(cfg.set, variant="official")
    return cfg.replace(
        activation="leaky_relu",
        fit=fit,
        set=st,
        use_fit=True,
        use_set=True,
        pose_convention="mean",
    )


def _match_shapes(
    ours: dict[str, Tensor], model_state: dict[str, Tensor], report: CheckpointReport
) -> dict[str, Tensor]:
    """Keep the converted entries whose key and shape exist in the model; report the rest."""
    keep = {}
    for key, value in ours.items():
        if key not in model_state:
            report.unexpected.append(key)
        elif value.shape != model_state[key].shape:
            report.mismatched.append(
                f"{key}: {tuple(value.shape)} vs {tuple(model_state[key].shape)}"
            )
        else:
            keep[key] = value
    return keep


def load_official_checkpoint(
    path: str | Path, cfg: ModelConfig | None = None, strict: bool = False
) -> tuple[HandOccNet, CheckpointReport]:
    """Build HandOccNet(cfg or the official paper config), load the release's weights into it.

    Returns the model in eval mode and a report of loaded / missing / unexpected / ignored /
    mis-shaped keys (our hand layer's buffers are never counted as missing).
    ``strict=True`` raises unless ``report.ok``. A given ``cfg`` is used with
    ``pose_convention="mean"`` whatever it says: the release's weights predict finger rotations
    relative to MANO's mean pose (see the module docstring).
    """
    cfg = cfg if cfg is not None else official_config()
    cfg = cfg.replace(pose_convention="mean")  # the release's MANO layer: flat_hand_mean=False
    model = HandOccNet(cfg)
    ours, ignored, unexpected = convert_official_state(
        read_official_state(path), cfg.hourglass_depth
    )
    report = CheckpointReport(ignored=ignored, unexpected=unexpected)
    model_state = model.state_dict()
    keep = _match_shapes(ours, model_state, report)
    model.load_state_dict(keep, strict=False)
    report.loaded = sorted(keep)
    own = [k for k in model_state if not k.startswith("regressor.hand.")]
    report.missing = sorted(set(own) - set(keep))
    if strict and not report.ok:
        raise ValueError(f"Checkpoint {path} did not load cleanly: {report.summary()}.")
    return model.eval(), report
