"""An async client for OpenAI-compatible servers (``vllm serve``, ``transformers serve``, Inference Endpoints).

:class:`EndpointPool` spreads requests over one or more replicas (base URLs such as ``http://host:8000/v1``), keeps
up to ``concurrency`` requests in flight per replica, and retries what is not the request's fault:

- a connection error or reset (a replica that died or restarts): the replica is benched for a short, growing
  cooldown and the request goes to another replica at once;
- HTTP 408 / 429 / 5xx: retried with exponential backoff (``Retry-After`` honoured when the server sends it);
- HTTP 4xx about the request itself (prompt too long, image rejected, bad field): no retry; the request raises
  :class:`RequestRejected` (a :class:`~hub_tools.errors.BadInput`) with the server's own reason, so the runner
  rejects that one record;
- after :data:`MAX_ATTEMPTS` tries, or when no replica has answered for :data:`GIVE_UP_AFTER_S` seconds, the
  request raises :class:`EndpointUnavailable`: the run stops, nothing of the unanswered records is written, and a
  rerun resumes them.

Why ``aiohttp`` (the HTTP layer of ``huggingface_hub.AsyncInferenceClient``, installed with ``datasets``): the
client must never limit a GPU fleet, and measured on the 2-core dev box against a trivial local server it spends
0.11 ms of CPU per request against 1.56 ms for ``httpx.AsyncClient`` (``openai.AsyncOpenAI`` is ``httpx`` plus a
pydantic parse per reply), i.e. thousands of requests/s on one core instead of a few hundred
(``benchmarks/bench_endpoint.py``). The bodies are our own JSON, sent as they are, with the server-specific
fields a faithful prompt needs (``chat_template_kwargs``, ``generation_config``, vLLM's ``skip_special_tokens`` /
``stop_token_ids``), which ``AsyncInferenceClient`` (TGI's parameters, no per-request chat template) cannot send.

The pool owns one event loop on a background thread, so synchronous callers (the runners' ``engine.generate``)
submit a whole batch and wait, while the loop keeps every replica's queue full. The API key is read from the
environment (``HF_TOKEN`` or the variable named by ``api_key_env``); it is sent as a bearer token only, never
printed, logged or written.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from hub_tools.errors import BadInput

DEFAULT_CONCURRENCY = 8
"""Requests in flight per replica (``--concurrency``)."""
MAX_ATTEMPTS = 8
"""Tries per request before :class:`EndpointUnavailable` (connection errors, 408/429/5xx)."""
GIVE_UP_AFTER_S = 120.0
"""A request that found no live replica for this long raises :class:`EndpointUnavailable`."""
REQUEST_TIMEOUT_S = 600.0
"""Read timeout of one request (a long generation on a loaded server)."""
DEFAULT_API_KEY_ENV = "HF_TOKEN"
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class RequestRejected(BadInput):
    """The server refused this request (a 4xx about the request); ``reason`` quotes the server."""


class EndpointUnavailable(RuntimeError):
    """No replica answered a request within the retry budget (the run stops; a rerun resumes)."""


def normalize_url(url: str) -> str:
    """``url`` without a trailing slash; raises ``ValueError`` unless it is an ``http(s)://`` URL."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--endpoint {url!r} is not an http(s) URL (expected e.g. http://host:8000/v1)")
    return url


def api_key_from_env(name: str | None = None) -> str | None:
    """The API key from ``$name`` (default ``HF_TOKEN``); ``None`` when unset or empty."""
    return os.environ.get(name or DEFAULT_API_KEY_ENV) or None


def _server_reason(body: str) -> str:
    """The server's own explanation in an error reply's body, shortened."""
    try:
        data = json.loads(body)
        detail = data.get("detail") or data.get("error") or data.get("message") or data
        if isinstance(detail, dict):
            detail = detail.get("message") or detail
        text = str(detail)
    except Exception:
        text = body
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return min(60.0, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


class _Replica:
    def __init__(self, url: str):
        self.url = url
        self.in_flight = 0
        self.down_until = 0.0
        self.failures = 0  # consecutive connection failures: the cooldown grows with them

    def alive(self, now: float) -> bool:
        return now >= self.down_until


class EndpointPool:
    """Replicas of one served model behind OpenAI-compatible base URLs; see the module doc.

    ``post(path, body)`` (from any thread) returns the reply's JSON; ``post_many(path, bodies)`` sends a batch
    concurrently and returns, per body, the JSON or the exception (:class:`RequestRejected`,
    :class:`EndpointUnavailable`). ``close()`` stops the loop.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        api_key: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = REQUEST_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
        give_up_after: float = GIVE_UP_AFTER_S,
    ):
        if not urls:
            raise ValueError("at least one --endpoint URL is needed")
        if concurrency < 1:
            raise ValueError(f"--concurrency must be >= 1, not {concurrency}")
        self.replicas = [_Replica(normalize_url(u)) for u in urls]
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.give_up_after = give_up_after
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="endpoint-pool", daemon=True)
        self._thread.start()
        self._client = None
        self._slots: asyncio.Semaphore | None = None

    @property
    def size(self) -> int:
        """Requests the pool keeps in flight at most (replicas x concurrency)."""
        return len(self.replicas) * self.concurrency

    # -- lifecycle -------------------------------------------------------------------------------
    async def _setup(self) -> None:
        if self._client is None:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.size + 4, limit_per_host=0)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=self.timeout)
            from hub_tools.synthesis.image_payload import dumps_request  # images spliced in, not escaped

            self._client = aiohttp.ClientSession(
                connector=connector, timeout=timeout, headers=self._headers, json_serialize=dumps_request
            )
            self._slots = asyncio.Semaphore(self.size)

    def _run(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Close the connections and stop the background loop."""
        if self._loop.is_closed():
            return

        async def shutdown():  # requests still in flight (a run that stops) end, so no caller waits forever
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._client is not None:
                await self._client.close()

        self._run(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reachability ----------------------------------------------------------------------------
    def reachable(self) -> list[str]:
        """GET ``/models`` on every replica; returns the URLs that answered (any HTTP status: a server is there).

        Raises :class:`EndpointUnavailable` naming the URL(s) when none answers.
        """

        async def probe(rep: _Replica) -> bool:
            import aiohttp

            await self._setup()
            try:
                async with self._client.get(rep.url + "/models", timeout=aiohttp.ClientTimeout(total=10.0)) as r:
                    await r.read()
                return True
            except Exception:
                rep.down_until = time.monotonic() + 1.0
                return False

        async def probe_all():
            return await asyncio.gather(*(probe(r) for r in self.replicas))

        ok = self._run(probe_all())
        alive = [r.url for r, good in zip(self.replicas, ok) if good]
        if not alive:
            names = ", ".join(r.url for r in self.replicas)
            raise EndpointUnavailable(f"no server answers at {names} (is it running, and is the URL its /v1 base?)")
        return alive

    # -- requests --------------------------------------------------------------------------------
    async def _acquire(self, started: float) -> _Replica:
        """A pool slot, then the live replica with the fewest requests in flight (polling while none is live)."""
        assert self._slots is not None
        await self._slots.acquire()
        while True:
            now = time.monotonic()
            live = [r for r in self.replicas if r.alive(now) and r.in_flight < self.concurrency]
            if live:
                rep = min(live, key=lambda r: r.in_flight)
                rep.in_flight += 1
                return rep
            if now - started > self.give_up_after:
                self._slots.release()
                raise EndpointUnavailable(
                    f"no replica of {', '.join(r.url for r in self.replicas)} answered for {self.give_up_after:.0f}s"
                )
            wake = min((r.down_until for r in self.replicas if not r.alive(now)), default=now + 0.05)
            await asyncio.sleep(max(0.02, min(1.0, wake - now)))

    def _release(self, rep: _Replica) -> None:
        assert self._slots is not None
        rep.in_flight -= 1
        self._slots.release()

    async def apost(self, path: str, body: dict) -> dict:
        """POST ``body`` to ``path`` (e.g. ``/chat/completions``) on some replica; retries as the module doc says."""
        import aiohttp

        await self._setup()
        started = time.monotonic()
        last = "no attempt"
        for attempt in range(self.max_attempts):
            rep = await self._acquire(started)
            wait = 0.0
            try:
                async with self._client.post(rep.url + path, json=body) as response:
                    status, headers, text = response.status, response.headers, await response.text()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:  # refused, reset, timed out
                rep.failures += 1
                rep.down_until = time.monotonic() + min(30.0, 0.5 * 2 ** min(rep.failures, 6))
                last = f"{rep.url}: {type(err).__name__}: {err}"
                self._release(rep)
                continue
            self._release(rep)
            rep.failures = 0
            if status < 400:
                try:
                    return json.loads(text)
                except ValueError:
                    last = f"{rep.url}: the reply is not JSON: {text[:200]!r}"
                    wait = 0.5
            elif status in RETRY_STATUS:
                last = f"{rep.url}: HTTP {status}: {_server_reason(text)}"
                wait = _retry_after(headers)
                if wait is None:
                    wait = min(10.0, 0.25 * 2**attempt) * (0.5 + random.random())
            else:
                raise RequestRejected(f"the server refused the request (HTTP {status}): {_server_reason(text)}")
            await asyncio.sleep(wait)
        raise EndpointUnavailable(f"gave up after {self.max_attempts} tries; last: {last}")

    def post_many(self, path: str, bodies: Sequence[dict]) -> list[Any]:
        """Send ``bodies`` concurrently; per body its reply JSON or the exception it raised, in order."""

        async def many():
            return await asyncio.gather(*(self.apost(path, b) for b in bodies), return_exceptions=True)

        return self._run(many())

    def get(self, path: str) -> Any:
        """GET ``path`` on the first replica that answers; the JSON reply (``None`` when none answers)."""
        import aiohttp

        async def one():
            await self._setup()
            for rep in self.replicas:
                try:
                    async with self._client.get(rep.url + path, timeout=aiohttp.ClientTimeout(total=10.0)) as r:
                        text = await r.text()
                    return json.loads(text) if r.status < 400 else None
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
                    continue
            return None

        return self._run(one())
