"""The logic behind the Gradio synthesizer demo (``spaces/synthesizer/app.py``, ``adamllm demo``).

One image + caption goes through the pipeline's three stages as ``adamllm pipeline`` runs them: synthesize
(greedy, :func:`hub_tools.synthesis.parse_triplets`), filter (the first ``n_tasks`` triplets; keep ``Yes``)
and compose (caption turn + kept task turns, seeded order). ``n_tasks=1`` is the released protocol and gives
the row ``adamllm compose`` writes. Models come from ``ADAMLLM_SYNTHESIZER`` / ``ADAMLLM_CHECKER``, else the
released ones online or the offline tiny ones (labelled a smoke test). This module never builds tiny models
or draws examples: its caller passes the tiny-model builder (``prepare``) and the example pairs in.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.defaults import DEFAULT_CHECKER, DEFAULT_SYNTHESIZER, TINY_CACHE_ENV, default_tiny_cache_dir
from hub_tools.redaction import strip_credentials

SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = MAX_IMAGE_BYTES + 64 * 1024
"""The largest request body the demo server reads: one image of :data:`MAX_IMAGE_BYTES` plus multipart framing."""
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_CAPTION_CHARS = 2000
MAX_TASKS = 5
DEFAULT_MAX_NEW_TOKENS = 512
MAX_NEW_TOKENS_LIMIT = 1024
CHECKERS = ("LLM", "lexical")
LEXICAL = "lexical"
"""``ADAMLLM_CHECKER=lexical``: no LLM checker; the demo judges with the offline word-overlap heuristic."""
TRIPLET_HEADERS = ["instruction", "informative", "precise", "verdict", "P(Yes)", "P(No)", "P(Open)"]
NO_TRIPLET_MESSAGE = "No complete task triplet in the generation"
DEMO_SEED = 0


class InputError(ValueError):
    """A demo input that cannot be used; the message is shown to the user as is."""


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


def check_image(path: str | os.PathLike | None, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS):
    """Open the image at ``path`` as an RGB PIL image or raise :class:`InputError` saying what is wrong.

    Rejects: no image, a missing or empty file, a file over ``max_bytes``, a file that is not an image
    or is in a format outside :data:`SUPPORTED_FORMATS`, more than ``max_pixels`` pixels, and truncated
    or corrupt images.
    """
    from PIL import Image, UnidentifiedImageError

    from hub_tools.data import BadInput, load_image
    from hub_tools.synthesis.image_payload import attach_source

    if path is None or (isinstance(path, str) and not path.strip()):
        raise InputError("Please upload an image or pick one of the examples.")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"The image file {path.name!r} could not be found; please upload it again.")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"The image file {path.name!r} is empty.")
    if size > max_bytes:
        raise InputError(f"The image file is too large ({_mb(size)}); the limit is {_mb(max_bytes)}.")
    try:
        with Image.open(path) as probe:
            fmt, (width, height) = probe.format, probe.size
    except Image.DecompressionBombError:
        raise InputError(f"The image has too many pixels; the limit is {max_pixels:,}.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError(
            f"Unsupported file {path.name!r}: it is not an image this demo can read "
            f"(supported: {', '.join(SUPPORTED_FORMATS)})."
        ) from None
    if fmt not in SUPPORTED_FORMATS:
        raise InputError(
            f"Unsupported image format {fmt or 'unknown'} ({path.name!r}); supported: {', '.join(SUPPORTED_FORMATS)}."
        )
    if width * height > max_pixels:
        raise InputError(
            f"The image is too large: {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}."
        )
    try:
        return attach_source(load_image(path, max_pixels=max_pixels), path)  # a served synthesizer gets its bytes
    except BadInput as err:
        raise InputError(f"The image cannot be used: {err.reason}.") from None


def check_caption(caption: Any, max_chars: int = MAX_CAPTION_CHARS) -> str:
    """Return the stripped caption or raise :class:`InputError` (missing, empty, over ``max_chars`` or holding a
    chat special token: :func:`hub_tools.data.check_chat_tokens`)."""
    from hub_tools.data import BadInput, check_chat_tokens

    if caption is None or not isinstance(caption, str) or not caption.strip():
        raise InputError("Please enter a caption for the image.")
    caption = caption.strip()
    if len(caption) > max_chars:
        raise InputError(f"The caption is too long ({len(caption):,} characters); the limit is {max_chars:,}.")
    try:
        check_chat_tokens(caption)
    except BadInput as err:
        raise InputError(f"The caption cannot be used: {err.reason}.") from None
    return caption


def check_settings(n_tasks: Any, max_new_tokens: Any, checker: Any) -> tuple[int, int, str]:
    """Validate the numeric and choice settings; raise :class:`InputError` naming the bad one."""
    try:
        n = int(n_tasks)
        tokens = int(max_new_tokens)
    except (TypeError, ValueError):
        raise InputError("The number of tasks and max new tokens must be whole numbers.") from None
    if not 1 <= n <= MAX_TASKS:
        raise InputError(f"The number of tasks to keep must be between 1 and {MAX_TASKS}.")
    if not 1 <= tokens <= MAX_NEW_TOKENS_LIMIT:
        raise InputError(f"Max new tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}.")
    if checker not in CHECKERS:
        raise InputError(f"Unknown checker {checker!r}; choose one of {', '.join(CHECKERS)}.")
    return n, tokens, checker


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Models:
    """Which synthesizer and checker the demo uses and why; ``smoke_test`` when either is a tiny model."""

    synthesizer: str
    checker: str
    smoke_test: bool
    reason: str


def is_tiny(model: str) -> bool:
    """Whether ``model`` is a tiny offline model folder (built by :mod:`hub_tools.miniature.tiny_models`, stamped ``tiny.json``)."""
    return (Path(model) / "tiny.json").is_file()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def choose_models(env: dict | None = None, gpu: bool | None = None) -> Models:
    """Pick the models from ``env`` (default ``os.environ``) without loading anything.

    ``ADAMLLM_SYNTHESIZER`` / ``ADAMLLM_CHECKER`` win when set. Otherwise: the released models when a
    GPU is available (``gpu``, default ``torch.cuda.is_available()``) and the Hub is reachable
    (``HF_HUB_OFFLINE`` unset); else the briefly tuned tiny ``synthesizer`` and ``checker`` in
    ``ADAMLLM_TINY_CACHE`` or :func:`hub_tools.defaults.default_tiny_cache_dir` (built on first use by the
    caller's ``prepare``).
    """
    env = os.environ if env is None else env
    offline = _truthy(env.get("HF_HUB_OFFLINE"))
    if gpu is None:
        import torch

        gpu = torch.cuda.is_available()
    released = gpu and not offline
    tiny_dir = Path(env[TINY_CACHE_ENV]) if env.get(TINY_CACHE_ENV) else default_tiny_cache_dir()
    if released:
        why = "a GPU is available and the Hub is reachable"
    else:
        why = "offline (HF_HUB_OFFLINE=1)" if offline else "no GPU available"
    synthesizer = env.get("ADAMLLM_SYNTHESIZER") or (
        DEFAULT_SYNTHESIZER if released else str(tiny_dir / "synthesizer")
    )
    checker = env.get("ADAMLLM_CHECKER") or (DEFAULT_CHECKER if released else str(tiny_dir / "checker"))
    if checker.strip().lower() == LEXICAL:
        checker = LEXICAL
    defaults = [k for k in ("ADAMLLM_SYNTHESIZER", "ADAMLLM_CHECKER") if not env.get(k)]
    reason = (
        "set by ADAMLLM_SYNTHESIZER / ADAMLLM_CHECKER" if not defaults else f"{' and '.join(defaults)} unset; {why}"
    )
    tiny_default = not released and bool(defaults)
    smoke = tiny_default or is_tiny(synthesizer) or (checker != LEXICAL and is_tiny(checker))
    return Models(synthesizer, checker, smoke, reason)


def default_checker_choice(models: Models) -> str:
    """The UI's default checker: ``"lexical"`` when ``ADAMLLM_CHECKER=lexical`` configures it, else ``"LLM"``."""
    return LEXICAL if models.checker == LEXICAL else "LLM"


def resolve_checker(choice: str, models: Models) -> tuple[str, str | None]:
    """The checker a run uses for the UI ``choice``, and a note for the summary when it is not the one chosen.

    With ``ADAMLLM_CHECKER=lexical`` no LLM checker is configured, so ``"LLM"`` falls back to the lexical
    checker (the note says so) instead of loading a model nobody named (which may be gated or unreachable).
    """
    if choice == "LLM" and models.checker == LEXICAL:
        return LEXICAL, (
            "**Checker:** no LLM checker is configured (`ADAMLLM_CHECKER=lexical`), so the lexical checker "
            "judged the triplets. Set `ADAMLLM_CHECKER` to a causal LM (e.g. "
            f"`{DEFAULT_CHECKER}`) to use the LLM checker."
        )
    return choice, None


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _load_synthesizer(model: str):
    from hub_tools.synthesis import TransformersEngine
    from hub_tools.synthesis.served import served_synthesizer_from_env

    served = served_synthesizer_from_env(model, DEFAULT_MAX_NEW_TOKENS)  # $ADAMLLM_SYNTHESIZER_ENDPOINT: no weights
    return served or TransformersEngine(model, batch_size=1, max_new_tokens=DEFAULT_MAX_NEW_TOKENS)


@functools.lru_cache(maxsize=2)
def _load_llm_checker(model: str):
    from hub_tools.filtering import LLMChecker

    return LLMChecker(model)


def load_synthesizer(model: str, prepare: Callable[[str], None] | None = None):
    """The synthesizer engine for ``model``, loaded once (thread-safe) and cached.

    ``prepare(model)`` runs first (under the lock) when given, e.g. to build a tiny model not built yet.
    """
    with _LOAD_LOCK:
        if prepare is not None:
            prepare(model)
        return _load_synthesizer(model)


def load_checker(kind: str, model: str, prepare: Callable[[str], None] | None = None):
    """The checker: ``"lexical"`` -> the heuristic; ``"LLM"`` -> :class:`LLMChecker` of ``model`` (cached).

    ``prepare(model)`` runs before an LLM checker is returned, as in :func:`load_synthesizer`. A ``model`` of
    ``"lexical"`` (``ADAMLLM_CHECKER=lexical``) names no LLM: the heuristic is returned for either kind.
    """
    if kind == LEXICAL or model == LEXICAL:
        from hub_tools.filtering import LexicalChecker

        return LexicalChecker()
    with _LOAD_LOCK:
        if prepare is not None:
            prepare(model)
        return _load_llm_checker(model)


# ---------------------------------------------------------------------------------------------
# the three stages for one pair
# ---------------------------------------------------------------------------------------------
def synthesize_one(engine, image, caption: str, max_new_tokens: int) -> tuple[str, list]:
    """Raw generation and parsed triplets for one pair with ``engine`` (a :class:`TransformersEngine`)."""
    from hub_tools.synthesis import parse_triplets

    engine.max_new_tokens = int(max_new_tokens)
    generation = engine.generate([(image, caption, None)])[0]
    return generation, parse_triplets(generation, turn_format=engine.turn_format)


def judge_triplets(checker, triplets: Sequence) -> list[dict]:
    """Verdicts ``{"label", "probs"}`` of ``checker`` for ``triplets`` (objects or dicts), in order."""
    from hub_tools.filtering import Item

    items = [Item(**_triplet_dict(t)) for t in triplets]
    return checker.judge(items) if items else []


def _triplet_dict(t: Any) -> dict:
    if isinstance(t, dict):
        return {"question": t["question"], "informative": t["informative"], "precise": t["precise"]}
    return {"question": t.question, "informative": t.informative, "precise": t.precise}


def example_id(image, caption: str) -> str:
    """A stable id for a demo pair: a hash of the RGB pixels and the caption."""
    from hub_tools.data import make_id

    digest = hashlib.sha1()
    digest.update(f"{image.size}".encode())
    digest.update(image.tobytes())
    digest.update(caption.encode())
    return make_id("demo", digest.hexdigest()[:16])


def compose_example(pid: str, caption: str, kept: Sequence, seed: int = DEMO_SEED) -> dict:
    """One single-stage training row (TRL conversational vision format) for the pair.

    The per-example rng draws the caption position first, then one template per kept task (the same
    draws, in the same order, as :func:`hub_tools.compose.compose_rows`, so one kept task gives the
    pipeline's row). No kept task -> the caption turn alone (``kind="caption_only"``).
    """
    from hub_tools.compose import compose_task, example_rng
    from hub_tools.defaults import CAPTION_PROMPT

    rng = example_rng(seed, pid)
    caption_first = rng.random() < 0.5
    cap = _turns(CAPTION_PROMPT, caption)
    tasks: list[dict] = []
    for t in kept:
        d = _triplet_dict(t)
        turn = compose_task(d["question"], d["informative"], d["precise"], rng)
        tasks += _turns(turn.user, turn.assistant)
    messages = (cap + tasks if caption_first else tasks + cap) if tasks else cap
    messages[0]["content"] = [{"type": "image"}, *messages[0]["content"]]
    return {
        "id": pid,
        "kind": "caption+task" if tasks else "caption_only",
        "caption_turn": 0 if caption_first or not tasks else len(tasks) // 2,
        "images": [f"images/{pid}.png"],
        "messages": messages,
    }


def _turns(user: str, assistant: str) -> list[dict]:
    return [
        {"role": "user", "content": [{"type": "text", "text": user}]},
        {"role": "assistant", "content": [{"type": "text", "text": assistant}]},
    ]


@dataclass
class DemoResult:
    """Everything one demo run produced."""

    example_id: str
    generation: str
    triplets: list  # every complete triplet parsed from the generation
    verdicts: list[dict]  # verdicts of the first n_tasks triplets, in order
    kept: list  # judged Yes
    example: dict
    checker: str
    n_tasks: int
    notes: list[str] = field(default_factory=list)


def run_pair(
    image,
    caption: str,
    n_tasks: int,
    generate: Callable[[Any, str], tuple[str, list]],
    judge: Callable[[list], list[dict]],
    checker_name: str,
    seed: int = DEMO_SEED,
) -> DemoResult:
    """Synthesize, judge the first ``n_tasks`` triplets, keep the ``Yes`` ones and compose the example.

    ``generate(image, caption) -> (generation, triplets)`` and ``judge(triplets) -> verdicts`` are the
    model calls (see :func:`synthesize_one`, :func:`judge_triplets`).
    """
    pid = example_id(image, caption)
    generation, triplets = generate(image, caption)
    judged = list(triplets[:n_tasks])
    verdicts = judge(judged) if judged else []
    if len(verdicts) != len(judged):
        raise RuntimeError(f"the checker returned {len(verdicts)} verdicts for {len(judged)} triplets")
    kept = [t for t, v in zip(judged, verdicts) if v["label"] == "Yes"]
    example = compose_example(pid, caption, kept, seed=seed)
    return DemoResult(pid, generation, list(triplets), verdicts, kept, example, checker_name, n_tasks)


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------
def _prob(verdict: dict, label: str) -> float | None:
    probs = verdict.get("probs")
    return round(float(probs[label]), 3) if probs else None


def triplet_rows(result: DemoResult) -> list[list]:
    """Table rows (see :data:`TRIPLET_HEADERS`) of the judged triplets; probabilities ``None`` for lexical."""
    rows = []
    for t, v in zip(result.triplets, result.verdicts):
        d = _triplet_dict(t)
        rows.append(
            [d["question"], d["informative"], d["precise"], v["label"]] + [_prob(v, k) for k in ("Yes", "No", "Open")]
        )
    return rows


def chat_messages(example: dict, image_path: str | None) -> list[dict]:
    """The example's messages for ``gr.Chatbot`` (messages format): the image part becomes ``{"path": ...}``."""
    out = []
    for msg in example["messages"]:
        parts: list[Any] = []
        for part in msg["content"]:
            if part["type"] == "image":
                if image_path:
                    parts.append({"path": str(image_path)})
            else:
                parts.append({"type": "text", "text": part["text"]})
        out.append({"role": msg["role"], "content": parts})
    return out


def summary_markdown(result: DemoResult) -> str:
    """A short account of what happened: triplets parsed, judged, kept, and the example's kind."""
    n = len(result.triplets)
    lines = []
    if n == 0:
        lines.append(
            f"**{NO_TRIPLET_MESSAGE}.** The composed example is the caption turn alone "
            "(the method's rule for images without a kept task)."
        )
    else:
        judged = len(result.verdicts)
        labels = ", ".join(v["label"] for v in result.verdicts)
        which = "judged" if judged == n else f"the first {judged} judged"
        lines.append(
            f"**{n} complete task triplet{'s' if n != 1 else ''}** in the generation; "
            f"{which} by the {result.checker} ({labels}); "
            f"**{len(result.kept)} kept** (verdict Yes)."
        )
        if not result.kept:
            lines.append("No task was judged consistent, so the composed example is the caption turn alone.")
        else:
            lines.append(
                f"The composed single-stage example holds the caption turn and {len(result.kept)} task turn(s)."
            )
    return "\n\n".join(lines + result.notes)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable_generation(text: str) -> str:
    """The raw generation with control characters shown as ``\\xNN`` (tiny models emit arbitrary bytes)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def write_example_json(result: DemoResult, out_dir: str | os.PathLike) -> Path:
    """Write the composed example (a compose row) as JSON into ``out_dir``; return the file path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"example-{result.example_id}.json"
    path.write_text(json.dumps(result.example, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def publish_example_json(result: DemoResult, keep: Callable[[Path], str]) -> str:
    """Offer the composed example as a download without leaving a folder behind; return ``keep``'s path.

    The JSON is written into a fresh ``adamllm-demo-*`` temporary folder, ``keep(path)`` copies it to where
    the server serves files from (the Space passes gradio's cache, which ``delete_cache`` can age out) and
    returns the copy's path; the folder is removed before this returns, also when writing or ``keep`` fails.
    """
    with tempfile.TemporaryDirectory(prefix="adamllm-demo-") as folder:
        return keep(write_example_json(result, folder))


def model_banner(models: Models) -> str:
    """Markdown naming the models; a clear smoke-test warning when tiny models are in use."""
    checker = (
        "Checker: lexical word-overlap heuristic (`ADAMLLM_CHECKER=lexical`; no LLM checker)"
        if models.checker == LEXICAL
        else f"Checker (LLM): `{models.checker}`"
    )
    text = strip_credentials(f"Synthesizer: `{models.synthesizer}` · {checker} ({models.reason}).")  # a public page
    if models.smoke_test:
        return (
            "⚠️ **Smoke-test models.** This demo is running tiny models built offline "
            "(`hub_tools.miniature.tiny_models`): **their text is meaningless** as content. The default tiny "
            "synthesizer was tuned for a minute to write the task format (its answers are rarely true of the image) "
            "and the tiny checker to answer Yes / No / Open (not accurately); the random-weight ones usually write "
            "no complete task triplet. They only show that every stage runs. Set `ADAMLLM_SYNTHESIZER` / "
            "`ADAMLLM_CHECKER`, or run on a GPU with Hub access, for the released models.\n\n" + text
        )
    return text


# ---------------------------------------------------------------------------------------------
# bundled examples
# ---------------------------------------------------------------------------------------------
def ensure_examples(folder: str | os.PathLike, pairs: Iterable[tuple[str, Any, str]]) -> list[list[str]]:
    """Write the example images of ``pairs`` (``(file_name, PIL image, caption)``) into ``folder`` when missing.

    Returns ``[[image_path, caption], ...]`` for ``gr.Examples``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for file_name, img, caption in pairs:
        path = folder / file_name
        if not path.is_file():
            tmp = path.with_name(f".{file_name}.{os.getpid()}.tmp")
            img.save(tmp, format="PNG")
            os.replace(tmp, path)
        rows.append([str(path), caption])
    return rows


# ---------------------------------------------------------------------------------------------
# the server: request size cap, upload folder
# ---------------------------------------------------------------------------------------------
class UploadLimit:
    """ASGI middleware: answer 413 to a request whose body may pass ``max_bytes``, before reading any of it.

    gradio's ``max_file_size`` caps each file, but one upload request may carry 1000 of them: this caps the
    request (a ``Content-Length`` over ``max_bytes``, or a multipart body of undeclared length), so nothing
    beyond one image per request reaches gradio's upload folder.
    """

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        """Pass the request on, or refuse it with a message saying the limit."""
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        length = headers.get(b"content-length", b"").strip()
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        if (length and (not length.isdigit() or int(length) > self.max_bytes)) or (multipart and not length):
            size = f"too large ({_mb(int(length))})" if length.isdigit() else "of undeclared size"
            body = f"The upload is {size}; the demo takes one image of at most {_mb(MAX_IMAGE_BYTES)}.".encode()
            head = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 413, "headers": head})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


@contextlib.contextmanager
def upload_folder() -> Iterator[Path]:
    """Point gradio's uploads and file cache (``GRADIO_TEMP_DIR``) at a new folder of this process; remove it on exit.

    Made inside ``GRADIO_TEMP_DIR`` when set, else in the system temp folder. Enter it before the app module builds
    its ``gr.Blocks`` (components fix their cache folder when built). SIGTERM stops the server as Ctrl-C does.
    """
    import shutil
    import signal

    previous = os.environ.get("GRADIO_TEMP_DIR")
    folder = Path(tempfile.mkdtemp(prefix="adamllm-demo-uploads-", dir=previous or None))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.signal(signal.SIGTERM, signal.default_int_handler) if main_thread else None  # KeyboardInterrupt
    try:
        yield folder
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, handler)
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the Space app
# ---------------------------------------------------------------------------------------------
APP_MODULE = "adamllm_synthesizer_space"


def app_path() -> Path:
    """``spaces/synthesizer/app.py`` of the source checkout this package runs from."""
    return Path(__file__).resolve().parents[1] / "spaces" / "synthesizer" / "app.py"


def load_app(path: str | os.PathLike | None = None):
    """Import the Space's ``app.py`` as a module (registered in ``sys.modules``) and return it.

    Raises ``FileNotFoundError`` when the file is absent (the Space lives in the source checkout, not
    in an installed wheel).
    """
    import importlib.util
    import sys

    path = Path(path) if path is not None else app_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"the Space app {str(path)!r} was not found: `adamllm demo` runs spaces/synthesizer/app.py from a "
            "source checkout (pip install -e . in a clone of adamllm-hub)"
        )
    spec = importlib.util.spec_from_file_location(APP_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[APP_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(APP_MODULE, None)
        raise
    return module
