"""Redaction: the one policy for what a message, log line, traceback, card or JSON file may show of a secret.

- :func:`redact_text` masks secrets in free text: values of secret-looking keys (:func:`is_secret_key`) in
  ``key: value`` / ``"key": "value"`` / ``key=value`` / ``--key value`` / ``--key=value`` / ``['--key', 'value']``
  form, then :func:`strip_credentials` (URL userinfo, the live ``HF_TOKEN``, ``hf_...`` tokens).
- :func:`redact_secrets` does the same over nested dicts and lists (a config about to be written or published).
- :func:`format_exception` is a traceback as text, redacted.
- :func:`install` makes every log record and every printed warning of the process pass :func:`redact_text`.

Standard library only: the CLI imports it at startup, and ``adamllm --help`` stays instant.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
import warnings
from typing import Any

REDACTED = "<redacted>"
_SECRET_WORDS = r"token|secret|password|passwd|api[_-]?key|authorization|credential"
_SECRET_WORD = re.compile(_SECRET_WORDS, re.IGNORECASE)
# "token" keys that are not secrets: counts (max_new_tokens), the tokenizer, special tokens and their ids.
_NOT_SECRET = re.compile(
    r"tokens|tokeni[sz]|token[_-]?(id|ids|index|type|types|count|len|length|limit)$"
    r"|^(pad|bos|eos|unk|sep|cls|mask|image|video|audio|boi|eoi|start|end)[_-]?token$",
    re.IGNORECASE,
)
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"<>]+@")
# `key: value`, `"key": "value"`, `key=value` (YAML, JSON, reprs, env files) and `--key value` / `--key=value`.
# Only keys holding a secret word match, so that `ValueError: hub_token: X` is not consumed as `ValueError: ...`.
_KEY_VALUE = re.compile(
    r"(?P<head>(?:^|(?<=[\s{,\[(]))[\"']?(?P<key>(?=[A-Za-z_])[\w.-]*?(?:" + _SECRET_WORDS + r")[\w.-]*)[\"']?"
    r"[ \t]*(?::(?=[ \t\"'])|=)[ \t]*)(?P<value>\"[^\"\n]*\"|'[^'\n]*'|(?:(?:Bearer|Basic)[ \t]+)?[^\s,#}\])'\"]+)",
    re.MULTILINE | re.IGNORECASE,
)
_CLI_OPTION = re.compile(r"(?P<head>--(?P<key>[A-Za-z][\w-]*)(?:=|[ \t]+))(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s-]\S*)")
# an argument list's repr, as argparse / HfArgumentParser / TrlParser quote unknown arguments: ['--token', 'hf_...']
_LISTED_OPTION = re.compile(
    r"(?P<head>(?P<q>['\"])--(?P<key>[A-Za-z][\w-]*)(?P=q),[ \t]*)(?P<value>\"(?!--)[^\"\n]*\"|'(?!--)[^'\n]*')"
)
_NOT_A_SECRET_VALUE = {"", "null", "none", "~", "true", "false", "yes", "no", '""', "''"}


def is_secret_key(key: Any) -> bool:
    """Whether a config key names a secret: ``*token*`` (not counts, the tokenizer or special tokens),
    ``*secret*``, ``*password*``, ``*api_key*``, ``authorization``, ``*credential*``; case-insensitive."""
    return isinstance(key, str) and bool(_SECRET_WORD.search(key)) and not _NOT_SECRET.search(key)


_AUTH_SCHEME = re.compile(r"\b(?P<scheme>Bearer|Basic|bearer|basic)[ \t]+(?P<value>[A-Za-z0-9._~+/=-]{6,})")
# a credential, not a word of prose ("Basic questions"): a digit, a symbol, or a capital after the first letter
_CREDENTIAL_SHAPE = re.compile(r"[0-9._~+/=-]|.[A-Z]")
_REGISTERED: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever text passes this module from now on (an API key read from a variable of the user's
    choosing, a URL's password); values shorter than 4 characters are not registered (they would mask words)."""
    if value and len(value.strip()) >= 4:
        _REGISTERED.add(value.strip())


def _live_tokens() -> list[str]:
    names = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
    live = {t for t in (os.environ.get(n, "").strip() for n in names) if len(t) >= 8} | _REGISTERED
    return sorted(live, key=len, reverse=True)


def strip_credentials(text: str) -> str:
    """``text`` with URL userinfo removed (``https://user:pw@host/x`` -> ``https://host/x``), ``Bearer`` / ``Basic``
    credentials, the live ``HF_TOKEN`` value, registered secrets (:func:`register_secret`) and anything shaped like a
    Hub token (``hf_`` + 30 or more letters/digits) masked."""
    text = _URL_USERINFO.sub(r"\g<scheme>", text)
    text = _AUTH_SCHEME.sub(
        lambda m: f"{m.group('scheme')} {REDACTED}" if _CREDENTIAL_SHAPE.search(m.group("value")) else m.group(0), text
    )
    for token in _live_tokens():
        text = text.replace(token, REDACTED)
    return _HF_TOKEN.sub(REDACTED, text)


def _mask(match: re.Match) -> str:
    value = match.group("value")
    if not is_secret_key(match.group("key")) or value.strip("\"'").lower() in _NOT_A_SECRET_VALUE:
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') and value[-1:] == value[0] and len(value) > 1 else ""
    return f"{match.group('head')}{quote}{REDACTED}{quote}"


def redact_text(text: str) -> str:
    """Mask secrets in free text (a recipe YAML, a JSON dump, an argument list, an error message, a log line).

    Values of secret-looking keys (:func:`is_secret_key`) in ``key: value`` / ``"key": "value"`` / ``key=value`` /
    ``--key value`` / ``['--key', 'value']`` form become ``<redacted>``, then :func:`strip_credentials` runs over
    the whole text.
    """
    if not text:
        return text
    text = _KEY_VALUE.sub(_mask, text)
    text = _CLI_OPTION.sub(_mask, text)
    text = _LISTED_OPTION.sub(_mask, text)
    return strip_credentials(text)


def redact_secrets(value: Any) -> Any:
    """Return ``value`` (nested dicts/lists/strings) with secrets masked (what a card, JSON file or log may show).

    Values under secret-looking keys (:func:`is_secret_key`; booleans and empty values kept) become
    ``<redacted>``; every string goes through :func:`redact_text` (secret ``key: value`` pairs inside text,
    URL credentials, the live ``HF_TOKEN``, ``hf_...`` tokens).
    """
    if isinstance(value, dict):
        return {
            k: REDACTED if is_secret_key(k) and v not in (None, "") and not isinstance(v, bool) else redact_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_secrets(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def format_exception(err: BaseException) -> str:
    """``err``'s full traceback (chained exceptions included) as Python prints it, passed through :func:`redact_text`."""
    return redact_text("".join(traceback.format_exception(type(err), err, err.__traceback__)))


def _redact_record(record: logging.LogRecord) -> None:
    # Render the message now, so that whichever handler or formatter emits the record only sees redacted text.
    try:
        message = record.getMessage()
    except Exception:  # a malformed logging call: keep what it holds, redacted
        message = f"{record.msg} (arguments: {record.args!r})"
    record.msg, record.args = redact_text(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)


_installed = False


def install() -> None:
    """Make every log record, printed warning and uncaught traceback of this process pass :func:`redact_text`.

    A record factory rather than a filter on some handlers: the handlers that transformers, datasets and
    accelerate add to their own loggers are covered too. Idempotent; called by the CLI and the recipe's entries.
    """
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(redacting_record)
    format_warning = warnings.formatwarning
    warnings.formatwarning = lambda *args, **kwargs: redact_text(format_warning(*args, **kwargs))
    if sys.excepthook is sys.__excepthook__:  # leave a debugger's or IDE's hook alone
        sys.excepthook = lambda kind, err, tb: sys.stderr.write(format_exception(err))
