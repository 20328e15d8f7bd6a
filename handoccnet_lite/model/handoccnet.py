"""HandOccNet (Park et al., CVPR 2022): backbone + gate -> FIT -> SET -> regressor -> hand layer.

Release (main/model.py): ``p, s = backbone(img); f = FIT(s, p); f = SET(f, f); regressor(f)``:
FIT's query is the secondary feature F_S and its key/value the primary feature F_P.
Hooks for the CPU budget protocol (engine.features): ``extract_features(image)`` is everything
before the spatial gate (trunk, FPN, pooling: the parameters named by ``feature_modules``) and
``forward_features(F)`` everything from the gate on; ``forward`` is the two in a row.
Ablation switches: ``use_fit=False`` skips FIT, so SET (or the regressor) sees the primary
feature F_P; ``use_set=False`` makes SET the identity.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from handoccnet_lite.config import ModelConfig, preset

from .backbone import Backbone
from .regressor import Regressor


def build_fit(cfg: ModelConfig) -> nn.Module | None:
    """FIT(cfg.fit) or None when the ablation turns it off."""
    if not cfg.use_fit:
        return None
    from .fit import FIT

    return FIT(cfg.fit)


def build_set(cfg: ModelConfig) -> nn.Module | None:
    """SET(cfg.set) or None when the ablation turns it off."""
    if not cfg.use_set:
        return None
    from .set import SET

    return SET(cfg.set)


class HandOccNet(nn.Module):
    """image (B, 3, S, S) in [0, 1] -> dict (see forward). ``hand``: override the hand layer."""

    #: State-dict prefixes of the parts before the gate (what `extract_features` runs).
    feature_modules: tuple[str, ...] = ("backbone.trunk", "backbone.fpn")

    def __init__(self, cfg: ModelConfig, hand: nn.Module | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.fit = build_fit(cfg)
        self.set = build_set(cfg)
        self.regressor = Regressor(cfg, hand)

    @classmethod
    def from_config(cls, cfg: ModelConfig | str, **overrides: Any) -> HandOccNet:
        """From a ModelConfig or a preset name ("paper", "lite", "tiny"), with field overrides."""
        cfg = preset(cfg) if isinstance(cfg, str) else cfg
        return cls(cfg.replace(**overrides) if overrides else cfg)

    @property
    def hand(self) -> nn.Module:
        """The hand layer (SynthHand or MANOHand) used by the regressor."""
        return self.regressor.hand

    def enhance(self, primary: Tensor, secondary: Tensor, return_maps: bool) -> tuple[Tensor, dict]:
        """FIT then SET on (B, C, G, G) features; returns the feature and the attention maps."""
        feat, fit_maps = primary, None  # FIT off: the primary feature passes through
        if self.fit is not None:
            feat, fit_maps = self.fit(secondary, primary, return_maps=return_maps)
        set_maps = None
        if self.set is not None:
            feat, set_maps = self.set(feat, return_maps=return_maps)
        return feat, {"fit": fit_maps, "set": set_maps}

    def extract_features(self, image: Tensor) -> Tensor:
        """image (B, 3, S, S) -> the pre-gate feature F (B, C, G, G) (trunk, FPN, 2x pooling)."""
        return self.backbone.features(image)

    def forward_features(self, feat: Tensor, return_maps: bool = False) -> dict[str, Any]:
        """The network from the spatial gate on, given F (B, C, G, G); the dict of `forward`."""
        c, g = self.cfg.feat_dim, self.cfg.grid
        if feat.ndim != 4 or tuple(feat.shape[1:]) != (c, g, g):
            raise ValueError(
                f"forward_features expects the pre-gate feature of shape (B, {c}, {g}, {g}) "
                f"(from extract_features of this config), got {tuple(feat.shape)}."
            )
        primary, secondary, gate = self.backbone.gate(feat)  # (B,C,G,G) x2, (B,1,G,G)
        feat, maps = self.enhance(primary, secondary, return_maps)  # (B, C, G, G)
        out: dict[str, Any] = self.regressor(feat)
        out["gate"] = gate
        if return_maps:
            out["maps"] = maps
        return out

    def forward(self, image: Tensor, return_maps: bool = False) -> dict[str, Any]:
        """Returns joints_img (B,21,2) in [0,1]; joints (B,21,3) and verts (B,V,3) root-relative
        metres; pose (B,48); shape (B,10); rotmats (B,16,3,3); gate (B,1,G,G); heatmaps
        (B,21,G,G); with return_maps also maps {"fit": AttentionMaps | None, "set": ...}.
        """
        return self.forward_features(self.extract_features(image), return_maps)
