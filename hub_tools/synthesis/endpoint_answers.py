"""Every answer an OpenAI-compatible server can give, and what a run does with it: the one policy of the served road.

:data:`ANSWER_TABLE` (rendered in ``docs/served.md``) sorts answers in three classes: *about the endpoint*
(:class:`EndpointMisconfigured` / :class:`EndpointUnavailable`: the run stops, no record is marked), *transient*
(retried inside one deadline per request by :class:`~hub_tools.synthesis.endpoint_client.EndpointPool`) and *about
the record* (:class:`RequestRejected`: that record is rejected with the server's reason, redacted by
:func:`safe_reason`). :class:`RefusalGuard` turns a run of refusals from one endpoint into a stop. Standard library
only (the runners import it at module level).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hub_tools.errors import BadInput

BYTES_PER_TOKEN = 32
"""Reply bytes allowed per new token: a long special token (19 bytes) or a JSON-escaped character fits."""
REPLY_HEADROOM = 64 * 1024
"""Reply bytes allowed on top (the JSON envelope: ids, usage, a server's extra fields)."""
ERROR_BODY_CAP = 64 * 1024
"""Bytes read of an error reply (its reason is cut far shorter)."""
REASON_LIMIT = 300
"""Characters kept of a server's reason."""
REFUSAL_RUN = 8
"""Refusals in a row with one status from one endpoint that stop the run (:class:`RefusalGuard`)."""
TRANSIENT_STATUS = frozenset({408, 425, 429})
"""Retried, as is every 5xx."""
ENDPOINT_STATUS = frozenset({401, 402, 403, 404, 405, 407, 410, 421, 426, 431})
"""4xx answers about the endpoint (its address, method, key or protocol), not about one request."""
COMPLETION_OBJECTS = {"/chat/completions": "chat.completion", "/completions": "text_completion"}

ANSWER_TABLE: tuple[tuple[str, str, str], ...] = (
    ("probe: connection refused, DNS failure, no answer", "endpoint", "stop before any record: start the server"),
    ("probe: `GET /models` 404 where `<URL>/v1/models` answers", "endpoint", "stop: `did you mean <URL>/v1`"),
    ("probe: 401 / 403", "endpoint", "stop: one line about the key variable (`--api-key-env`)"),
    ("probe: the model is neither listed nor accepted", "endpoint", "stop: the names the server lists"),
    ("probe: `GET /models` 5xx", "endpoint", "stop: name the status (transformers serve: a missing Hub cache)"),
    ("401, 402, 403, 404, 405, 407, 410, 421, 426, 431", "endpoint", "stop, exit 1, one line, nothing marked"),
    ("any 3xx (never followed)", "endpoint", "stop: name the `Location`; pass the final URL"),
    ("200 whose body is not JSON, has no `choices`, `choices: []`, or a wrong `object`", "endpoint", "stop"),
    ("any other 1xx / 2xx", "endpoint", "stop"),
    ("408, 425, 429, any 5xx", "transient", "retry with backoff, `Retry-After` honoured, within the deadline"),
    ("connection reset / refused mid-run", "transient", "the replica is benched; another one takes the request"),
    ("no usable answer within `--request-timeout` (drip, hang)", "endpoint", "stop: name the deadline"),
    ("400, 413, 422 and any other 4xx", "record", "reject this record with the server's reason (redacted)"),
    ("a reply longer than `max_new_tokens` allows", "record", "reject this record; the reply is not kept"),
    (f"{REFUSAL_RUN} refusals in a row, one status, one endpoint", "endpoint", "stop; the held refusals are unmarked"),
)
"""Every answer a server can give: ``(answer, class, what the run does)``; rendered in ``docs/served.md``."""


class EndpointError(RuntimeError):
    """An answer about the endpoint: the run stops (one line) and no record is marked; a rerun resumes them."""


class EndpointMisconfigured(EndpointError):
    """The endpoint answered in a way no retry fixes (wrong URL, key, model, a redirect, not a completion)."""


class EndpointUnavailable(EndpointError):
    """No usable answer within the deadline (transient answers, a dead or hung server)."""


class RequestRejected(BadInput):
    """The server refused this one request; ``reason`` quotes the server (redacted), ``status`` / ``url`` say who."""

    def __init__(self, reason: str, status: int = 0, url: str = ""):
        super().__init__(reason)
        self.status = status
        self.url = url


def reply_byte_cap(max_new_tokens: int) -> int:
    """Bytes a reply with at most ``max_new_tokens`` new tokens may take (:data:`BYTES_PER_TOKEN` each, plus
    :data:`REPLY_HEADROOM`)."""
    return BYTES_PER_TOKEN * max(1, int(max_new_tokens)) + REPLY_HEADROOM


def safe_reason(text: str, limit: int = REASON_LIMIT) -> str:
    """A server's text fit to print or store: redacted (:func:`hub_tools.redaction.redact_text`: keys, bearer and
    basic credentials, URL userinfo, the live keys), on one line, cut to ``limit`` characters."""
    from hub_tools.redaction import redact_text

    text = redact_text(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def server_reason(body: bytes | str) -> str:
    """The server's own explanation in an error reply's body (``detail`` / ``error.message`` / ``message``), safe."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
        detail = data.get("detail") or data.get("error") or data.get("message") or data
        if isinstance(detail, dict):
            detail = detail.get("message") or detail
        text = str(detail)
    except Exception:
        pass
    return safe_reason(text)


def answer_class(status: int) -> str:
    """The class of an HTTP status: ``"ok"`` (200), ``"transient"``, ``"record"`` or ``"endpoint"``."""
    if status == 200:
        return "ok"
    if status in TRANSIENT_STATUS or 500 <= status < 600:
        return "transient"
    if 400 <= status < 500 and status not in ENDPOINT_STATUS:
        return "record"
    return "endpoint"


def status_fix(status: int) -> str:
    """The fix an endpoint-class status names."""
    if status in (401, 403, 407):
        return "check the API key (the variable --api-key-env names; default HF_TOKEN) and its access"
    if status in (404, 405):
        return "pass the server's OpenAI-compatible base URL, ending in /v1 (e.g. http://host:8000/v1)"
    return "check the --endpoint URL and the server"


def check_completion(data: Any, path: str) -> str | None:
    """Why ``data`` (a 200 reply's JSON) is not a completion of ``path``; ``None`` when it is one."""
    if not isinstance(data, dict):
        return f"the body is a JSON {type(data).__name__}, not a completion"
    want = COMPLETION_OBJECTS.get(path)
    if want and "object" in data and data["object"] != want:
        return f"the body's object is {str(data['object'])[:40]!r}, not {want!r}"
    choices = data.get("choices")
    if not isinstance(choices, list):
        return "the body has no 'choices'"
    if not choices or not isinstance(choices[0], dict):
        return "the body's 'choices' is empty"
    return None


def raise_endpoint_errors(results: Sequence[Any]) -> None:
    """Raise the first :class:`EndpointError` (or unexpected exception) among a batch's results; the run stops
    before any record of the batch is written."""
    for result in results:
        if isinstance(result, EndpointError) or (
            isinstance(result, BaseException) and not isinstance(result, RequestRejected)
        ):
            raise result


class RefusalGuard:
    """Holds records a server refused until a later answer shows the endpoint works (then they are written), and
    stops the run (:class:`EndpointMisconfigured`) when :data:`REFUSAL_RUN` refusals in a row share one status and
    one endpoint: that is the endpoint's fault, and the held records stay unmarked for a rerun.

    ``hold(item, err)`` may raise; ``release()`` returns the held items (after a success, or at the end).
    """

    def __init__(self, limit: int = REFUSAL_RUN):
        self.limit = limit
        self.held: list[tuple[Any, RequestRejected]] = []

    def hold(self, item: Any, err: RequestRejected) -> None:
        """Hold ``item``, refused with ``err``; raise when the refusals in a row reach the limit."""
        self.held.append((item, err))
        tail = self.held[-self.limit :]
        if len(tail) >= self.limit and len({(e.url, e.status) for _, e in tail}) == 1:
            raise EndpointMisconfigured(
                f"{err.url} refused {len(tail)} requests in a row the same way ({err.reason}); that is the "
                "endpoint's answer, not the records': nothing was marked; fix the server or the request settings "
                "and rerun the same command"
            )

    def release(self) -> list[Any]:
        """The held items, to be written now (the guard is emptied)."""
        items = [item for item, _ in self.held]
        self.held.clear()
        return items
