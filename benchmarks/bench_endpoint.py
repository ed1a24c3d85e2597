"""Served-engine client speed: its own ceiling, and endpoint vs in-process synthesis on the tiny synthesizer.

1. **Client ceiling.** A trivial OpenAI-shaped server (raw asyncio HTTP/1.1 with keep-alive, a fixed chat
   completion per request, in a separate process so its CPU is not counted) answers ``--requests`` requests sent by
   :class:`~hub_tools.synthesis.endpoint_client.EndpointPool` (``--replicas`` servers x ``--concurrency``).
   Reports requests/s and the client process's CPU seconds per 1,000 requests (goal: >= 1,000 requests/s on one
   core, so the client never limits a GPU fleet).
2. **Endpoint vs in-process** (skipped with ``--skip-model``): the tuned tiny synthesizer on ``--pairs`` sample
   pairs, ``--max-new-tokens`` tokens: in-process :class:`~hub_tools.synthesis.engines.TransformersEngine`
   (batch 8) vs :class:`~hub_tools.synthesis.served.ServedSynthesizer` against one and two ``transformers serve``
   replicas on CPU (transformers serve's continuous batching takes token ids only, not images, so it does not
   serve this VLM; each replica runs one request at a time).

3. **Images** (``--images-only`` runs just this): chat requests that each carry a photo (JPEG, quality 90, made
   here offline: gradients, texture, blobs and sensor-like noise, so they compress like photos; 512 and 1024 px),
   the client pinned to one core and the trivial server to another. *Before*: the image re-encoded as a PNG data
   URL of its decoded pixels (``served.image_data_url``, the road until issue 28). *After*: the request carries the
   file's own bytes (:mod:`hub_tools.synthesis.image_payload`, as ``ServedSynthesizer.generate`` does: a fresh
   source per request, so the file read and header check are counted). Reports client CPU ms per request
   (``time.process_time``: every thread of the client process) and requests/s (goal: <= 1 ms client CPU per
   1024 px JPEG request, >= 1,000 requests/s per core). Also the synthesis reader's CPU per record (decode and
   save the image into RUN_DIR/images: PNG re-encode before, the source bytes after, PNG at zlib level 1 for a source
   that must be converted) and, for such a source (an EXIF-rotated JPEG), the requests' conversion in the process
   pool (the pool workers' CPU counted apart).

Run from the repository root: ``python benchmarks/bench_endpoint.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPLY = json.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Answer with a precise response."}}],
    }
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_trivial(port: int) -> None:
    """A minimal keep-alive HTTP/1.1 server answering every POST with :data:`REPLY` (and GET with ``{}``)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                body = REPLY if head.startswith(b"POST") else b"{}"
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, limit=1 << 24)  # whole image bodies
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def client_ceiling(requests: int, replicas: int, concurrency: int) -> dict:
    """Requests/s and client CPU s per 1,000 requests against trivial servers."""
    from hub_tools.synthesis.endpoint_client import EndpointPool

    ports = [free_port() for _ in range(replicas)]
    procs = [subprocess.Popen([sys.executable, __file__, "--trivial-server", str(p)]) for p in ports]
    try:
        for p in ports:
            wait_port(p)
        pool = EndpointPool([f"http://127.0.0.1:{p}/v1" for p in ports], concurrency=concurrency)
        body = {"model": "m", "messages": [{"role": "user", "content": "x" * 200}]}
        pool.post_many("/chat/completions", [body] * 200, max_new_tokens=512)  # warm connections
        cpu0, t0 = time.process_time(), time.perf_counter()
        replies = pool.post_many("/chat/completions", [body] * requests, max_new_tokens=512)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        pool.close()
        assert all(isinstance(r, dict) for r in replies)
        return {
            "requests": requests,
            "replicas": replicas,
            "concurrency": concurrency,
            "requests_per_s": round(requests / wall, 1),
            "client_cpu_s_per_1000": round(1000 * cpu / requests, 3),
        }
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def make_photo(size: int, seed: int) -> bytes:
    """A ``size`` px square JPEG (quality 90) that compresses like a photo: smooth gradients, a warped texture,
    a few soft blobs and Gaussian noise (sigma 6, like a phone sensor at moderate ISO)."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([60 + 150 * x, 40 + 140 * y, 90 + 80 * (1 - x) * y], -1)
    img += (25 * np.sin(x * rng.uniform(30, 70) + 4 * np.sin(y * rng.uniform(5, 9))) * np.cos(y * 40))[..., None]
    for _ in range(6):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.25)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-80, 80, 3)
    img += rng.normal(0, 6, img.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype("uint8")).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _body(url: str) -> dict:
    """A synthesis request as :meth:`ServedSynthesizer.request_body` builds it for vLLM (prompt of ~400 chars)."""
    prompt = "<|start_header_id|>user<|end_header_id|>\n\n<image>\nDescribe the image." + " a caption" * 30
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt}]
    return {
        "model": "m",
        "messages": [{"role": "user", "content": content}],
        "temperature": 0.0,
        "max_tokens": 512,
        "skip_special_tokens": False,
        "stop_token_ids": [128001],
    }


def _children_cpu(pool) -> float:
    """CPU seconds used so far by the conversion pool's worker processes (0 without a pool)."""
    import psutil

    total = 0.0
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def image_case(requests: int, before_requests: int, window: int = 64) -> list[dict]:
    """Client CPU ms per request and requests/s with photos, before (PNG of the pixels) and after (own bytes)."""
    from hub_tools.data import ImageCaptionPair, load_image, validate
    from hub_tools.synthesis import image_payload as ip
    from hub_tools.synthesis.endpoint_client import EndpointPool
    from hub_tools.synthesis.runner import save_image
    from hub_tools.synthesis.served import image_data_url

    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    tmp = Path(tempfile.mkdtemp(prefix="bench_images_"))
    port = free_port()
    cmd = [sys.executable, __file__, "--trivial-server", str(port)]
    proc = subprocess.Popen(cmd + (["--server-cpu", str(cpus[1])] if pinned else []))
    rows = []
    try:
        if pinned:
            os.sched_setaffinity(
                0, {cpus[0]}
            )  # the client (and the pool's event-loop thread, started below): one core
        wait_port(port)
        pool = EndpointPool([f"http://127.0.0.1:{port}/v1"], concurrency=32)
        pool.post_many("/chat/completions", [_body("data:,")] * 64, max_new_tokens=512)  # warm connections
        for size in (512, 1024):
            paths = []
            for k in range(8):
                path = tmp / f"photo{size}_{k}.jpg"
                path.write_bytes(make_photo(size, k))
                paths.append(path)
            kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024
            images = [load_image(str(p)) for p in paths]

            def run(n: int, url_of) -> tuple[float, float]:
                cpu0, t0 = time.process_time(), time.perf_counter()
                for start in range(0, n, window):
                    bodies = [_body(url_of(i)) for i in range(start, min(n, start + window))]
                    replies = pool.post_many("/chat/completions", bodies, max_new_tokens=512)
                    assert all(isinstance(r, dict) for r in replies), replies[:1]
                return time.process_time() - cpu0, time.perf_counter() - t0

            def before(i: int, images=images) -> str:
                return image_data_url(images[i % len(images)])

            def after(i: int, images=images, paths=paths) -> str:
                image = ip.attach_source(images[i % len(images)], str(paths[i % len(paths)]))  # a fresh source
                ip.prepare_payloads([image])
                return ip.image_url_for(image)

            for road, n, url_of in (
                ("before: PNG of the pixels", before_requests, before),
                ("after: own bytes", requests, after),
            ):
                cpu, wall = run(n, url_of)
                rows.append(
                    {
                        "case": f"request, {size} px JPEG ({kb:.0f} kB)",
                        "road": road,
                        "requests": n,
                        "client_cpu_ms_per_request": round(1000 * cpu / n, 3),
                        "requests_per_s": round(n / wall, 1),
                        "requests_per_cpu_s": round(n / cpu, 1),
                        "pinned_one_core": pinned,
                    }
                )
            # the synthesis reader: decode + save each record's image into RUN_DIR/images
            run_dir = tmp / f"run{size}"
            (run_dir / "images").mkdir(parents=True)

            def old_save(
                pair, run_dir=run_dir
            ) -> None:  # save_image until issue 28: PNG of the pixels at PIL's default level
                buf = io.BytesIO()
                pair.image.save(buf, format="PNG")
                (run_dir / "images" / f"{pair.id}.png").write_bytes(buf.getvalue())

            readers = (
                ("before: PNG re-encode (zlib level 6)", 8, False, old_save),
                ("after: source bytes", 64, True, lambda pair, run_dir=run_dir: save_image(run_dir, pair)),
                (
                    "after, to convert: PNG (zlib level 1)",
                    8,
                    False,
                    lambda pair, run_dir=run_dir: save_image(run_dir, pair),
                ),
            )
            for road, n, attach, save in readers:
                cpu0 = time.process_time()
                for i in range(n):
                    path = str(paths[i % len(paths)])
                    pair = validate(ImageCaptionPair(f"p{i}", "a caption", path))
                    if attach:
                        ip.attach_source(pair.image, path)
                    save(pair)
                rows.append(
                    {
                        "case": f"reader per record, {size} px JPEG",
                        "road": road,
                        "records": n,
                        "cpu_ms_per_record": round(1000 * (time.process_time() - cpu0) / n, 2),
                    }
                )
        # a source that must be converted: an EXIF-rotated 1024 px JPEG, batches of 8 through the process pool
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = 6
        rotated = tmp / "rotated.jpg"
        Image.open(paths[0]).save(rotated, "JPEG", quality=90, exif=exif.tobytes())
        image = load_image(str(rotated))
        ip.prepare_payloads([ip.attach_source(image.copy(), str(rotated)) for _ in range(2)])  # start the workers
        n = 32
        cpu0, t0, child0 = time.process_time(), time.perf_counter(), _children_cpu(ip.conversion_pool())
        for _ in range(n // 8):
            batch = [ip.attach_source(image.copy(), str(rotated)) for _ in range(8)]
            ip.prepare_payloads(batch)
            pool.post_many("/chat/completions", [_body(ip.image_url_for(im)) for im in batch], max_new_tokens=512)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        workers = _children_cpu(ip.conversion_pool()) - child0
        rows.append(
            {
                "case": "request, 1024 px EXIF-rotated JPEG (converted)",
                "road": f"after: PNG in the pool ({ip.pool_workers()} workers)",
                "requests": n,
                "client_cpu_ms_per_request": round(1000 * cpu / n, 3),
                "pool_cpu_ms_per_request": round(1000 * workers / n, 1),
                "requests_per_s": round(n / wall, 1),
            }
        )
        pool.close()
        ip.close_pool()
    finally:
        proc.kill()
        proc.wait()
        if pinned:
            os.sched_setaffinity(0, set(cpus))
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def model_comparison(n_pairs: int, max_new_tokens: int) -> list[dict]:
    """Pairs/s: in-process (batch 8) vs one and two transformers serve replicas of the tuned tiny synthesizer."""
    from hub_tools.data import read_pairs
    from hub_tools.defaults import default_tiny_cache_dir
    from hub_tools.miniature.samples import write_sample_pairs
    from hub_tools.miniature.tiny_tuned import build_all_tiny_models
    from hub_tools.synthesis.engines import TransformersEngine
    from hub_tools.synthesis.served import ServedSynthesizer, prepare_served_folder

    tmp = Path(tempfile.mkdtemp(prefix="bench_endpoint_"))
    tiny = build_all_tiny_models(default_tiny_cache_dir())
    served = prepare_served_folder(str(tiny["synthesizer"]), str(tmp / "served"))
    pairs = list(read_pairs(write_sample_pairs(tmp / "pairs")))[:n_pairs]
    batch = [(p.image.convert("RGB"), p.caption, p.caption_prompt) for p in pairs]
    rows = []
    engine = TransformersEngine(str(served), batch_size=8, max_new_tokens=max_new_tokens, device="cpu")
    engine.generate(batch[:1])
    t0 = time.perf_counter()
    ref = engine.generate(batch)
    rows.append({"engine": "in-process, batch 8", "pairs_per_s": round(len(batch) / (time.perf_counter() - t0), 3)})
    del engine
    ports = [free_port(), free_port()]
    serve = str(Path(sys.executable).with_name("transformers"))
    procs = []
    try:
        for port in ports:
            cmd = [serve, "serve", str(served), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in ports:
            wait_port(port, 180)
        for n in (1, 2):
            urls = [f"http://127.0.0.1:{p}/v1" for p in ports[:n]]
            client = ServedSynthesizer(str(served), urls, max_new_tokens=max_new_tokens, server="transformers")
            client.generate(batch[:n])  # each replica loads the model on its first request
            t0 = time.perf_counter()
            got = client.generate(batch)
            took = time.perf_counter() - t0
            client.close()
            rows.append(
                {"engine": f"transformers serve x{n}", "pairs_per_s": round(len(batch) / took, 3), "equal": got == ref}
            )
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--skip-model", action="store_true", help="only the client ceiling (and the image case)")
    parser.add_argument("--images-only", action="store_true", help="only the image case")
    parser.add_argument("--image-requests", type=int, default=1000, help="requests per size, after (default 1000)")
    parser.add_argument("--before-requests", type=int, default=24, help="requests per size, before (default 24)")
    parser.add_argument("--trivial-server", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--server-cpu", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trivial_server is not None:
        if args.server_cpu is not None:
            os.sched_setaffinity(0, {args.server_cpu})
        serve_trivial(args.trivial_server)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.images_only:
        for row in image_case(args.image_requests, args.before_requests):
            print(json.dumps(row), flush=True)
        return
    result = {"client": client_ceiling(args.requests, args.replicas, args.concurrency)}
    print(json.dumps(result["client"]), flush=True)
    for row in image_case(args.image_requests, args.before_requests):
        print(json.dumps(row), flush=True)
    if not args.skip_model:
        result["model"] = model_comparison(args.pairs, args.max_new_tokens)
        for row in result["model"]:
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
