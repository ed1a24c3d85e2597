"""Opening a served model: :func:`open_pool`, the one way the three served clients (synthesizer, checker, model under
evaluation) connect, probe and later close their endpoints.

Before the first record, every ``--endpoint`` is probed with ``GET {base}/models`` (:func:`probe_replica`); any
answer that is not a model list serving the model stops the run in one line with its fix (the endpoint rows of
:data:`~hub_tools.synthesis.endpoint_client.ANSWER_TABLE`), so a mistaken URL, key or model name never reaches a
record. A server that lists only some of its models (``transformers serve`` lists its Hub cache, not a folder it was
started with) is asked for one token of the model instead: a refusal there names what the server said.
"""

from __future__ import annotations

import json
from typing import Any

from hub_tools.synthesis.endpoint_client import (
    DEFAULT_API_KEY_ENV,
    EndpointMisconfigured,
    EndpointPool,
    EndpointUnavailable,
    RequestRejected,
    answer_class,
    api_key_from_env,
    safe_reason,
    server_reason,
)

SERVER_KINDS = ("auto", "transformers", "vllm")
"""``--server`` values: ``auto`` reads the probe's model list (vLLM says ``owned_by: vllm``), else ``transformers``."""


def _key_line(api_key_env: str | None) -> str:
    import os

    name = api_key_env or DEFAULT_API_KEY_ENV
    state = "is set" if os.environ.get(name) else "is not set"
    return f"the key is read from ${name}, which {state}; export the server's key there or name its variable with --api-key-env"


def probe_replica(pool: EndpointPool, url: str, model: str, api_key_env: str | None, probe_path: str) -> str:
    """Check that ``url`` is an OpenAI-compatible base URL serving ``model``; returns the server kind
    (``vllm`` / ``transformers``). Raises :class:`EndpointMisconfigured` (or :class:`EndpointUnavailable`) in one
    line naming the URL, what came back and the fix."""
    import aiohttp

    models_url = url + "/models"
    try:
        status, headers, body = pool.get(models_url)
    except (aiohttp.ClientError, OSError, TimeoutError) as err:
        why = (
            "no answer in time"
            if isinstance(err, TimeoutError)
            else f"{type(err).__name__}: {safe_reason(str(err), 160)}"
        )
        raise EndpointUnavailable(
            f"no server answers at {url} ({why}); start it, or fix --endpoint (e.g. http://host:8000/v1)"
        ) from None
    if 300 <= status < 400:
        location = safe_reason(headers.get("Location", headers.get("location", "(no Location header)")), 200)
        raise EndpointMisconfigured(
            f"{models_url} answered HTTP {status} redirecting to {location}; redirects are never followed: pass the "
            "final OpenAI-compatible base URL as --endpoint"
        )
    if status in (401, 403, 407):
        raise EndpointMisconfigured(
            f"{url} refused the API key (HTTP {status}: {server_reason(body)}); {_key_line(api_key_env)}"
        )
    if status in (404, 405) and not url.endswith("/v1"):
        try:
            retry_status, _, _ = pool.get(url + "/v1/models")
        except (aiohttp.ClientError, OSError, TimeoutError):
            retry_status = 0
        if retry_status == 200:
            raise EndpointMisconfigured(f"{models_url} answered HTTP {status}; did you mean --endpoint {url}/v1 ?")
    if status != 200:
        hint = {
            "transient": "the server cannot list its models now (transformers serve answers 500 here when the "
            "Hugging Face cache folder is missing: create it with mkdir -p ~/.cache/huggingface/hub)",
            "record": "pass the server's OpenAI-compatible base URL, ending in /v1",
        }.get(answer_class(status), "pass the server's OpenAI-compatible base URL, ending in /v1")
        raise EndpointMisconfigured(f"{models_url} answered HTTP {status} ({server_reason(body)}); {hint}")
    try:
        listing = json.loads(body)
        entries = [m for m in listing.get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError, TypeError):
        raise EndpointMisconfigured(
            f"{models_url} answered HTTP 200 without a model list ({safe_reason(repr(body[:80]), 120)}); pass the "
            "model server's OpenAI-compatible /v1 base URL"
        ) from None
    names = [str(m.get("id")) for m in entries]
    kind = "vllm" if any(str(m.get("owned_by", "")).lower() == "vllm" for m in entries) else "transformers"
    if model in names:
        return kind
    # Not listed: some servers list only part of what they serve. One token of the model decides.
    if probe_path == "/completions":
        body_json: dict[str, Any] = {"model": model, "prompt": "Hello", "max_tokens": 1}
    else:
        body_json = {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 1}
    if kind != "vllm":
        body_json["generation_config"] = json.dumps({"max_new_tokens": 1, "do_sample": False})
    listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "") or "none"
    try:
        pool.post_one(url, probe_path, body_json, max_new_tokens=1)
    except RequestRejected as err:
        raise EndpointMisconfigured(
            f"{url} does not serve the model {model!r} ({err.reason}); it lists: {listed}. Pass the served name "
            "as the model, or serve that model"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as err:
        raise EndpointUnavailable(
            f"{url} did not answer a one-token request for {model!r} ({type(err).__name__}); it lists: {listed}"
        ) from None
    return kind


def open_pool(
    urls: list[str],
    model: str,
    *,
    api_key_env: str | None = None,
    concurrency: int | None = None,
    request_timeout: float | None = None,
    server: str = "auto",
    probe_path: str = "/chat/completions",
) -> EndpointPool:
    """An :class:`EndpointPool` over ``urls`` (key from ``$api_key_env``), every URL probed for ``model``
    (:func:`probe_replica`); ``pool.server`` is the server kind (``server`` unless ``auto``). Closed again when the
    probe fails, so a refused run leaves no open session behind."""
    from hub_tools.synthesis.endpoint_client import DEFAULT_CONCURRENCY, REQUEST_TIMEOUT_S

    if server not in SERVER_KINDS:
        raise ValueError(f"--server must be one of {', '.join(SERVER_KINDS)}, not {server!r}")
    pool = EndpointPool(
        urls,
        api_key=api_key_from_env(api_key_env),
        concurrency=concurrency or DEFAULT_CONCURRENCY,
        request_timeout=request_timeout or REQUEST_TIMEOUT_S,
    )
    try:
        kinds = [probe_replica(pool, url, model, api_key_env, probe_path) for url in pool.urls]
    except BaseException:
        pool.close()
        raise
    pool.server = kinds[0] if server == "auto" else server
    return pool
