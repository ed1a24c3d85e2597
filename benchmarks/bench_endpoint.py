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

Run from the repository root: ``python benchmarks/bench_endpoint.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
        server = await asyncio.start_server(handle, "127.0.0.1", port)
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
        pool.post_many("/chat/completions", [body] * 200)  # warm connections
        cpu0, t0 = time.process_time(), time.perf_counter()
        replies = pool.post_many("/chat/completions", [body] * requests)
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
    parser.add_argument("--skip-model", action="store_true", help="only the client ceiling")
    parser.add_argument("--trivial-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trivial_server is not None:
        serve_trivial(args.trivial_server)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = {"client": client_ceiling(args.requests, args.replicas, args.concurrency)}
    print(json.dumps(result["client"]), flush=True)
    if not args.skip_model:
        result["model"] = model_comparison(args.pairs, args.max_new_tokens)
        for row in result["model"]:
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
