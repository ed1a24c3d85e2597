"""The endpoint pool against real local HTTP servers: Retry-After honoured, bounded retries, a 4xx rejects the
request with the server's reason, a dead replica's requests go to the live one, and the key stays a header."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

from hub_tools.synthesis.endpoint_client import EndpointPool, EndpointUnavailable, RequestRejected


class Scripted:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 whose replies ``reply(n, body, headers)`` decides (n: 0-based)."""

    def __init__(self, reply):
        self.reply = reply
        self.count = 0
        self.times: list[float] = []
        self.auth: list[str] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def handle(reader, writer):
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode().split("\r\n")
                    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
                    length = int(headers.get("content-length", 0))
                    body = json.loads(await reader.readexactly(length)) if length else None
                    n, self.count = self.count, self.count + 1
                    self.times.append(time.monotonic())
                    self.auth.append(headers.get("authorization", ""))
                    status, extra, payload = self.reply(n, body)
                    data = json.dumps(payload).encode()
                    head_out = (
                        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n"
                    )
                    head_out += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                    writer.write(head_out.encode() + b"\r\n" + data)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        async def start():
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await server.serve_forever()

        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(start()), daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}/v1"


OK = {"choices": [{"message": {"content": "fine"}}]}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_retry_after_is_honoured_then_success():
    server = Scripted(lambda n, body: (503, {"Retry-After": "1"}, {"detail": "busy"}) if n == 0 else (200, {}, OK))
    with EndpointPool([server.url], concurrency=1) as pool:
        assert pool.post_many("/chat/completions", [{"x": 1}], max_new_tokens=8) == [OK]
    assert server.count == 2 and server.times[1] - server.times[0] >= 0.95


def test_a_4xx_rejects_the_request_with_the_servers_reason():
    def reply(n, body):
        if body["x"] == "bad":
            return 400, {}, {"detail": "prompt is 9000 tokens, more than the 8192 allowed"}
        return 200, {}, OK

    server = Scripted(reply)
    with EndpointPool([server.url], concurrency=4) as pool:
        good, bad = pool.post_many("/completions", [{"x": "good"}, {"x": "bad"}], max_new_tokens=8)
    assert good == OK
    assert isinstance(bad, RequestRejected) and "9000 tokens" in bad.reason and "HTTP 400" in bad.reason
    assert server.count == 2  # no retry of a request the server refused


def test_retries_are_bounded():
    server = Scripted(lambda n, body: (429, {"Retry-After": "0"}, {"detail": "slow down"}))
    with EndpointPool([server.url], concurrency=1, max_attempts=3) as pool:
        (result,) = pool.post_many("/completions", [{"x": 1}], max_new_tokens=8)
    assert isinstance(result, EndpointUnavailable) and "slow down" in str(result)
    assert server.count == 3


def test_a_dead_replica_is_skipped_and_the_key_is_a_header():
    server = Scripted(lambda n, body: (200, {}, OK))
    with EndpointPool([closed_port_url(), server.url], concurrency=2, api_key="hf_secret") as pool:
        assert pool.post_many("/completions", [{"x": i} for i in range(10)], max_new_tokens=8) == [OK] * 10
    assert server.count >= 10 and set(server.auth) == {"Bearer hf_secret"}


def test_no_replica_answers():
    from hub_tools.synthesis.endpoint_probe import open_pool

    url = closed_port_url()
    with pytest.raises(EndpointUnavailable, match="no server answers at " + url):
        open_pool([url], "m")
