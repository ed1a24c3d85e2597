"""Images of pairs: the image-path policy (paths stay inside their folder), decoding with its caps, and
:func:`validate` (a pair's text checked and its image decoded)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from hub_tools.data.image_file import open_image_file
from hub_tools.data.pairs import ImageCaptionPair, Record, Rejection, check_text, json_kind, utf8_problem
from hub_tools.errors import BadInput

MAX_IMAGE_PIXELS = 64_000_000
"""Decompression-bomb cap: images with more pixels than this are rejected."""


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_path_text(path: Any) -> str:
    """``path`` as text fit for the file system, or :class:`BadInput`: not text, empty, not UTF-8, NUL, line break.

    Checked before any ``os`` / ``Path`` call sees the path (a NUL byte makes those raise ``ValueError``).
    """
    if path is not None and not isinstance(path, str):
        raise BadInput(f"image path is {json_kind(path)}, not text")
    if not path or not path.strip():
        raise BadInput("image path is empty")
    problem = utf8_problem(path)
    if problem:
        raise BadInput(f"image path is not valid UTF-8 text: {problem} (path {path!r})")
    if "\0" in path:
        raise BadInput(f"image path {path!r} holds a NUL byte")
    if "\n" in path or "\r" in path:
        raise BadInput(f"image path {path!r} holds a line break")
    return path


def resolve_image_path(path: str, image_root: str | os.PathLike) -> Path:
    """The image-path policy: resolve ``path``, read from data, inside ``image_root``, or raise :class:`BadInput`.

    Rejected with the reason: a path that is not text, empty or not UTF-8; one holding a NUL byte or a line
    break; an absolute one (``/x``, ``~x``, ``\\x``, ``C:x``); one that resolves outside ``image_root`` once
    ``..`` and symlinks are followed. Every reader of image paths from data comes here (a path typed on the
    command line is not data). What it cannot see: a hard link inside the root, a file swapped after the check.
    """
    path = _check_path_text(path)
    if os.path.isabs(path) or path.startswith(("~", "\\")) or _DRIVE.match(path):
        raise BadInput(f"image path {path!r} is absolute; paths must be relative to the image folder")
    try:
        root = Path(image_root).resolve()
        full = (root / path).resolve()
    except (OSError, RuntimeError) as err:  # a link swapped or removed while it is resolved (EINVAL), a loop
        raise BadInput(f"image path {path!r} could not be resolved (it changed while being checked?): {err}") from None
    if full != root and root not in full.parents:
        raise BadInput(f"image path {path!r} escapes the image folder {str(root)!r}")
    return full


def resolve_image(value: Any, image_root: str | os.PathLike) -> Any:
    """An image read from data, ready for :func:`load_image`: a path resolved by :func:`resolve_image_path`.

    A path is a string or an ``Image``-feature cell with a ``path`` and no ``bytes``; it comes back as the
    resolved path (a string). A cell's absolute path is accepted only inside ``image_root`` (``datasets``
    writes a local folder's files that way). Embedded images (bytes, a cell with ``bytes``, a PIL image) and
    ``None`` (:func:`load_image` says "no image") come back as they are.
    """
    if value is None or isinstance(value, (bytes, bytearray)) or type(value).__module__.startswith("PIL."):
        return value
    if isinstance(value, dict):
        if value.get("bytes"):
            return value
        if value.get("path") is None:
            raise BadInput("image cell has neither bytes nor a path")
        path = _check_path_text(value["path"])
        if os.path.isabs(path):
            rel = os.path.relpath(os.path.normpath(path), os.path.abspath(image_root))
            if rel == os.pardir or rel.startswith(os.pardir + os.sep):
                raise BadInput(f"image path {path!r} is absolute and outside the image folder")
            path = rel
        return str(resolve_image_path(path, image_root))
    if isinstance(value, str):
        return str(resolve_image_path(value, image_root))
    raise BadInput(f"image is {json_kind(value)}, not a path or an image")


def dataset_image_root(name_or_path: str) -> Path:
    """The folder a Hugging Face dataset's image paths resolve in: a local folder itself, or a Hub dataset's
    folder in the Hub cache (a remote dataset's paths never name a file elsewhere on this machine)."""
    if Path(name_or_path).is_dir():
        return Path(name_or_path)
    from huggingface_hub.constants import HF_HUB_CACHE

    return Path(HF_HUB_CACHE) / ("datasets--" + name_or_path.replace("/", "--"))


def load_image(image: Any, max_pixels: int = MAX_IMAGE_PIXELS):
    """Open and fully decode ``image`` (path, bytes, PIL image or ``{"bytes", "path"}`` with bytes) as RGB.

    A path here is trusted: one read from data comes through :func:`resolve_image` first.

    Non-RGB modes (CMYK, P, LA, RGBA, 16-bit I;16/I, L, 1) are converted, not rejected.
    Raises :class:`BadInput` for missing, zero-byte, truncated, corrupt or oversized images.
    """
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # A path-only cell is data: readers resolve it (resolve_image); it is never opened here.
    if isinstance(image, dict):
        if not image.get("bytes") and image.get("path") is not None:
            raise BadInput(f"image cell has no bytes and its path {image['path']!r} was not resolved by a reader")
        image = image.get("bytes")
    if image is None:
        raise BadInput("no image")
    if isinstance(image, Image.Image):
        img = image
    else:
        if isinstance(image, (bytes, bytearray)):
            if len(image) == 0:
                raise BadInput("image is a zero-byte file")
            fp = io.BytesIO(image)
            name = "<bytes>"
        else:
            fp = open_image_file(Path(image))  # the file checked is the file decoded (one descriptor)
            name = str(image)
        with fp:  # closed once decoded: PIL does not close a file object it was given
            try:
                img = Image.open(fp)
            except Exception as err:  # PIL raises several types for unreadable files
                raise BadInput(f"unreadable image {name!r}: {type(err).__name__}: {err}") from None
            _decode(img, max_pixels)
        return to_rgb(img)
    _decode(img, max_pixels)
    return to_rgb(img)


def _decode(img, max_pixels: int) -> None:
    """Check the size of an opened image against ``max_pixels`` and decode it (:class:`BadInput` otherwise)."""
    width, height = img.size
    if width <= 0 or height <= 0:
        raise BadInput(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise BadInput(
            f"image too large: {width}x{height} = {width * height} pixels > cap {max_pixels} (decompression bomb guard)"
        )
    try:
        img.load()
    except Exception as err:
        raise BadInput(f"truncated or corrupt image: {type(err).__name__}: {err}") from None


def to_rgb(img):
    """Convert any PIL mode to RGB (16-bit greyscale scaled down, transparency composited on white)."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        return Image.fromarray((arr / top * 255.0).clip(0, 255).astype("uint8"), mode="L").convert("RGB")
    if img.mode == "F":
        return img.convert("L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def validate(pair: ImageCaptionPair, max_pixels: int = MAX_IMAGE_PIXELS) -> Record:
    """Decode and check ``pair``; return it with ``image`` as an RGB PIL image, or a :class:`Rejection`."""
    try:
        caption = check_text(pair)
        image = load_image(pair.image, max_pixels=max_pixels)
    except BadInput as err:
        return Rejection(pair.id, err.reason, pair.source)
    return ImageCaptionPair(pair.id, caption, image, pair.caption_prompt, pair.source)
