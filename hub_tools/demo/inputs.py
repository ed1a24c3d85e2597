"""The demo's inputs: the limits, and the checks that turn a bad image, caption or setting into one message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = MAX_IMAGE_BYTES + 64 * 1024
"""The largest request body the demo server reads: one image of :data:`MAX_IMAGE_BYTES` plus multipart framing."""
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_CAPTION_CHARS = 2000
MAX_TASKS = 5
DEFAULT_MAX_NEW_TOKENS = 512
MAX_NEW_TOKENS_LIMIT = 1024
CHECKERS = ("LLM", "lexical")
LEXICAL = "lexical"
"""``ADAMLLM_CHECKER=lexical``: no LLM checker; the demo judges with the offline word-overlap heuristic."""


class InputError(ValueError):
    """A demo input that cannot be used; the message is shown to the user as is."""


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


def check_image(path: str | os.PathLike | None, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS):
    """Open the image at ``path`` as an RGB PIL image or raise :class:`InputError` saying what is wrong.

    Rejects: no image, a missing or empty file, a file over ``max_bytes``, a file that is not an image
    or is in a format outside :data:`SUPPORTED_FORMATS`, more than ``max_pixels`` pixels, and truncated
    or corrupt images.
    """
    from PIL import Image, UnidentifiedImageError

    from hub_tools.data import BadInput, load_image
    from hub_tools.synthesis.image_payload import attach_source

    if path is None or (isinstance(path, str) and not path.strip()):
        raise InputError("Please upload an image or pick one of the examples.")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"The image file {path.name!r} could not be found; please upload it again.")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"The image file {path.name!r} is empty.")
    if size > max_bytes:
        raise InputError(f"The image file is too large ({_mb(size)}); the limit is {_mb(max_bytes)}.")
    try:
        with Image.open(path) as probe:
            fmt, (width, height) = probe.format, probe.size
    except Image.DecompressionBombError:
        raise InputError(f"The image has too many pixels; the limit is {max_pixels:,}.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError(
            f"Unsupported file {path.name!r}: it is not an image this demo can read "
            f"(supported: {', '.join(SUPPORTED_FORMATS)})."
        ) from None
    if fmt not in SUPPORTED_FORMATS:
        raise InputError(
            f"Unsupported image format {fmt or 'unknown'} ({path.name!r}); supported: {', '.join(SUPPORTED_FORMATS)}."
        )
    if width * height > max_pixels:
        raise InputError(
            f"The image is too large: {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}."
        )
    try:
        return attach_source(load_image(path, max_pixels=max_pixels), path)  # a served synthesizer gets its bytes
    except BadInput as err:
        raise InputError(f"The image cannot be used: {err.reason}.") from None


def check_caption(caption: Any, max_chars: int = MAX_CAPTION_CHARS) -> str:
    """Return the stripped caption or raise :class:`InputError` (missing, empty, over ``max_chars`` or holding a
    chat special token: :func:`hub_tools.data.check_chat_tokens`)."""
    from hub_tools.data import BadInput, check_chat_tokens

    if caption is None or not isinstance(caption, str) or not caption.strip():
        raise InputError("Please enter a caption for the image.")
    caption = caption.strip()
    if len(caption) > max_chars:
        raise InputError(f"The caption is too long ({len(caption):,} characters); the limit is {max_chars:,}.")
    try:
        check_chat_tokens(caption)
    except BadInput as err:
        raise InputError(f"The caption cannot be used: {err.reason}.") from None
    return caption


def check_settings(n_tasks: Any, max_new_tokens: Any, checker: Any) -> tuple[int, int, str]:
    """Validate the numeric and choice settings; raise :class:`InputError` naming the bad one."""
    try:
        n = int(n_tasks)
        tokens = int(max_new_tokens)
    except (TypeError, ValueError):
        raise InputError("The number of tasks and max new tokens must be whole numbers.") from None
    if not 1 <= n <= MAX_TASKS:
        raise InputError(f"The number of tasks to keep must be between 1 and {MAX_TASKS}.")
    if not 1 <= tokens <= MAX_NEW_TOKENS_LIMIT:
        raise InputError(f"Max new tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}.")
    if checker not in CHECKERS:
        raise InputError(f"Unknown checker {checker!r}; choose one of {', '.join(CHECKERS)}.")
    return n, tokens, checker
