"""Errors a user can fix, worded for one line: a model or dataset that cannot be loaded names its id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hub_tools.redaction import redact_text


class BadInput(ValueError):
    """A record that cannot be used; ``reason`` says why (it is stored with the rejection)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ModelLoadError(OSError):
    """A model, processor or tokenizer that ``from_pretrained`` could not load; the message names the id."""


@contextmanager
def loading(what: str, model_id: str) -> Iterator[None]:
    """Turn an ``OSError`` / ``ValueError`` raised while loading ``model_id`` into a :class:`ModelLoadError`.

    transformers explains a misspelt, gated or unreachable id in a long message whose first line often
    omits the id; the one line here says which ``what`` (e.g. "synthesizer") and which id failed, redacted
    (:func:`hub_tools.redaction.redact_text`).
    """
    try:
        yield
    except ModelLoadError:
        raise
    except (OSError, ValueError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = lines[0] if lines else type(err).__name__
        message = f"cannot load the {what} {str(model_id)!r}: {reason}"
        raise ModelLoadError(redact_text(message)) from err  # a credentialed URL as the id is echoed back


def describe_exception(err: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception, shortened and safe to write as UTF-8 (no lone surrogates)."""
    text = f"{type(err).__name__}: {err}".encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."
