"""AdaMLLM visual instruction synthesizer: one image + caption through synthesize -> filter -> compose.

The Gradio Space of adamllm-hub (also served by ``adamllm demo``). The logic lives in
:mod:`hub_tools.demo`; this file holds what the core is handed (the bundled examples, the tiny-model
builder), the model adapters and callbacks (small typed functions, first), the layout (``gr.Blocks``),
then the events. ``demo.launch()`` runs only as ``__main__``.

Models: ``ADAMLLM_SYNTHESIZER`` / ``ADAMLLM_CHECKER``; unset, the released
``AdaptLLM/visual-instruction-synthesizer`` and ``meta-llama/Meta-Llama-3-8B`` on a GPU, else the
offline tiny models (the briefly tuned tiny synthesizer and checker), labelled in the page as a smoke test. Models load once, on the first request.
``ADAMLLM_CHECKER=lexical`` configures no LLM checker: the checker choice then defaults to "lexical", and a
run that picks "LLM" is judged by the lexical checker, with a note in the summary saying so.

Each run writes its example JSON into a temporary ``adamllm-demo-*`` folder, copies it into gradio's file
cache (where the download is served from) and removes the folder before returning, also on errors. A launch
caps uploads at one image per request (:func:`launch_kwargs`); ``adamllm demo`` keeps uploads and the file cache
in a folder of its process, removed when the server stops (:func:`hub_tools.demo.upload_folder`).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import gradio as gr

try:
    from hub_tools import demo as core
except ImportError:  # running from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from hub_tools import demo as core
from hub_tools.redaction import install, redact_text

HERE = Path(__file__).resolve().parent
EXAMPLES_DIR = HERE / "examples"
EXAMPLE_SAMPLES = (("biomed", 0), ("food", 0))
"""Bundled examples: (domain, index within the domain) of :func:`hub_tools.miniature.samples.sample_records`."""
logger = logging.getLogger("adamllm.demo")


# ---------------------------------------------------------------------------------------------
# the miniature: bundled examples and tiny models (passed into hub_tools.demo, which never imports it)
# ---------------------------------------------------------------------------------------------
def example_pairs() -> list[tuple[str, Any, str]]:
    """``(file_name, PIL image, caption)`` of the bundled examples (:data:`EXAMPLE_SAMPLES`)."""
    from hub_tools.miniature.samples import sample_records

    wanted = dict(EXAMPLE_SAMPLES)
    seen: dict[str, int] = {}
    out = []
    for file_name, img, caption, domain in sample_records():
        k = seen.get(domain, 0)
        seen[domain] = k + 1
        if wanted.get(domain) == k:
            out.append((file_name, img, caption))
    return out


def ensure_tiny(model: str) -> None:
    """Build the tiny models when ``model`` is a not-yet-built folder of the tiny cache (``prepare`` of the loaders)."""
    from hub_tools.miniature import tiny_models, tiny_tuned

    path = Path(model)
    names = (*tiny_models.BUILDERS, *tiny_tuned.TUNED)
    if path.name in names and not core.is_tiny(model) and not (path / "config.json").is_file():
        tiny_tuned.build_all_tiny_models(path.parent)


MODELS = core.choose_models()
EXAMPLES = core.ensure_examples(EXAMPLES_DIR, example_pairs())


# ---------------------------------------------------------------------------------------------
# model adapters (the only calls into the models; tests replace them)
# ---------------------------------------------------------------------------------------------
def generate(image: Any, caption: str, max_new_tokens: int) -> tuple[str, list]:
    """Raw synthesizer generation and its complete task triplets for one pair."""
    engine = core.load_synthesizer(MODELS.synthesizer, prepare=ensure_tiny)
    return core.synthesize_one(engine, image, caption, max_new_tokens)


def judge(triplets: list, checker: str) -> list[dict]:
    """Consistency verdicts (``label`` + ``probs``) of ``checker`` ("LLM" or "lexical") for ``triplets``."""
    return core.judge_triplets(core.load_checker(checker, MODELS.checker, prepare=ensure_tiny), triplets)


def checker_label(checker: str) -> str:
    """How the checker is named in the summary ("judged by the LLM checker `checker`")."""
    return "lexical checker" if checker == core.LEXICAL else f"LLM checker `{Path(MODELS.checker).name}`"


def serve_file(path: Path) -> str:
    """Copy ``path`` into gradio's file cache (where downloads are served from); return the copy's path."""
    return download_out.move_resource_to_block_cache(path)


# ---------------------------------------------------------------------------------------------
# callbacks
# ---------------------------------------------------------------------------------------------
def _table(rows: list[list]):
    import pandas as pd

    return pd.DataFrame(rows, columns=core.TRIPLET_HEADERS)


def _failure(message: str) -> tuple:
    message = redact_text(message)  # a public page: no token or URL credentials from an error message
    gr.Warning(message)
    return f"❌ {message}", _table([]), [], "", gr.DownloadButton(value=None, visible=False)


def synthesize(
    image_path: str | None, caption: str, n_tasks: float, max_new_tokens: float, checker: str
) -> tuple[str, Any, list[dict], str, Any]:
    """Run the pair through the three stages; returns (status, triplet table, chat, raw generation, download)."""
    try:
        image = core.check_image(image_path)
        caption = core.check_caption(caption)
        n, tokens, checker = core.check_settings(n_tasks, max_new_tokens, checker)
    except core.InputError as err:
        return _failure(str(err))
    checker, checker_note = core.resolve_checker(checker, MODELS)
    try:
        result = core.run_pair(
            image,
            caption,
            n,
            generate=lambda im, cap: generate(im, cap, tokens),
            judge=lambda triplets: judge(triplets, checker),
            checker_name=checker_label(checker),
        )
        if checker_note:
            result.notes.append(checker_note)
        path = core.publish_example_json(result, serve_file)
    except Exception as err:  # shown as a message, logged with its traceback on the server
        logger.exception("demo run failed")
        return _failure(f"The run failed: {type(err).__name__}: {err}")
    return (
        core.summary_markdown(result),
        _table(core.triplet_rows(result)),
        core.chat_messages(result.example, image_path),
        core.printable_generation(result.generation),
        gr.DownloadButton(value=path, visible=True),
    )


def guard_image_decoding(component: gr.Image) -> gr.Image:
    """Make ``component`` turn upload decoding errors into a readable ``gr.Error`` instead of a bare "Error".

    Wraps the instance's ``preprocess`` (a ``gr.Image`` subclass would make gradio write an ``app.pyi``
    stub next to this file).
    """
    decode = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return decode(payload)
        except gr.Error:
            raise
        except Exception as err:
            if type(err).__name__ == "DecompressionBombError":
                raise gr.Error(f"The image has too many pixels; the limit is {core.MAX_IMAGE_PIXELS:,}.") from None
            name = getattr(payload, "orig_name", None) or "the upload"
            raise gr.Error(
                f"Unsupported file {name!r}: it is not an image this demo can read "
                f"(supported: {', '.join(core.SUPPORTED_FORMATS)})."
            ) from None

    component.preprocess = preprocess
    return component


# ---------------------------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------------------------
INTRO = """# AdaMLLM visual instruction synthesizer
Turn one image-caption pair into a domain-specific visual instruction task, the way
[AdaMLLM](https://arxiv.org/abs/2411.19930) builds its post-training data: the **synthesizer** writes
task triplets (an instruction with an informative and a precise answer), a **consistency checker**
keeps those whose precise answer follows from the informative one, and the pair becomes one
**single-stage** training conversation: its caption turn plus the kept task."""

CSS = "#triplets th, #triplets th * { white-space: nowrap !important; word-break: keep-all !important; }"
"""Table headers never break inside a word ("verdi ct"); with :data:`hub_tools.demo.TRIPLET_COLUMN_WIDTHS` they fit."""

# delete_cache: gradio's own copies of uploads and downloads older than an hour are removed every hour
with gr.Blocks(title="AdaMLLM visual instruction synthesizer", delete_cache=(3600, 3600)) as demo:
    gr.Markdown(INTRO)
    gr.Markdown(core.model_banner(MODELS), elem_id="model-banner")
    with gr.Row():
        with gr.Column(scale=2):
            image_in = guard_image_decoding(
                gr.Image(
                    type="filepath", image_mode=None, sources=["upload", "clipboard"], label="Image", elem_id="image"
                )
            )
            caption_in = gr.Textbox(
                label="Caption",
                lines=4,
                placeholder=f"What the image shows (up to {core.MAX_CAPTION_CHARS:,} characters)",
                elem_id="caption",
            )
            n_tasks_in = gr.Slider(
                1,
                core.MAX_TASKS,
                value=1,
                step=1,
                label="Tasks to keep",
                elem_id="n-tasks",
                info="The first N complete triplets are judged; those judged Yes are kept (1 = the released protocol).",
            )
            with gr.Accordion("Advanced settings", open=False):
                max_new_tokens_in = gr.Slider(
                    16, core.MAX_NEW_TOKENS_LIMIT, value=core.DEFAULT_MAX_NEW_TOKENS, step=16, label="Max new tokens"
                )
                checker_in = gr.Radio(
                    list(core.CHECKERS),
                    value=core.default_checker_choice(MODELS),
                    label="Consistency checker",
                    info="LLM: few-shot Yes / No / Open with probabilities. lexical: offline word-overlap heuristic."
                    + (
                        " No LLM checker is configured (ADAMLLM_CHECKER=lexical): LLM falls back to lexical."
                        if MODELS.checker == core.LEXICAL
                        else ""
                    ),
                )
            run_btn = gr.Button("Synthesize", variant="primary", elem_id="run")
            gr.Examples(
                EXAMPLES,
                inputs=[image_in, caption_in],
                label="Bundled examples (biomedicine, food)",
                elem_id="examples",
            )
        with gr.Column(scale=3):
            status_out = gr.Markdown(label="Summary", elem_id="status")  # named in the API, not value_N
            table_out = gr.Dataframe(
                value=_table([]),
                headers=core.TRIPLET_HEADERS,
                datatype=["str", "str", "str", "str", "number", "number", "number"],
                interactive=False,
                wrap=True,
                column_widths=core.TRIPLET_COLUMN_WIDTHS,  # each header fits its column at 80 columns
                label="Synthesized task triplets (with the checker's verdict)",
                elem_id="triplets",
            )
            chat_out = gr.Chatbot(
                label="Composed single-stage training example",
                height=420,
                elem_id="example-chat",
                feedback_options=None,
            )
            download_out = gr.DownloadButton("Download example JSON", visible=False, elem_id="download")
            with gr.Accordion("Raw generation", open=False, elem_id="raw-accordion"):
                raw_out = gr.Textbox(
                    label="Raw generation", show_label=False, lines=8, max_lines=24, interactive=False, elem_id="raw"
                )

    # -----------------------------------------------------------------------------------------
    # events
    # -----------------------------------------------------------------------------------------
    run_btn.click(
        synthesize,
        inputs=[image_in, caption_in, n_tasks_in, max_new_tokens_in, checker_in],
        outputs=[status_out, table_out, chat_out, raw_out, download_out],
        api_name="synthesize",
    )

demo.queue(default_concurrency_limit=1, max_size=32)


def launch_kwargs() -> dict:
    """Keyword arguments every launch of this app uses: the examples folder allowed, each file capped at
    ``core.MAX_IMAGE_BYTES`` and each request at one such image (:class:`hub_tools.demo.UploadLimit`)."""
    from starlette.middleware import Middleware

    return {
        "css": CSS,
        "allowed_paths": [str(EXAMPLES_DIR)],
        "max_file_size": core.MAX_IMAGE_BYTES,
        "app_kwargs": {"middleware": [Middleware(core.UploadLimit)]},
    }


if __name__ == "__main__":
    install()  # log lines and tracebacks of the server redacted too
    with core.upload_folder():  # uploads in a folder of this process, removed when the server stops
        demo.launch(**launch_kwargs())
