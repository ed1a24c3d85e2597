"""Images on the wire: a served request carries the image's own bytes when a server decoding them gets exactly the
pixels the in-process engines get; anything else is converted to a lossless PNG of those pixels, in a pool of
processes (never on the event loop, never in the caller's thread for a batch).

The in-process road decodes an image with :func:`hub_tools.data.load_image`: PIL's decoder, no EXIF rotation, then
:func:`hub_tools.data.to_rgb` (16-bit scaled by its maximum, transparency composited on white, the rest
``convert("RGB")``). The servers decode a data URL as follows:

- ``transformers serve``: the processor's ``fetch_images`` -- ``load_image`` (PIL, ``exif_transpose``, then
  ``convert("RGB")``, alpha dropped, 16-bit clipped) or, with the torchvision backend, ``load_image_as_tensor``
  (torchcodec / torchvision ``decode_image`` in RGB mode, EXIF orientation applied, alpha dropped);
- ``vllm serve``: ``ImageMediaIO.load_bytes`` (PIL, no EXIF rotation, transparency composited on white in recent
  releases, RGBA only in older ones, else ``convert("RGB")``).

They agree with the in-process road exactly when the bytes are JPEG, PNG or WebP, decode (PIL) to mode ``RGB``,
``L`` or ``P``, hold one frame, carry no transparency, no EXIF/XMP orientation other than 1 and (PNG) 8 bits per
sample: :func:`convert_reason` says ``None`` for those (checked on the header; tested pixel for pixel against the
servers' own loaders in ``tests/test_image_payload.py``). Everything else -- CMYK, 16-bit, animated, alpha, rotated,
BMP/TIFF/GIF/... -- goes as PNG of the in-process pixels. PNG decoding is exact everywhere; for JPEG and WebP the
identity holds where client and server decode with the same libraries (libjpeg-turbo, libwebp: what the Pillow and
torchvision wheels bundle); a server whose Pillow is built on IJG libjpeg 9 upsamples chroma differently.

How a source reaches a request: the code that decoded an image records where its pixels came from with
:func:`attach_source` (the synthesis runner, the evaluation tasks); the served engines call
:func:`prepare_payloads` for a batch (conversions in the pool) and :func:`image_url_for` per request.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSTHROUGH_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
"""PIL format -> media type of the formats sent as they are (every server reads them)."""
PASSTHROUGH_MODES = ("RGB", "L", "P")
"""PIL modes whose conversion to RGB is the same on every road (``convert("RGB")``, no alpha, no scaling)."""
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
PNG_LEVEL = 1
"""zlib level of converted PNGs: lossless at any level; 1 costs a fraction of the default 6's CPU."""
_ATTR = "_adamllm_image_source"
_TOKEN = f"adamllm-image-{secrets.token_hex(8)}-%d-"
_ORIENTATION = 0x0112


class DataURL(str):
    """A data URL made by :meth:`ImagePayload.data_url`: ASCII with nothing JSON escapes (the prefix and base64), so
    :func:`dumps_request` writes it into a request as it is instead of scanning it character by character."""

    __slots__ = ()


@dataclass(frozen=True)
class ImagePayload:
    """The bytes one request carries for one image: ``mime`` + ``data``; ``converted`` when they are a PNG made
    from the decoded pixels rather than the source's own bytes."""

    mime: str
    data: bytes
    converted: bool = False

    def data_url(self) -> DataURL:
        """``data:<mime>;base64,<data>``."""
        return DataURL(f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii"))

    @property
    def extension(self) -> str:
        """The file extension of this format (``.jpg``, ``.png``, ``.webp``)."""
        return EXTENSIONS[self.mime]


# ---------------------------------------------------------------------------------------------
# the policy
# ---------------------------------------------------------------------------------------------
def _png_bit_depth(data: bytes) -> int | None:
    # IHDR is the first chunk: 8-byte signature, length, "IHDR", width, height, bit depth
    return data[24] if len(data) > 24 and data[12:16] == b"IHDR" else None


def _webp_animated(data: bytes) -> bool:
    # extended WebP (VP8X) carries an animation flag (bit 1 of the first flags byte)
    return len(data) > 20 and data[12:16] == b"VP8X" and bool(data[20] & 0x02)


def inspect_source(data: bytes) -> tuple[str | None, str | None, tuple[int, int] | None]:
    """``(mime, reason, size)`` of encoded image ``data``: ``mime`` when the bytes may be sent as they are
    (``reason`` None), else ``reason`` says why they must be converted. Reads the header only (no pixel decode),
    except for a PNG that holds EXIF or XMP data (its orientation may follow the pixels)."""
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
    except Exception as err:  # PIL raises several types for unreadable data
        return None, f"unreadable ({type(err).__name__})", None
    with img:
        fmt, size = img.format, img.size
        if fmt not in PASSTHROUGH_MIMES:
            return None, f"format {fmt}", size
        if img.mode not in PASSTHROUGH_MODES:
            return None, f"mode {img.mode}", size
        if getattr(img, "n_frames", 1) != 1 or getattr(img, "is_animated", False):
            return None, "animated", size
        if fmt == "PNG" and (b"acTL" in data or _png_bit_depth(data) != 8):
            return None, "animated" if b"acTL" in data else f"{_png_bit_depth(data)}-bit PNG", size
        if fmt == "WEBP" and _webp_animated(data):
            return None, "animated", size
        if "transparency" in img.info:
            return None, "transparency", size
        # EXIF/XMP orientation: transformers (and datasets) rotate, load_image and vLLM do not
        if fmt != "PNG" or b"eXIf" in data or b"XML:com.adobe.xmp" in data:
            try:
                orientation = img.getexif().get(_ORIENTATION, 1)
            except Exception as err:
                return None, f"unreadable EXIF ({type(err).__name__})", size
            if orientation not in (1, None):
                return None, f"EXIF orientation {orientation}", size
        return PASSTHROUGH_MIMES[fmt], None, size


def convert_reason(data: bytes) -> str | None:
    """Why encoded image ``data`` cannot go to a server as it is (``None``: it can; see the module doc)."""
    return inspect_source(data)[1]


def passthrough_mime(data: bytes) -> str | None:
    """The media type to send encoded image ``data`` under as it is, or ``None`` when it must be converted."""
    return inspect_source(data)[0]


# ---------------------------------------------------------------------------------------------
# sources carried by decoded images
# ---------------------------------------------------------------------------------------------
class _Source:
    """Where an image's pixels came from: ``value`` (a path or the bytes), checked once (``payload``)."""

    __slots__ = ("checked", "lock", "payload", "size", "value")

    def __init__(self, value: Any, size: tuple[int, int]):
        self.value = value
        self.size = size
        self.payload: ImagePayload | None = None
        self.checked = False
        self.lock = threading.Lock()

    def data(self) -> bytes | None:
        value = self.value
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        try:
            return Path(value).read_bytes()
        except OSError:
            return None


def source_value(value: Any) -> Any:
    """The part of a record's image value that is a source: a path (``str`` / ``PathLike``) or the bytes (also
    of an ``{"bytes": ...}`` cell); ``None`` for a decoded image or anything else."""
    if isinstance(value, dict):
        value = value.get("bytes")
    if isinstance(value, (bytes, bytearray)):
        return value if value else None
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return None


def attach_source(image: Any, value: Any) -> Any:
    """Record on decoded ``image`` (a PIL image) that its pixels are ``load_image(value)``: ``value`` is the path
    (resolved by the image-path policy) or the bytes the caller decoded ``image`` from. Nothing is read here; the
    bytes are read and checked once, when a payload is first asked for. Returns ``image``.

    The caller vouches that ``image`` holds exactly the pixels :func:`hub_tools.data.load_image` gives for ``value``
    and is not changed afterwards (a copy or a transformed image carries no source).
    """
    value = source_value(value)
    if value is not None and getattr(image, "size", None) is not None:
        setattr(image, _ATTR, _Source(value, tuple(image.size)))
    return image


def attach_payload(image: Any, payload: ImagePayload) -> Any:
    """Record on ``image`` the bytes to send for it (e.g. the PNG the runner saved of these very pixels)."""
    source = _Source(payload.data, tuple(image.size))
    source.payload, source.checked = payload, True
    setattr(image, _ATTR, source)
    return image


def _attached(image: Any) -> _Source | None:
    source = getattr(image, _ATTR, None)
    if not isinstance(source, _Source) or source.size != tuple(getattr(image, "size", ())):
        return None
    return source


def source_payload(image: Any) -> ImagePayload | None:
    """The source bytes of ``image`` when they may be sent as they are (:func:`inspect_source`), else ``None`` (no
    source attached, unreadable, or one that needs converting). Read and checked once per image."""
    source = _attached(image)
    if source is None:
        return None
    with source.lock:
        if not source.checked:
            data = source.data()
            if data is not None:
                mime, _, size = inspect_source(data)
                if mime is not None and size == source.size:
                    source.payload = ImagePayload(mime, data)
            source.checked = True
        return source.payload


# ---------------------------------------------------------------------------------------------
# conversion: inline for one image, in a process pool for a batch
# ---------------------------------------------------------------------------------------------
def encode_png(image: Any, level: int = PNG_LEVEL) -> bytes:
    """A lossless PNG of ``image`` as RGB (``convert("RGB")`` first when it is another mode, as the processors do)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


def _convert_job(job: tuple) -> tuple[int, tuple[int, int] | None, bytes]:
    """In a pool worker: ``(pid, size, png)`` for ``("source", bytes_or_path, max_pixels)`` (decoded as the
    in-process road does) or ``("pixels", mode, size, raw)``."""
    from PIL import Image

    if job[0] == "source":
        from hub_tools.data import load_image

        image = load_image(job[1], max_pixels=job[2])
    else:
        image = Image.frombytes(job[1], job[2], job[3])
    return os.getpid(), tuple(image.size), encode_png(image)


_pool = None
_pool_lock = threading.Lock()
_pool_failed = False
stats = {"inline": 0, "pool": 0}
"""Conversions by road since import (for tests and benchmarks)."""
worker_pids: set[int] = set()
"""The processes that converted images (for tests)."""


def pool_workers() -> int:
    """Processes of the conversion pool: ``$ADAMLLM_IMAGE_WORKERS``, else the CPU count up to 4."""
    env = os.environ.get("ADAMLLM_IMAGE_WORKERS")
    if env and env.strip().isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(4, os.cpu_count() or 1))


def conversion_pool():
    """The shared :class:`~concurrent.futures.ProcessPoolExecutor` (``spawn``ed on first use, reused), or ``None``
    where processes cannot be started (then conversions run inline)."""
    global _pool, _pool_failed
    with _pool_lock:
        if _pool is None and not _pool_failed:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:  # spawn: the caller has threads (event loop, torch), under which fork is unsafe
                _pool = ProcessPoolExecutor(pool_workers(), mp_context=multiprocessing.get_context("spawn"))
            except (OSError, ImportError, NotImplementedError, ValueError):
                _pool_failed = True
            else:
                import atexit

                atexit.register(close_pool)  # shut down before the interpreter tears its modules down
        return _pool


def close_pool() -> None:
    """Shut the conversion pool down (a later conversion starts a new one)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _job_of(image: Any) -> tuple:
    source = _attached(image)
    if source is not None and source.payload is None:
        width, height = source.size
        return ("source", source.value, width * height)
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return ("pixels", "RGB", tuple(rgb.size), rgb.tobytes())


def _converted(image: Any, size: tuple[int, int] | None, png: bytes) -> ImagePayload:
    if size != tuple(image.size):  # the source did not decode to these pixels: encode the pixels themselves
        png = encode_png(image)
    payload = ImagePayload("image/png", png, converted=True)
    attach_payload(image, payload)
    return payload


def payload_for(image: Any) -> ImagePayload:
    """The payload of one image, synchronously: its source bytes when they may pass (:func:`source_payload`), else
    a PNG of its pixels encoded here (the single-image fallback; batches convert in the pool)."""
    payload = source_payload(image)
    if payload is not None:
        return payload
    stats["inline"] += 1
    return _converted(image, tuple(image.size), encode_png(image))


def image_url_for(image: Any) -> str:
    """The ``image_url`` data URL of one image (:func:`payload_for`)."""
    return payload_for(image).data_url()


def prepare_payloads(images: Sequence[Any]) -> list[ImagePayload]:
    """The payloads of a batch, in order: source bytes where they may pass; the others converted at once in the
    process pool (inline when only one needs it or no pool can start). Each converted payload is recorded on its
    image, so :func:`image_url_for` then costs one base64 encoding and a retry converts nothing again."""
    from concurrent.futures.process import BrokenProcessPool

    out: list[ImagePayload | None] = [source_payload(im) for im in images]
    todo = [i for i, p in enumerate(out) if p is None]
    pool = conversion_pool() if len(todo) > 1 else None
    if pool is not None:
        try:
            futures = {i: pool.submit(_convert_job, _job_of(images[i])) for i in todo}
        except BrokenProcessPool:  # a worker died (e.g. killed for memory): start afresh next time
            close_pool()
            futures = {}
        for i, future in futures.items():
            try:
                pid, size, png = future.result()
            except BrokenProcessPool:
                close_pool()
                continue
            except Exception:  # e.g. the source file is gone since: the pixels themselves, below
                continue
            worker_pids.add(pid)
            out[i] = _converted(images[i], size, png)
            stats["pool"] += 1
    for i in todo:
        if out[i] is None:
            out[i] = payload_for(images[i])
    return out  # type: ignore[return-value]


async def apayload_for(image: Any) -> ImagePayload:
    """:func:`payload_for` for code on an event loop: a conversion runs in the process pool (awaited), so the loop
    keeps serving other requests meanwhile; without a pool it runs in the loop's default thread executor."""
    import asyncio

    payload = source_payload(image)
    if payload is not None:
        return payload
    loop = asyncio.get_running_loop()
    pool = conversion_pool()
    if pool is None:
        return await loop.run_in_executor(None, payload_for, image)
    pid, size, png = await loop.run_in_executor(pool, _convert_job, _job_of(image))
    worker_pids.add(pid)
    stats["pool"] += 1
    return _converted(image, size, png)


def saved_image(image: Any) -> tuple[str, bytes]:
    """``(extension, bytes)`` to store ``image`` as in a run dir: its source bytes where they may pass (a reader
    of the file -- ``load_image``, ``datasets``' ``Image``, a server -- gets the same pixels), else a PNG of the
    pixels (:data:`PNG_LEVEL`: a 1024 px photo in ~60 ms instead of ~260 ms at PIL's default, ~6% larger; recorded on
    ``image`` as its payload, so it is not converted again)."""
    payload = source_payload(image)
    if payload is not None:
        return payload.extension, payload.data
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=PNG_LEVEL)
    data = buf.getvalue()
    if image.mode == "RGB":
        attach_payload(image, ImagePayload("image/png", data, converted=True))
    return ".png", data


# ---------------------------------------------------------------------------------------------
# the request's JSON
# ---------------------------------------------------------------------------------------------
def _swap(obj: Any, found: list[str]) -> Any:
    if isinstance(obj, DataURL):
        found.append(obj)
        return _TOKEN % (len(found) - 1)
    if isinstance(obj, dict):
        return {key: _swap(value, found) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_swap(value, found) for value in obj]
    return obj


def dumps_request(obj: Any) -> str:
    """``json.dumps(obj)``, the same text, with each :class:`DataURL` spliced in rather than escaped: the JSON of a
    request carrying a 300 kB image costs ~0.03 ms instead of ~0.4 ms (the client's largest cost per request). For
    the HTTP session's ``json_serialize``."""
    found: list[str] = []
    skeleton = _swap(obj, found)
    text = json.dumps(skeleton)
    if not found:
        return text
    pieces, rest = [], text
    for i, url in enumerate(found):
        token = _TOKEN % i
        if rest.count(token) != 1:  # the token occurs in the request's own text (never by chance): no splicing
            return json.dumps(obj)
        head, rest = rest.split(token)
        pieces += (head, url)
    pieces.append(rest)
    return "".join(pieces)
