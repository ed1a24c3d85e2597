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


OVERWRITE_FIX = "rerun with --overwrite to start over"
"""The fix every settings-mismatch or changed-input refusal names (:class:`ConfigMismatch`)."""


class ConfigMismatch(RuntimeError):
    """RUN_DIR holds a stage's results made with other settings or from another input (``--overwrite`` starts
    over). The CLI prints it in one line and exits 2, for every stage."""


def settings_mismatch(run_dir: object, stage: str, diffs: dict[str, tuple[object, object]]) -> ConfigMismatch:
    """The one refusal of a resume whose settings differ: ``diffs`` maps a setting to (run's value, command's)."""
    parts = "; ".join(f"{key}: run has {old!r}, this command has {new!r}" for key, (old, new) in diffs.items())
    return ConfigMismatch(
        f"{run_dir} already holds {'an' if stage[:1] in 'aeiou' else 'a'} {stage} run with different settings ({parts}); "
        f"resume with the same settings, or {OVERWRITE_FIX}"
    )


class UsageError(ValueError):
    """A mistake in how a command was called (a recipe's unknown key, broken YAML): one line, exit 2."""


class ModelLoadError(OSError):
    """A model, processor or tokenizer that ``from_pretrained`` could not load; the message names the id."""


class ModelNotFound(ModelLoadError):
    """A model folder or Hub id that does not exist (found before loading); the message is complete as it is."""


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
