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

Why ``httpx``: it is already installed (``huggingface_hub`` depends on it), its ``AsyncClient`` keeps one pool of
keep-alive connections per replica, and it sends our JSON bodies as they are, with the server-specific fields a
faithful prompt needs (``chat_template_kwargs``, ``generation_config``, vLLM's ``skip_special_tokens`` /
``stop_token_ids``). ``openai.AsyncOpenAI`` would add a typed layer we would bypass with ``extra_body`` and a
pydantic parse per reply (more client CPU per request); ``huggingface_hub.AsyncInferenceClient`` targets TGI's
parameters and cannot pass a per-request chat template.

The pool owns one event loop on a background thread, so synchronous callers (the runners' ``engine.generate``)
submit a whole batch and wait, while the loop keeps every replica's queue full. The API key is read from the
environment (``HF_TOKEN`` or the variable named by ``api_key_env``); it is sent as a bearer token only, never
printed, logged or written.
"""

from __future__ import annotations

import asyncio
import contextlib
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


def _server_reason(response: Any) -> str:
    """The server's own explanation of an error reply, shortened."""
    try:
        data = response.json()
        detail = data.get("detail") or data.get("error") or data.get("message") or data
        if isinstance(detail, dict):
            detail = detail.get("message") or detail
        text = str(detail)
    except Exception:
        text = response.text
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after")
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
        self._changed: asyncio.Condition | None = None

    @property
    def size(self) -> int:
        """Requests the pool keeps in flight at most (replicas x concurrency)."""
        return len(self.replicas) * self.concurrency

    # -- lifecycle -------------------------------------------------------------------------------
    async def _setup(self) -> None:
        if self._client is None:
            import httpx

            limits = httpx.Limits(max_connections=self.size + 4, max_keepalive_connections=self.size + 4)
            timeout = httpx.Timeout(self.timeout, connect=10.0)
            self._client = httpx.AsyncClient(limits=limits, timeout=timeout, headers=self._headers)
            self._changed = asyncio.Condition()

    def _run(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Close the connections and stop the background loop."""
        if self._loop.is_closed():
            return
        if self._client is not None:
            self._run(self._client.aclose())
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
            await self._setup()
            try:
                await self._client.get(rep.url + "/models", timeout=10.0)
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
        """The live replica with the fewest requests in flight, once it has a free slot."""
        assert self._changed is not None
        async with self._changed:
            while True:
                now = time.monotonic()
                live = [r for r in self.replicas if r.alive(now) and r.in_flight < self.concurrency]
                if live:
                    rep = min(live, key=lambda r: r.in_flight)
                    rep.in_flight += 1
                    return rep
                if now - started > self.give_up_after:
                    raise EndpointUnavailable(
                        f"no replica of {', '.join(r.url for r in self.replicas)} answered for "
                        f"{self.give_up_after:.0f}s"
                    )
                wake = min((r.down_until for r in self.replicas if not r.alive(now)), default=now + 1.0)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=max(0.05, min(1.0, wake - now)))

    async def _release(self, rep: _Replica) -> None:
        assert self._changed is not None
        async with self._changed:
            rep.in_flight -= 1
            self._changed.notify_all()

    async def apost(self, path: str, body: dict) -> dict:
        """POST ``body`` to ``path`` (e.g. ``/chat/completions``) on some replica; retries as the module doc says."""
        import httpx

        await self._setup()
        started = time.monotonic()
        last = "no attempt"
        for attempt in range(self.max_attempts):
            rep = await self._acquire(started)
            wait = 0.0
            try:
                response = await self._client.post(rep.url + path, json=body)
            except (httpx.TransportError, OSError) as err:  # refused, reset, timed out: this replica is in trouble
                rep.failures += 1
                rep.down_until = time.monotonic() + min(30.0, 0.5 * 2 ** min(rep.failures, 6))
                last = f"{rep.url}: {type(err).__name__}: {err}"
                await self._release(rep)
                continue
            await self._release(rep)
            rep.failures = 0
            if response.status_code < 400:
                try:
                    return response.json()
                except ValueError:
                    last = f"{rep.url}: the reply is not JSON: {response.text[:200]!r}"
                    wait = 0.5
            elif response.status_code in RETRY_STATUS:
                last = f"{rep.url}: HTTP {response.status_code}: {_server_reason(response)}"
                wait = _retry_after(response)
                if wait is None:
                    wait = min(10.0, 0.25 * 2**attempt) * (0.5 + random.random())
            else:
                raise RequestRejected(
                    f"the server refused the request (HTTP {response.status_code}): {_server_reason(response)}"
                )
            await asyncio.sleep(wait)
        raise EndpointUnavailable(f"gave up after {self.max_attempts} tries; last: {last}")

    def post_many(self, path: str, bodies: Sequence[dict]) -> list[Any]:
        """Send ``bodies`` concurrently; per body its reply JSON or the exception it raised, in order."""

        async def many():
            return await asyncio.gather(*(self.apost(path, b) for b in bodies), return_exceptions=True)

        return self._run(many())

    def get(self, path: str) -> Any:
        """GET ``path`` on the first replica that answers; the JSON reply (``None`` when none answers)."""
        import httpx

        async def one():
            await self._setup()
            for rep in self.replicas:
                try:
                    response = await self._client.get(rep.url + path, timeout=10.0)
                    return response.json() if response.status_code < 400 else None
                except (httpx.TransportError, ValueError):
                    continue
            return None

        return self._run(one())
