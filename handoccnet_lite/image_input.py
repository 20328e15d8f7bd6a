"""A user's image, checked before anything expensive: it exists, its header's size is sane (not
a decompression bomb: a PNG of a few KB can claim billions of pixels), it decodes, and it is
large enough to hold a hand. Used by `handoccnet-lite demo` before the model is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Most pixels decoded: phone photos are 12-50 MP; more is refused from the header alone.
MAX_IMAGE_PIXELS = 64_000_000
#: Below this side (pixels) an image cannot show a hand well enough to fit one.
MIN_HAND_SIDE = 64


class ImageInputError(ValueError):
    """An image that cannot be used: not an image, undecodable, or too many pixels."""


def read_image_checked(path: str | Path) -> Any:
    """(H, W, 3) uint8 BGR of a readable, decodable image of sane size; errors name the file
    and the fix (FileNotFoundError for a missing path, ImageInputError otherwise)."""
    import cv2

    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"--image {path}: no such file; check the path.")
    if not file.is_file():
        raise ImageInputError(f"--image {path}: not a file; pass an image file (png, jpg).")
    size = header_size(file)
    if size is not None:
        check_pixel_count(path, *size)
    try:
        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
    except cv2.error as e:  # e.g. over OpenCV's own pixel limit for a format Pillow lacks
        msg = " ".join(str(e).split())[:120]
        raise ImageInputError(f"--image {path}: OpenCV cannot decode it ({msg}).") from e
    if bgr is None:
        raise ImageInputError(f"--image {path}: not a readable image file (png, jpg, ...).")
    return bgr


def header_size(file: Path) -> tuple[int, int] | None:
    """(width, height) from the image header, pixels not decoded; None when Pillow does not
    know the format (OpenCV then decodes it under its own pixel limit)."""
    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # the size is checked by `check_pixel_count` instead
    try:
        with Image.open(file) as im:  # lazy: reads the header only
            return im.size
    except (UnidentifiedImageError, OSError):
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def check_pixel_count(path: str | Path, width: int, height: int) -> None:
    """Refuse more than MAX_IMAGE_PIXELS before decoding."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageInputError(
            f"--image {path}: {width} x {height} pixels ({width * height / 1e6:.0f} MP) is over "
            f"the {MAX_IMAGE_PIXELS / 1e6:.0f} MP limit (a decompression bomb?); crop the image "
            "around the hand or downscale it."
        )


def small_image_warning(bgr: Any, path: str | Path) -> str | None:
    """A warning when the image's short side is under MIN_HAND_SIDE pixels, else None."""
    h, w = bgr.shape[:2]
    if min(h, w) >= MIN_HAND_SIDE:
        return None
    return (
        f"--image {path} is {w} x {h} pixels; a hand needs at least {MIN_HAND_SIDE} px: expect "
        "a poor fit (use a larger crop around the hand)."
    )


def square_crop_rgb(bgr: Any, size: int) -> Any:
    """(S, S, 3) uint8 RGB: the centre square of a BGR image resized to the model's input."""
    import cv2

    h, w = bgr.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = bgr[y0 : y0 + side, x0 : x0 + side]
    return cv2.cvtColor(
        cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
    )
