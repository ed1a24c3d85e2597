"""An async client for OpenAI-compatible servers (``vllm serve``, ``transformers serve``, Inference Endpoints).

:class:`EndpointPool` spreads requests over one or more replicas (base URLs such as ``http://host:8000/v1``) and
keeps up to ``concurrency`` requests in flight per replica. It **fails closed**: every answer a server can give
falls in one of three classes (:mod:`hub_tools.synthesis.endpoint_answers`, the table in ``docs/served.md``), and only an answer about one
record ever marks that record.

- *about the endpoint* (:class:`EndpointMisconfigured`): 401, 403, 404, 405 and the other statuses of
  :data:`ENDPOINT_STATUS`, any 3xx (redirects are never followed), a 200 whose body is not a completion. The run
  stops with one line naming the URL, what came back and the fix; no record is marked, so a rerun resumes them all.
- *transient* (408 / 425 / 429 / 5xx, resets, refused connections of a replica that answered the probe): retried
  with backoff (``Retry-After`` honoured), on another replica when one is live, inside **one overall deadline per
  request** (``--request-timeout``, retries included). When it runs out: :class:`EndpointUnavailable`, the same
  stop.
- *about the record* (:class:`RequestRejected`): any other 4xx (400 / 413 / 422: context too long, image refused),
  and a reply longer than the request's ``max_new_tokens`` allows (:func:`reply_byte_cap`). The record is rejected
  with the server's reason, redacted and cut (:func:`safe_reason`). :class:`RefusalGuard` holds such rejections until
  a later answer shows the endpoint works, and turns a run of :data:`REFUSAL_RUN` refusals with one status from one
  endpoint into a stop.

Bounds: a reply is read in chunks up to its byte cap (memory stays flat whatever the server sends), an error body
up to :data:`ERROR_BODY_CAP`; a server that drips bytes or hangs after its headers ends within the deadline.

Why ``aiohttp`` (the HTTP layer of ``huggingface_hub.AsyncInferenceClient``, installed with ``datasets``): the
client must never limit a GPU fleet; on the 2-core dev box it spends 0.11 ms of CPU per request against 1.56 ms for
``httpx.AsyncClient`` (``benchmarks/bench_endpoint.py``). The bodies are our own JSON with the server-specific
fields a faithful prompt needs (``chat_template_kwargs``, ``generation_config``, vLLM's ``skip_special_tokens``),
which ``AsyncInferenceClient`` cannot send.

The pool owns one event loop on a background thread, so synchronous callers submit a batch and wait. The API key
is read from the environment (``HF_TOKEN`` or the variable named by ``api_key_env``), sent as a bearer token only
and registered with :mod:`hub_tools.redaction`, so that a server echoing it never gets it into a file or a message.
Credentials in a URL (``http://user:pw@host/v1``) become a Basic header and are never shown.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hub_tools.synthesis.endpoint_answers import (  # noqa: F401  (re-exported: the answers' policy lives there)
    ANSWER_TABLE,
    ERROR_BODY_CAP,
    REFUSAL_RUN,
    EndpointError,
    EndpointMisconfigured,
    EndpointUnavailable,
    RefusalGuard,
    RequestRejected,
    answer_class,
    check_completion,
    raise_endpoint_errors,
    reply_byte_cap,
    safe_reason,
    server_reason,
    status_fix,
)

DEFAULT_CONCURRENCY = 8
"""Requests in flight per replica (``--concurrency``)."""
REQUEST_TIMEOUT_S = 900.0
"""``--request-timeout``: the overall deadline of one request, retries included (a long generation on a loaded
server fits; a dripping or hung server ends the run within it)."""
CONNECT_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 30.0
"""Deadline of each probe request (``GET /models``, the one-token check)."""
GIVE_UP_AFTER_S = 120.0
"""A request that found no live replica for this long stops the run (within the overall deadline)."""
MAX_ATTEMPTS = 8
"""Tries per request (transient answers) before :class:`EndpointUnavailable`."""
DEFAULT_API_KEY_ENV = "HF_TOKEN"


def split_credentials(url: str) -> tuple[str, str | None]:
    """``(url without userinfo, Basic auth header value or None)``; raises ``ValueError`` for a non-http(s) URL."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if parts.netloc else url
        raise ValueError(f"--endpoint {shown!r} is not an http(s) URL (expected e.g. http://host:8000/v1)")
    auth = None
    if parts.username is not None or parts.password is not None:
        from urllib.parse import unquote

        from hub_tools.redaction import register_secret

        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        register_secret(password)
        auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        register_secret(auth.split()[1])
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), auth


def normalize_url(url: str) -> str:
    """``url`` without a trailing slash or credentials; raises ``ValueError`` unless it is an ``http(s)://`` URL."""
    return split_credentials(url)[0]


def api_key_from_env(name: str | None = None) -> str | None:
    """The API key from ``$name`` (default ``HF_TOKEN``), registered for redaction; ``None`` when unset or empty."""
    from hub_tools.redaction import register_secret

    key = os.environ.get(name or DEFAULT_API_KEY_ENV) or None
    if key:
        register_secret(key)
    return key


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

    ``post_many(path, bodies, max_new_tokens=...)`` (from any thread) sends a batch concurrently and returns, per
    body, the reply's JSON or the exception (:class:`RequestRejected` for a record, :class:`EndpointError` to stop).
    ``get(url)`` reads a probe. ``close()`` cancels what is in flight, closes the session and stops the loop; it is
    idempotent and also runs at interpreter exit, so no path leaves an unclosed session behind.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        api_key: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        request_timeout: float = REQUEST_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
        give_up_after: float = GIVE_UP_AFTER_S,
    ):
        if not urls:
            raise ValueError("at least one --endpoint URL is needed")
        if concurrency < 1:
            raise ValueError(f"--concurrency must be >= 1, not {concurrency}")
        if not request_timeout or request_timeout <= 0:
            raise ValueError(f"--request-timeout must be > 0 seconds, not {request_timeout}")
        parsed = [split_credentials(u) for u in urls]
        self.replicas = [_Replica(url) for url, _ in parsed]
        self._auth = {url: auth for url, auth in parsed if auth}
        self.concurrency = concurrency
        self.request_timeout = float(request_timeout)
        self.max_attempts = max_attempts
        self.give_up_after = give_up_after
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="endpoint-pool", daemon=True)
        self._thread.start()
        self._client = None
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        import atexit

        atexit.register(self.close)

    @property
    def size(self) -> int:
        """Requests the pool keeps in flight at most (replicas x concurrency)."""
        return len(self.replicas) * self.concurrency

    @property
    def urls(self) -> list[str]:
        """The replicas' base URLs (credentials removed)."""
        return [r.url for r in self.replicas]

    # -- lifecycle -------------------------------------------------------------------------------
    async def _setup(self) -> None:
        if self._client is None:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.size + 4, limit_per_host=0)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
            from hub_tools.synthesis.image_payload import dumps_request  # images spliced in, not escaped

            self._client = aiohttp.ClientSession(connector=connector, timeout=timeout, json_serialize=dumps_request)
            self._slots = asyncio.Semaphore(self.size)

    def _run(self, coro) -> Any:
        if self._closed:
            coro.close()
            raise EndpointUnavailable("the endpoint pool is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Cancel requests in flight, close the HTTP session and stop the background loop (idempotent)."""
        if self._closed:
            return
        self._closed = True

        async def shutdown():  # requests still in flight (a run that stops) end, so no caller waits forever
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._client is not None:
                await self._client.close()
                await asyncio.sleep(0)  # let the connector's transports close before the loop stops

        with contextlib.suppress(Exception):  # a loop already stopped: nothing left to close
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def headers_for(self, url: str) -> dict:
        """The request headers of replica ``url``: the bearer key, else the URL's own credentials (Basic)."""
        if self._headers:
            return self._headers
        auth = self._auth.get(url)
        return {"Authorization": auth} if auth else {}

    # -- probes ----------------------------------------------------------------------------------
    async def aget(self, url: str, timeout: float = PROBE_TIMEOUT_S) -> tuple[int, dict, bytes]:
        """``GET url`` (no redirects): ``(status, headers, body up to ERROR_BODY_CAP x 16)``; connection errors raise."""

        await self._setup()
        base = next((r.url for r in self.replicas if url.startswith(r.url)), url)
        async with asyncio.timeout(timeout):
            async with self._client.get(url, headers=self.headers_for(base), allow_redirects=False) as r:
                body = await self._read_capped(r, ERROR_BODY_CAP * 16)
                return r.status, dict(r.headers), body or b""

    def get(self, url: str, timeout: float = PROBE_TIMEOUT_S) -> tuple[int, dict, bytes]:
        """:meth:`aget` from a synchronous caller."""
        return self._run(self.aget(url, timeout))

    def post_one(self, url: str, path: str, body: dict, max_new_tokens: int, timeout: float = PROBE_TIMEOUT_S) -> Any:
        """One request to replica ``url`` only (the probe's one-token check), under ``timeout``."""
        rep = next(r for r in self.replicas if r.url == url)

        async def one():
            await self._setup()
            async with asyncio.timeout(timeout):
                return await self._attempt(rep, path, body, reply_byte_cap(max_new_tokens))

        return self._run(one())

    # -- requests --------------------------------------------------------------------------------
    @staticmethod
    async def _read_capped(response: Any, cap: int) -> bytes | None:
        """The body, or ``None`` once it passes ``cap`` bytes (reading stops there: memory stays flat)."""
        if response.content_length is not None and response.content_length > cap:
            return None
        data = bytearray()
        async for chunk in response.content.iter_any():
            data += chunk
            if len(data) > cap:
                return None
        return bytes(data)

    async def _pick(self, started: float) -> _Replica:
        """The live replica with the fewest requests in flight (waiting while none is live)."""
        while True:
            now = time.monotonic()
            live = [r for r in self.replicas if r.alive(now) and r.in_flight < self.concurrency]
            if live:
                rep = min(live, key=lambda r: r.in_flight)
                rep.in_flight += 1
                return rep
            if now - started > self.give_up_after:
                raise EndpointUnavailable(
                    f"no replica of {', '.join(self.urls)} answered for {self.give_up_after:.0f}s "
                    "(connection refused or reset); restart the servers and rerun the same command to resume"
                )
            wake = min((r.down_until for r in self.replicas if not r.alive(now)), default=now + 0.05)
            await asyncio.sleep(max(0.02, min(1.0, wake - now)))

    async def _attempt(self, rep: _Replica, path: str, body: dict, cap: int) -> Any:
        """One try on ``rep``: the completion JSON, or a :class:`RequestRejected` / :class:`EndpointError` raised, or
        ``("retry", wait, why)`` for a transient answer. Connection errors propagate (the caller benches ``rep``)."""
        url = rep.url + path
        async with self._client.post(url, json=body, headers=self.headers_for(rep.url), allow_redirects=False) as r:
            status, headers = r.status, r.headers
            kind = answer_class(status)
            if kind == "ok":
                data = await self._read_capped(r, cap)
                if data is None:
                    raise RequestRejected(
                        f"reply longer than max_new_tokens allows (over {cap} bytes); not kept", status, rep.url
                    )
            else:
                data = await self._read_capped(r, ERROR_BODY_CAP)
        if kind == "ok":
            try:
                reply = json.loads(data)
            except ValueError:
                reply, problem = None, f"the body is not JSON ({safe_reason(repr(data[:80]), 120)})"
            else:
                problem = check_completion(reply, path)
            if problem:
                raise EndpointMisconfigured(
                    f"{url} answered HTTP 200 but not with a completion: {problem}; "
                    "check that --endpoint is the model server's OpenAI-compatible /v1 base URL"
                )
            return reply
        reason = server_reason(data or b"") if data is not None else f"(an error body over {ERROR_BODY_CAP} bytes)"
        if 300 <= status < 400:
            location = safe_reason(headers.get("location", "(no Location header)"), 200)
            raise EndpointMisconfigured(
                f"{url} answered HTTP {status} redirecting to {location}; redirects are never followed: "
                "pass the final OpenAI-compatible base URL as --endpoint"
            )
        if kind == "endpoint":
            raise EndpointMisconfigured(f"{url} answered HTTP {status}: {reason}; {status_fix(status)}")
        if kind == "record":
            raise RequestRejected(f"the server refused the request (HTTP {status}): {reason}", status, rep.url)
        return ("retry", _retry_after(headers), f"HTTP {status}: {reason}")

    async def apost(self, path: str, body: dict, max_new_tokens: int) -> Any:
        """POST ``body`` to ``path`` on some replica under one overall deadline (:attr:`request_timeout`); the
        completion JSON, or :class:`RequestRejected` / :class:`EndpointError` raised (module doc)."""
        import aiohttp

        await self._setup()
        assert self._slots is not None
        cap = reply_byte_cap(max_new_tokens)
        last = "no answer yet"
        async with self._slots:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.request_timeout):
                    for attempt in range(self.max_attempts):
                        rep = await self._pick(started)
                        try:
                            outcome = await self._attempt(rep, path, body, cap)
                        except (aiohttp.ClientError, OSError) as err:  # refused, reset: another replica takes it
                            rep.failures += 1
                            rep.down_until = time.monotonic() + min(30.0, 0.5 * 2 ** min(rep.failures, 6))
                            last = f"{rep.url}: {type(err).__name__}: {safe_reason(str(err), 160)}"
                            continue
                        finally:
                            rep.in_flight -= 1
                        rep.failures = 0
                        if not (isinstance(outcome, tuple) and outcome[:1] == ("retry",)):
                            return outcome
                        _, wait, why = outcome
                        last = f"{rep.url}: {why}"
                        if wait is None:
                            wait = min(10.0, 0.25 * 2**attempt) * (0.5 + random.random())
                        await asyncio.sleep(wait)
            except TimeoutError:
                raise EndpointUnavailable(
                    f"no usable answer within --request-timeout {self.request_timeout:g}s from "
                    f"{', '.join(self.urls)} (last: {last}); check the servers, or raise --request-timeout, and "
                    "rerun the same command to resume"
                ) from None
        raise EndpointUnavailable(
            f"gave up after {self.max_attempts} tries (last: {last}); rerun the same command to resume"
        )

    def post_many(self, path: str, bodies: Sequence[dict], *, max_new_tokens: int) -> list[Any]:
        """Send ``bodies`` concurrently; per body its reply JSON or the exception it raised, in order."""

        async def many():
            return await asyncio.gather(*(self.apost(path, b, max_new_tokens) for b in bodies), return_exceptions=True)

        return self._run(many())
