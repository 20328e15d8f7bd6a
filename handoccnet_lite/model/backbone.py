"""Backbone: torchvision ResNet + the release's FPN top-down path + a CBAM spatial gate.

Paper (Sec. 3.1): "we use ResNet-50 with FPN ... a spatial attention map s splits the feature
into a primary feature F_P = F * s (visible hand) and a secondary feature F_S = F * (1 - s)
(occluded hand regions)".
Release facts (common/nets/backbone.py, common/nets/cbam.py):
- its own ResNet copy uses ``LeakyReLU(inplace=True)`` (negative slope 0.01, PyTorch's default)
  in every place torchvision uses ReLU: after the stem BN, after bn1 and bn2 inside each block,
  and after the residual addition. ``activation="leaky_relu"`` swaps exactly those modules.
- FPN: 1x1 laterals (with bias) to 256 channels on C2..C5 (C2..C4 with
  ``backbone_stages=3``, our CPU option, not the release's); bilinear (align_corners=False)
  upsample-and-add from P5 down to P2; a 3x3 smoothing conv on P2. The release also defines a
  smoothing conv on P3, but applies it after P2 has been computed, so it never reaches the output:
  we do not build it (its checkpoint weights are reported as unused).
- P2 (stride 4) is average-pooled 2x: grid G = S / 8 (32 x 32 at 256 px).
- Spatial gate: per-pixel channel max and mean -> 7x7 conv (2 -> 1, no bias) -> BN
  (momentum 0.01) -> sigmoid s.
- Images enter in [0, 1] without ImageNet mean/std normalisation (the release's loader divides by
  255 only).
- The backbone keeps PyTorch's default initialisation (the release's init_weights is applied to
  FIT, SET and the regressor only).
Not in the release: ``feature_norm="batch"`` puts a BatchNorm2d after the FPN's smoothing conv
(as torchvision's FPN ``norm_layer`` would). The release's F is unnormalised, which is harmless
from ImageNet weights; from random initialisation F grows during training (std ~60 after 750
CPU steps) and the attention logits q.k/sqrt(d) of FIT and SET reach 1e3-5e6, so every softmax
map is one-hot and the fused kernel's backward can overflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from handoccnet_lite.config import ModelConfig

LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default, as used by the release
RESNET_CHANNELS: dict[str, tuple[int, int, int, int]] = {
    "resnet18": (64, 128, 256, 512),
    "resnet34": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
}  # channels of C2..C5


class BackboneOutput(NamedTuple):
    primary: Tensor  # (B, C, G, G) F_P = F * s
    secondary: Tensor  # (B, C, G, G) F_S = F * (1 - s)
    gate: Tensor  # (B, 1, G, G) s


def check_image(image: Tensor, size: int) -> None:
    """Raise a clear error unless image is a float (B, 3, size, size) tensor."""
    if image.ndim != 4 or image.shape[1] != 3 or tuple(image.shape[2:]) != (size, size):
        raise ValueError(
            f"HandOccNet expects images of shape (B, 3, {size}, {size}) (RGB in [0, 1], the "
            f"config's input_size), got {tuple(image.shape)}; crop/resize the input or use a "
            f"config made with cfg.resized({image.shape[-1]})."
        )
    if not image.is_floating_point():
        raise TypeError(f"HandOccNet expects a float image in [0, 1], got dtype {image.dtype}.")


def load_imagenet_weights(net: nn.Module, path: str | Path) -> None:
    """Load a torchvision-format ResNet state dict from a local file (never downloads)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained_backbone={str(path)!r} does not exist. Give the path of a local "
            "torchvision ResNet state dict (e.g. resnet50-19c8e357.pth, which the release uses), "
            "or set pretrained_backbone=None for random initialisation. Nothing is downloaded."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise ValueError(
            f"{path} is not a state dict of torchvision's {type(net).__name__} with these layer "
            f"sizes (does the file match cfg.backbone?): {err}"
        ) from err


#: torchvision's ImageNet file names per backbone (IMAGENET1K_V1 weights), the release's first.
IMAGENET_FILES: dict[str, tuple[str, ...]] = {
    "resnet18": ("resnet18-f37072fd.pth", "resnet18-5c106cde.pth"),
    "resnet34": ("resnet34-b627a593.pth", "resnet34-333f7ec4.pth"),
    "resnet50": ("resnet50-19c8e357.pth", "resnet50-0676ba61.pth"),
}
#: A folder (or one file) holding the ImageNet weights, looked at before torch's hub cache.
IMAGENET_ENV = "HANDOCCNET_IMAGENET"


def imagenet_search_dirs() -> list[Path]:
    """Where `find_imagenet_weights` looks, in order: $HANDOCCNET_IMAGENET (when set), then
    torch.hub's checkpoint folder (torch.hub.get_dir()/checkpoints, where torchvision caches)."""
    import os

    dirs = []
    env = os.environ.get(IMAGENET_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"${IMAGENET_ENV}={env!r} does not exist. Point it at the folder holding "
                "torchvision's ImageNet file (e.g. resnet50-19c8e357.pth) or at the file, or "
                f"unset it to look in torch.hub's cache only."
            )
        dirs.append(path)
    dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    return dirs


def find_imagenet_weights(backbone: str) -> Path | None:
    """The local torchvision ImageNet file of `backbone`, or None; never downloads.

    $HANDOCCNET_IMAGENET may name a folder holding torchvision's file (e.g.
    resnet50-19c8e357.pth) or the file itself; then torch.hub.get_dir()/checkpoints is searched.
    """
    if backbone not in IMAGENET_FILES:
        raise ValueError(
            f"No ImageNet file name is known for backbone {backbone!r}; choose one of "
            f"{sorted(IMAGENET_FILES)}."
        )
    for folder in imagenet_search_dirs():
        if folder.is_file():  # $HANDOCCNET_IMAGENET names the file itself
            return folder
        for name in IMAGENET_FILES[backbone]:
            if (folder / name).is_file():
                return folder / name
    return None


def use_leaky_relu(net: nn.Module, slope: float = LEAKY_SLOPE) -> None:
    """Replace every nn.ReLU child (stem and blocks) by LeakyReLU(slope), in place."""
    for module in list(net.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, name, nn.LeakyReLU(slope, inplace=True))


class ResNetTrunk(nn.Module):
    """torchvision ResNet without avgpool/fc, returning C2..C5 (strides 4, 8, 16, 32).

    ``stages=3`` drops layer4 (C5) and returns C2..C4 (a lighter CPU option: layer4 holds 8.4 M
    of ResNet-18's 11.2 M parameters); the release uses all four.
    """

    def __init__(
        self, name: str, activation: str, weights: str | None = None, stages: int = 4
    ) -> None:
        super().__init__()
        if stages not in (3, 4):
            raise ValueError(
                f"ResNetTrunk: stages={stages} is not supported; use 4 (C2..C5, the release) or "
                "3 (C2..C4, layer4 dropped)."
            )
        net = getattr(torchvision.models, name)(weights=None)
        if weights is not None:
            load_imagenet_weights(net, weights)
        if activation == "leaky_relu":
            use_leaky_relu(net)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)  # release: layer0
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.layer4 = net.layer4 if stages == 4 else None

    def forward(self, image: Tensor) -> list[Tensor]:
        c2 = self.layer1(self.stem(image))  # (B, C2, S/4, S/4)
        c3 = self.layer2(c2)  # (B, C3, S/8, S/8)
        c4 = self.layer3(c3)  # (B, C4, S/16, S/16)
        if self.layer4 is None:
            return [c2, c3, c4]
        c5 = self.layer4(c4)  # (B, C5, S/32, S/32)
        return [c2, c3, c4, c5]


class TopDownFPN(nn.Module):
    """The release's FPN, keeping only its output P2: laterals, bilinear upsample-add, smoothing."""

    def __init__(self, in_channels: tuple[int, ...], dim: int, norm: str = "none") -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, dim, kernel_size=1) for c in in_channels)
        self.smooth = nn.Conv2d(dim, dim, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(dim) if norm == "batch" else nn.Identity()

    def forward(self, feats: list[Tensor]) -> Tensor:
        p = self.lateral[-1](feats[-1])  # (B, C, S/32, S/32) P5
        for lateral, c in zip(self.lateral[-2::-1], feats[-2::-1], strict=True):
            up = F.interpolate(p, size=c.shape[-2:], mode="bilinear", align_corners=False)
            p = up + lateral(c)  # P4, P3, P2
        return self.norm(self.smooth(p))  # (B, C, S/4, S/4)


class SpatialGate(nn.Module):
    """CBAM spatial attention (Woo et al., ECCV 2018).

    s = sigmoid(BN(conv7x7([max_c F, mean_c F]))).
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, momentum=0.01)

    def forward(self, feat: Tensor) -> BackboneOutput:
        pooled = torch.cat([feat.amax(1, keepdim=True), feat.mean(1, keepdim=True)], 1)  # (B,2,G,G)
        s = torch.sigmoid(self.bn(self.conv(pooled)))  # (B, 1, G, G)
        return BackboneOutput(feat * s, feat * (1 - s), s)


class Backbone(nn.Module):
    """image (B, 3, S, S) -> F_P, F_S (B, C, S/8, S/8) and the gate s (B, 1, S/8, S/8)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.input_size = cfg.input_size
        stages = cfg.backbone_stages
        self.trunk = ResNetTrunk(cfg.backbone, cfg.activation, cfg.pretrained_backbone, stages)
        self.fpn = TopDownFPN(
            RESNET_CHANNELS[cfg.backbone][:stages], cfg.feat_dim, cfg.feature_norm
        )
        self.gate = SpatialGate()
        self.pool = cfg.feature_stride == 8  # the release; feature_stride 4 keeps P2 as is

    def features(self, image: Tensor) -> Tensor:
        """The pre-gate feature F (B, C, G, G): trunk, FPN top-down path, 2x average pooling
        (G = S / 8; without the pooling, feature_stride 4, G = S / 4)."""
        check_image(image, self.input_size)
        p2 = self.fpn(self.trunk(image))  # (B, C, S/4, S/4)
        if not self.pool:
            return p2
        return F.avg_pool2d(p2, kernel_size=2, stride=2)  # (B, C, G, G)

    def forward(self, image: Tensor) -> BackboneOutput:
        return self.gate(self.features(image))
