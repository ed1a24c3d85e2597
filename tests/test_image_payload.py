"""Images as their own bytes (issue 28, item 6): served and in-process see identical pixels.

For each passthrough format the request carries the source's bytes, and each server's own loader -- transformers'
``load_image`` (PIL) and ``load_image_as_tensor`` (torchvision, the fast processors' road), and a PIL decode that
mirrors vLLM's ``ImageMediaIO`` -- decodes them to exactly the pixels :func:`hub_tools.data.load_image` gives the
in-process engines. Every other case (CMYK, 16-bit, animated, alpha, EXIF-rotated, other formats) is converted to
a PNG of the in-process pixels, in the process pool for a batch.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hub_tools.data import ImageCaptionPair, load_image
from hub_tools.synthesis import image_payload as ip

W, H = 48, 40


def _photo(seed: int = 0) -> Image.Image:
    """A small RGB picture with gradients, texture and noise (compresses like a photo, not like a flat fill)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W] / max(H, W)
    base = np.stack([x * 200, y * 180, (x + y) * 100], -1) + 30 * np.sin(x * 40)[..., None]
    return Image.fromarray(np.clip(base + rng.normal(0, 8, (H, W, 3)), 0, 255).astype("uint8"))


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_rgb16(img: Image.Image) -> bytes:
    """A 16-bit-per-channel RGB PNG (PIL opens it as mode RGB; PIL cannot write one)."""
    arr = np.asarray(img, dtype=">u2") * 257 + 100
    raw = b"".join(b"\x00" + row.tobytes() for row in arr)
    head = struct.pack(">IIBBBBB", img.width, img.height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", head)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _rotated_jpeg(img: Image.Image) -> bytes:
    return _save(img, "JPEG", quality=90, exif=_exif(6))


XMP_ROTATED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>'
)


def _frames(fmt: str, **kw) -> bytes:
    frames = [_photo(1), _photo(2)]
    if fmt == "GIF":
        frames = [f.convert("P") for f in frames]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **kw)


def _alpha(mode: str) -> Image.Image:
    rgba = _photo(3).convert("RGBA")
    alpha = np.zeros((H, W), dtype="uint8")
    alpha[:, W // 2 :] = 255
    alpha[: H // 2, :] = 128
    rgba.putalpha(Image.fromarray(alpha))
    return rgba.convert(mode) if mode != "RGBA" else rgba


PASSTHROUGH = {
    "jpeg": (lambda: _save(_photo(), "JPEG", quality=90), "image/jpeg"),
    "jpeg-444": (lambda: _save(_photo(), "JPEG", quality=90, subsampling=0), "image/jpeg"),
    "jpeg-progressive": (lambda: _save(_photo(), "JPEG", quality=85, progressive=True), "image/jpeg"),
    "jpeg-grey": (lambda: _save(_photo().convert("L"), "JPEG", quality=90), "image/jpeg"),
    "jpeg-exif-upright": (lambda: _save(_photo(), "JPEG", quality=90, exif=_exif(1)), "image/jpeg"),
    "png": (lambda: _save(_photo(), "PNG"), "image/png"),
    "png-grey": (lambda: _save(_photo().convert("L"), "PNG"), "image/png"),
    "png-palette": (lambda: _save(_photo().convert("P"), "PNG"), "image/png"),
    "webp": (lambda: _save(_photo(), "WEBP", quality=90), "image/webp"),
    "webp-lossless": (lambda: _save(_photo(), "WEBP", lossless=True), "image/webp"),
}
CONVERT = {
    "jpeg-cmyk": lambda: _save(_photo().convert("CMYK"), "JPEG", quality=90),
    "jpeg-exif-rotated": lambda: _rotated_jpeg(_photo()),
    "jpeg-xmp-rotated": lambda: _save(_photo(), "JPEG", quality=90, xmp=XMP_ROTATED),
    "png-exif-rotated": lambda: _save(_photo(), "PNG", exif=_exif(3)),
    "webp-exif-rotated": lambda: _save(_photo(), "WEBP", quality=90, exif=_exif(6)),
    "png-16bit-grey": lambda: _save(
        Image.fromarray((np.asarray(_photo().convert("L"), dtype="uint16") * 200).astype("uint16")), "PNG"
    ),
    "png-16bit-rgb": lambda: _png_rgb16(_photo()),
    "png-rgba": lambda: _save(_alpha("RGBA"), "PNG"),
    "png-grey-alpha": lambda: _save(_alpha("LA"), "PNG"),
    "png-palette-transparency": lambda: _save(_photo().convert("P"), "PNG", transparency=0),
    "png-1bit": lambda: _save(_photo().convert("1"), "PNG"),
    "png-animated": lambda: _frames("PNG"),
    "webp-alpha": lambda: _save(_alpha("RGBA"), "WEBP", lossless=True),
    "webp-animated": lambda: _frames("WEBP", lossless=True),
    "gif": lambda: _save(_photo().convert("P"), "GIF"),
    "gif-animated": lambda: _frames("GIF"),
    "bmp": lambda: _save(_photo(), "BMP"),
    "tiff": lambda: _save(_photo(), "TIFF"),
}


# -- the servers' decoders --------------------------------------------------------------------------
def _vllm_decode(url: str) -> np.ndarray:
    """vLLM's ``MediaConnector._load_data_url`` + ``ImageMediaIO.load_bytes`` + ``convert_image_mode`` (its
    current release: transparency composited on white; 16-bit and the rest through ``convert``), written out."""
    spec, _, data = url[5:].partition(",")
    assert spec.endswith(";base64")
    image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
    if image.mode != "RGB":
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.new("RGB", rgba.size, (255, 255, 255))
            image.paste(rgba, mask=rgba.split()[3])
        else:
            image = image.convert("RGB")
    return np.asarray(image)


def _server_views(url: str) -> dict[str, np.ndarray]:
    """What each server's loader makes of data URL ``url``, as H x W x 3 uint8 arrays."""
    from transformers.image_utils import load_image as hf_load_image
    from transformers.image_utils import load_image_as_tensor

    return {
        "transformers-pil": np.asarray(hf_load_image(url)),
        "transformers-torchvision": load_image_as_tensor(url).permute(1, 2, 0).numpy(),
        "vllm": _vllm_decode(url),
    }


def _in_process(data: bytes) -> Image.Image:
    """What the in-process engines get: :func:`hub_tools.data.load_image` of the source, carrying its source as
    the runner and the evaluation tasks attach it."""
    return ip.attach_source(load_image(data), data)


@pytest.mark.parametrize("case", sorted(PASSTHROUGH))
def test_passthrough_formats_send_their_own_bytes_and_every_server_sees_the_in_process_pixels(case):
    make, mime = PASSTHROUGH[case]
    data = make()
    assert ip.convert_reason(data) is None, ip.convert_reason(data)
    image = _in_process(data)
    url = ip.image_url_for(image)
    assert url == f"data:{mime};base64," + base64.b64encode(data).decode("ascii")  # the source, byte for byte
    expected = np.asarray(image)
    for server, pixels in _server_views(url).items():
        assert pixels.shape == expected.shape and np.array_equal(pixels, expected), (case, server)


@pytest.mark.parametrize("case", sorted(CONVERT))
def test_other_sources_are_converted_to_a_png_of_the_in_process_pixels(case):
    data = CONVERT[case]()
    reason = ip.convert_reason(data)
    assert reason is not None
    image = _in_process(data)
    payload = ip.payload_for(image)
    assert payload.converted and payload.mime == "image/png" and payload.data != data
    expected = np.asarray(image)
    for server, pixels in _server_views(payload.data_url()).items():
        assert np.array_equal(pixels, expected), (case, reason, server)


def test_sending_those_sources_as_they_are_would_change_what_a_server_sees():
    """The converted cases are not converted for nothing: these sources' own bytes decode to other pixels (or not
    at all) on at least one server's loader. (CMYK, GIF, 1-bit and animated PNG decode alike on the loaders here, and
    are converted all the same: other loaders and versions differ on them.)"""
    cases = (
        "jpeg-exif-rotated",
        "jpeg-xmp-rotated",
        "png-exif-rotated",
        "webp-exif-rotated",
        "png-16bit-grey",
        "png-16bit-rgb",
        "png-rgba",
        "png-grey-alpha",
    )
    cases += ("png-palette-transparency", "webp-alpha", "webp-animated", "bmp", "tiff")
    differs = {}
    for case in cases:
        data = CONVERT[case]()
        expected = np.asarray(load_image(data))
        url = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        try:
            views = _server_views(url)
        except RuntimeError as err:  # torchvision cannot decode BMP, TIFF or animated WebP
            differs[case] = [f"cannot decode: {str(err)[:40]}"]
            continue
        differs[case] = sorted(
            k for k, v in views.items() if v.shape != expected.shape or not np.array_equal(v, expected)
        )
    assert all(differs.values()), differs


def test_an_image_without_a_source_or_with_changed_pixels_goes_as_png_of_its_pixels():
    image = _photo()
    payload = ip.payload_for(image)
    assert payload.converted and np.array_equal(np.asarray(Image.open(io.BytesIO(payload.data))), np.asarray(image))
    data = PASSTHROUGH["jpeg"][0]()
    resized = _in_process(data).resize((W // 2, H // 2))  # a new image: carries no source
    assert ip.payload_for(resized).converted
    stale = ip.attach_source(_photo().resize((W + 1, H)), data)  # the source's size differs from the pixels'
    assert ip.source_payload(stale) is None and ip.payload_for(stale).converted


def test_a_batch_converts_in_the_process_pool_and_passes_the_rest_through():
    passing = [_in_process(PASSTHROUGH[c][0]()) for c in ("jpeg", "png", "webp")]
    converting = [_in_process(CONVERT[c]()) for c in ("jpeg-cmyk", "jpeg-exif-rotated", "png-rgba")]
    pixels_only = _photo(7)  # no source: its pixels travel to the pool
    images = [passing[0], converting[0], passing[1], converting[1], pixels_only, converting[2], passing[2]]
    before = dict(ip.stats)
    payloads = ip.prepare_payloads(images)
    assert ip.stats["pool"] - before["pool"] == 4 and ip.stats["inline"] == before["inline"]
    assert ip.worker_pids and os.getpid() not in ip.worker_pids  # converted in other processes
    assert [p.converted for p in payloads] == [False, True, False, True, True, True, False]
    for image, payload in zip(images, payloads):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(payload.data)).convert("RGB")), np.asarray(image))
        assert ip.payload_for(image) is payload  # recorded on the image: a retry converts nothing again
    assert ip.stats["inline"] == before["inline"]


def test_a_source_gone_before_conversion_falls_back_to_the_pixels(tmp_path):
    images = []
    for k in range(2):
        path = tmp_path / f"{k}.jpg"
        path.write_bytes(CONVERT["jpeg-exif-rotated"]())
        images.append(ip.attach_source(load_image(str(path)), str(path)))
        path.unlink()  # the worker cannot read it
    before = dict(ip.stats)
    payloads = ip.prepare_payloads(images)
    assert ip.stats["inline"] - before["inline"] == 2
    for image, payload in zip(images, payloads):
        assert payload.converted and np.array_equal(
            np.asarray(Image.open(io.BytesIO(payload.data))), np.asarray(image)
        )


def test_the_async_road_awaits_the_pool_without_blocking_the_loop():
    image = _in_process(CONVERT["tiff"]())
    before = ip.stats["pool"]

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.ensure_future(ticker())
        payload = await ip.apayload_for(image)
        task.cancel()
        return payload, ticks

    payload, ticks = asyncio.run(main())
    assert payload.converted and ip.stats["pool"] == before + 1 and ticks > 0
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(payload.data))), np.asarray(image))


def test_the_runner_saves_the_source_bytes_where_they_pass(tmp_path):
    from hub_tools.synthesis.runner import save_image

    jpeg, rotated = PASSTHROUGH["jpeg"][0](), CONVERT["jpeg-exif-rotated"]()
    (tmp_path / "a.jpg").write_bytes(jpeg)
    pair = ImageCaptionPair("a", "x", ip.attach_source(load_image(str(tmp_path / "a.jpg")), str(tmp_path / "a.jpg")))
    assert save_image(tmp_path, pair) == "images/a.jpg"
    assert (tmp_path / "images" / "a.jpg").read_bytes() == jpeg
    assert np.array_equal(np.asarray(load_image(str(tmp_path / "images" / "a.jpg"))), np.asarray(pair.image))
    pair = ImageCaptionPair("b", "x", _in_process(rotated))
    assert save_image(tmp_path, pair) == "images/b.png"
    saved = (tmp_path / "images" / "b.png").read_bytes()
    assert np.array_equal(np.asarray(load_image(saved)), np.asarray(pair.image))
    before = dict(ip.stats)
    payload = ip.payload_for(pair.image)  # the saved PNG is what a server gets: nothing converted again
    assert payload.data == saved and ip.stats["inline"] == before["inline"]


def test_evaluation_images_carry_their_parquet_bytes(tmp_path):
    import datasets

    from hub_tools.evaluation import tasks

    jpeg = PASSTHROUGH["jpeg"][0]()
    (tmp_path / "SLAKE").mkdir()
    columns = {"image": [{"bytes": jpeg, "path": None}], "input": ["q"], "label": ["yes"], "answer_type": ["CLOSED"]}
    features = datasets.Features(
        {"image": datasets.Image(), **{k: datasets.Value("string") for k in ("input", "label", "answer_type")}}
    )
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(tmp_path / "SLAKE" / "test.parquet"))
    split = tasks.load_split(tasks.TASKS["SLAKE"], tmp_path)
    image = split.image(split.items[0].id)
    assert ip.image_url_for(image) == "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def test_request_bodies_carry_the_payload(monkeypatch):
    """``ServedSynthesizer.request_body`` / ``ServedVLM.request_body`` put :func:`image_url_for` in the request."""
    from hub_tools.evaluation.served import ServedVLM
    from hub_tools.synthesis.served import ServedSynthesizer

    image = _in_process(PASSTHROUGH["webp"][0]())
    synth = object.__new__(ServedSynthesizer)
    synth.model, synth.server, synth.max_new_tokens, synth.stop_ids = "m", "vllm", 8, [1]
    monkeypatch.setattr(ServedSynthesizer, "prompt_string", lambda self, caption, prompt=None: caption)
    vlm = object.__new__(ServedVLM)
    vlm.model_id, vlm.server, vlm.eos_token_ids, vlm.mm_kwargs = "m", "vllm", [1], {}
    monkeypatch.setattr(ServedVLM, "prompt", lambda self, text: text)
    for body in (synth.request_body(image, "a caption"), vlm.request_body(image, "a question", 8)):
        part = body["messages"][0]["content"][0]
        assert part["image_url"]["url"] == ip.image_url_for(image)
        assert part["image_url"]["url"].startswith("data:image/webp;base64,")
        json.dumps(body)


def test_the_request_json_is_json_dumps_with_the_image_spliced_in():
    image = _in_process(PASSTHROUGH["jpeg"][0]())
    body = {
        "model": "m\u00e9",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": ip.image_url_for(image)}}]}
        ],
        "text": 'quotes " and \\ and \n and é',
        "n": [1, 2.5, None, True],
    }
    body["messages"][0]["content"].append(
        {"type": "image_url", "image_url": {"url": ip.payload_for(_photo()).data_url()}}
    )
    assert ip.dumps_request(body) == json.dumps(body)
    assert json.loads(ip.dumps_request(body)) == body
    token_in_text = dict(body, text=ip._TOKEN % 0)  # the splice token in the request's own text: plain json.dumps
    assert ip.dumps_request(token_in_text) == json.dumps(token_in_text)


def test_the_endpoint_pool_sends_the_spliced_json():
    """Through :class:`EndpointPool` (its session's ``json_serialize``): the server gets ``json.dumps(body)``."""
    import threading

    from hub_tools.synthesis.endpoint_client import EndpointPool

    received: list[bytes] = []
    reply = b'{"choices": [{"message": {"content": "ok"}}]}'

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
        received.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(reply))
        writer.write(reply)
        await writer.drain()
        writer.close()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 22))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        image = _in_process(PASSTHROUGH["jpeg"][0]())
        part = {"type": "image_url", "image_url": {"url": ip.image_url_for(image)}}
        body = {"model": "m", "messages": [{"role": "user", "content": [part, {"type": "text", "text": 'a "q"'}]}]}
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        with EndpointPool([url], concurrency=1) as pool:
            assert pool.post_many("/chat/completions", [body], max_new_tokens=8) == [json.loads(reply)]
        assert received == [json.dumps(body).encode()]
    finally:
        server.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
