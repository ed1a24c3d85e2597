"""The logic behind the Gradio synthesizer demo (``spaces/synthesizer/app.py``, ``adamllm demo``).

One image + caption goes through the pipeline's three stages as ``adamllm pipeline`` runs them: synthesize
(greedy, :func:`hub_tools.synthesis.parse_triplets`), filter (the first ``n_tasks`` triplets; keep ``Yes``)
and compose (caption turn + kept task turns, seeded order). ``n_tasks=1`` is the released protocol and gives
the row ``adamllm compose`` writes. Models come from ``ADAMLLM_SYNTHESIZER`` / ``ADAMLLM_CHECKER``, else the
released ones online or the offline tiny ones (labelled a smoke test). This module never builds tiny models
or draws examples: its caller passes the tiny-model builder (``prepare``) and the example pairs in.

The code is split where a reader would cut: :mod:`~hub_tools.demo.inputs` (limits and input checks),
:mod:`~hub_tools.demo.models` (which models, loaded once), :mod:`~hub_tools.demo.run` (the three stages for one pair
and the rendering) and :mod:`~hub_tools.demo.server` (examples, upload cap and folder, loading the app). Every name
stays importable from ``hub_tools.demo``.
"""

from hub_tools.demo.inputs import (
    CHECKERS,
    DEFAULT_MAX_NEW_TOKENS,
    LEXICAL,
    MAX_CAPTION_CHARS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_NEW_TOKENS_LIMIT,
    MAX_REQUEST_BYTES,
    MAX_TASKS,
    SUPPORTED_FORMATS,
    InputError,
    check_caption,
    check_image,
    check_settings,
)
from hub_tools.demo.models import (
    DEFAULT_CHECKER,
    DEFAULT_SYNTHESIZER,
    Models,
    _load_llm_checker,
    _load_synthesizer,
    choose_models,
    default_checker_choice,
    is_tiny,
    load_checker,
    load_synthesizer,
    model_banner,
    resolve_checker,
)
from hub_tools.demo.run import (
    DEMO_SEED,
    NO_TRIPLET_MESSAGE,
    TRIPLET_COLUMN_WIDTHS,
    TRIPLET_HEADERS,
    DemoResult,
    chat_messages,
    compose_example,
    example_id,
    judge_triplets,
    printable_generation,
    publish_example_json,
    run_pair,
    summary_markdown,
    synthesize_one,
    triplet_rows,
    write_example_json,
)
from hub_tools.demo.server import (
    APP_MODULE,
    UploadLimit,
    app_path,
    ensure_examples,
    load_app,
    upload_folder,
)

__all__ = [
    "APP_MODULE",
    "CHECKERS",
    "DEFAULT_CHECKER",
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_SYNTHESIZER",
    "DEMO_SEED",
    "DemoResult",
    "InputError",
    "LEXICAL",
    "MAX_CAPTION_CHARS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_NEW_TOKENS_LIMIT",
    "MAX_REQUEST_BYTES",
    "MAX_TASKS",
    "Models",
    "NO_TRIPLET_MESSAGE",
    "SUPPORTED_FORMATS",
    "TRIPLET_COLUMN_WIDTHS",
    "TRIPLET_HEADERS",
    "UploadLimit",
    "_load_llm_checker",
    "_load_synthesizer",
    "app_path",
    "chat_messages",
    "check_caption",
    "check_image",
    "check_settings",
    "choose_models",
    "compose_example",
    "default_checker_choice",
    "ensure_examples",
    "example_id",
    "is_tiny",
    "judge_triplets",
    "load_app",
    "load_checker",
    "load_synthesizer",
    "model_banner",
    "printable_generation",
    "publish_example_json",
    "resolve_checker",
    "run_pair",
    "summary_markdown",
    "synthesize_one",
    "triplet_rows",
    "upload_folder",
    "write_example_json",
]
