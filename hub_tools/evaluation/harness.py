"""Evaluation harness: run a chat vision-language model on the domain benchmarks and score it.

Greedy, batched, length-sorted, resumable (``OUTPUT/predictions/<task>.jsonl``; a torn last line is redone).
LLaVA models with a Llama-3 tokenizer get the released ``llava_llama_3`` prompt (``prompt_format="released"``),
others their chat template; predictions are scored as generated. Output folder, resume and score details:
``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from hub_tools.evaluation.prompting import (
    EXTRA_STOP_TOKENS,
    QWEN_VL_TYPES,
    check_prompt_format,
    released_llava_prompt,
)
from hub_tools.evaluation.tasks import BenchmarkSplit, Task, dumps, load_split, resolve_tasks
from hub_tools.redaction import strip_credentials
from hub_tools.synthesis.prompts import image_token_of, prompt_style

PUBLISHED_MIN_PIXELS = 224 * 224
PUBLISHED_MAX_PIXELS = 1280 * 28 * 28
METRICS_ENV = "ADAMLLM_METRICS_DIR"


# -- metrics -------------------------------------------------------------------------------------
def metrics_dir() -> Path:
    """The folder holding the metric modules (``metrics/<name>/<name>.py``).

    Looked up in order: ``$ADAMLLM_METRICS_DIR``; ``hub_tools/metrics`` inside the package (for an
    installed wheel that ships them); the repository's ``metrics/`` next to the package (a source
    checkout or editable install); ``./metrics`` in the working directory.

    A regular (wheel) install ships the top-level ``metrics/`` folder as ``hub_tools/metrics`` (see
    ``pyproject.toml``), so the second candidate serves installed packages.
    """
    import hub_tools

    package = Path(hub_tools.__file__).resolve().parent
    candidates = []
    if os.environ.get(METRICS_ENV):
        candidates.append(Path(os.environ[METRICS_ENV]))
    candidates += [package / "metrics", package.parent / "metrics", Path.cwd() / "metrics"]
    for path in candidates:
        if path.is_dir() and any(path.glob("*/*.py")):
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(f"metric modules not found (tried {tried}); set ${METRICS_ENV} to the metrics/ folder")


def load_metric(name: str):
    """``evaluate.load`` the metric module ``name`` from :func:`metrics_dir` (works offline)."""
    import evaluate

    path = metrics_dir() / name
    if not (path / f"{name}.py").is_file():
        raise FileNotFoundError(f"metric module {name!r} not found: {path / (name + '.py')}")
    return evaluate.load(str(path))


# -- predictions file ----------------------------------------------------------------------------
def read_predictions(path: Path) -> dict[int, dict]:
    """Read ``predictions/<task>.jsonl`` into ``{id: record}``, dropping (and truncating) a torn last line.

    A damaged line anywhere else is an error: the file is not ours or was edited by hand.
    """
    if not path.is_file():
        return {}
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline; else a line cut short by a kill
    records: dict[int, dict] = {}
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{path}: line {line_no} is not valid JSON; fix or delete the file") from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), int) or "prediction" not in record:
            raise ValueError(f"{path}: line {line_no} is not a prediction record")
        records[record["id"]] = record
    if tail:
        with open(path, "r+b") as fh:
            fh.truncate(len(data) - len(tail))
    return records


# -- model ---------------------------------------------------------------------------------------
class ChatVLM:
    """A VLM loaded with ``AutoProcessor`` + ``AutoModelForImageTextToText`` for batched greedy answers.

    ``prompt_style`` is ``"llava_llama_3"`` (a LLaVA model with a Llama-3 tokenizer under
    ``prompt_format="released"``) or ``"chat_template"``.
    """

    def __init__(
        self,
        model_id: str,
        device: str | None = None,
        dtype: str | None = None,
        min_pixels: int | None = PUBLISHED_MIN_PIXELS,
        max_pixels: int | None = PUBLISHED_MAX_PIXELS,
        prompt_format: str = "released",
    ):
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        check_prompt_format(prompt_format)
        self.model_id = model_id
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype in (None, "auto"):
            torch_dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            torch_dtype = getattr(torch, dtype)
        from hub_tools.errors import loading

        with loading("model", model_id):
            self.processor = AutoProcessor.from_pretrained(model_id)
            config = AutoConfig.from_pretrained(model_id)
        self.tokenizer = getattr(self.processor, "tokenizer", None)
        if self.tokenizer is None:
            raise ValueError(f"{model_id}: its processor has no tokenizer")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model_type = getattr(config, "model_type", "")
        self.prompt_style = prompt_style(self.model_type, self.processor, prompt_format)  # as `adamllm train`
        self.image_token = image_token_of(self.processor)
        self.chat_template = getattr(self.processor, "chat_template", None) or getattr(
            self.tokenizer, "chat_template", None
        )
        if self.prompt_style == "chat_template" and not self.chat_template:
            raise ValueError(f"{model_id}: neither its processor nor its tokenizer has a chat template")
        with loading("model", model_id):
            model = AutoModelForImageTextToText.from_pretrained(model_id, config=config, dtype=torch_dtype)
        self.model = model.to(self.device).eval()
        self.image_kwargs: dict[str, Any] = {}
        if self.model_type in QWEN_VL_TYPES and (min_pixels or max_pixels):
            size = dict(getattr(self.processor.image_processor, "size", None) or {})
            if min_pixels:
                size["shortest_edge"] = int(min_pixels)
            if max_pixels:
                size["longest_edge"] = int(max_pixels)
            self.image_kwargs = {"size": size}
        vocab = self.tokenizer.get_vocab()
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None:
            eos.append(self.tokenizer.eos_token_id)
        eos += [vocab[t] for t in EXTRA_STOP_TOKENS if t in vocab]
        self.eos_token_ids = sorted(set(eos))

    def prompt(self, text: str) -> str:
        """The prompt for one question: a user turn holding the image then ``text``, then the assistant opening."""
        if self.prompt_style == "llava_llama_3":
            return released_llava_prompt(text, self.image_token)
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
        return self.processor.apply_chat_template(
            messages, chat_template=self.chat_template, tokenize=False, add_generation_prompt=True
        )

    def generate(self, images: list, texts: list[str], max_new_tokens: int) -> list[str]:
        """Greedy answers for a batch of (image, question) pairs, special tokens removed."""
        import torch

        prompts = [self.prompt(t) for t in texts]
        kwargs = dict(self.image_kwargs)
        # llava_llama_3: the tokenizer's BOS in front of <|begin_of_text|>, as released; a chat template writes its
        # own BOS (Llama-3.2-Vision), which the training collator does not double either
        kwargs["add_special_tokens"] = self.prompt_style == "llava_llama_3"
        inputs = self.processor(
            text=prompts,
            images=[[image] for image in images],
            padding=True,
            return_tensors="pt",
            **kwargs,
        ).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                max_new_tokens=max_new_tokens,
                eos_token_id=self.eos_token_ids,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)  # as generated: not stripped


# -- harness -------------------------------------------------------------------------------------
EVALUATION_OUTPUTS = ("run.json", "scores.json", "scores.md", "predictions")
"""What an evaluation writes into its output folder (``overwrite`` removes these and nothing else)."""
EVALUATION_WRITER = "adamllm evaluate"
"""The writer an evaluation folder's ownership marker records (:mod:`hub_tools.rundir.ownership`)."""


def _legacy_evaluation(out: Path) -> bool:
    """An evaluation folder written before ownership markers: nothing but :data:`EVALUATION_OUTPUTS` (no link),
    and a ``run.json`` holding an evaluation's settings (a JSON object naming the model)."""
    from hub_tools.rundir.ownership import MARKER

    try:
        names = {p.name for p in out.iterdir()} - {MARKER}
        if not names or not names <= set(EVALUATION_OUTPUTS) or any((out / n).is_symlink() for n in names):
            return False
        held = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(held, dict) and isinstance(held.get("model"), str)


def prepare_evaluation_folder(out: Path, overwrite: bool = False) -> None:
    """Check ``out`` before anything is written (:func:`hub_tools.rundir.ownership.prepare_folder`): a missing or empty
    folder, or one an earlier ``adamllm evaluate`` wrote (resumed, or with ``overwrite`` started over); anything
    else is refused in one line (:class:`~hub_tools.rundir.ownership.OutputRefused`). Removes nothing (a folder an older
    version wrote, holding nothing but evaluation outputs, gets its marker here)."""
    from hub_tools.rundir.ownership import claim, prepare_folder, read_owner, refuse_link

    refuse_link(out, EVALUATION_WRITER)
    if out.is_dir() and read_owner(out) is None and _legacy_evaluation(out):
        claim(out, EVALUATION_WRITER, EVALUATION_OUTPUTS)  # an older run's folder: mark what it holds as ours
    prepare_folder(out, EVALUATION_WRITER, overwrite=overwrite, resume=True)


def _check_run(out: Path, settings: dict, overwrite: bool = False) -> None:
    """Record ``settings`` in ``out/run.json``, or check them against a run already there (resume).

    A run made with other settings is refused with the one settings-mismatch line (:func:`settings_mismatch`,
    exit 2 in the CLI); ``overwrite`` first removes the earlier run's outputs (:data:`EVALUATION_OUTPUTS`, only
    those the folder's ownership marker lists, never through a link: :func:`hub_tools.rundir.ownership.remove_owned`).
    Call :func:`prepare_evaluation_folder` first, and check every input before: this is where removal happens.
    """
    from hub_tools.errors import settings_mismatch
    from hub_tools.rundir.ownership import claim, remove_owned

    path = out / "run.json"
    if overwrite:
        remove_owned(out, EVALUATION_WRITER, EVALUATION_OUTPUTS, command="adamllm evaluate --overwrite")
    claim(out, EVALUATION_WRITER, EVALUATION_OUTPUTS)  # the marker first: nothing unlisted is ever written
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        diffs = {}
        keys = ("model", "max_new_tokens", "min_pixels", "max_pixels", "prompt_format")
        for key in (*keys, "image_max_pixels", "image_min_pixels"):
            # a run written before prompt_format existed used the chat template for every model
            held = previous.get(key, "chat" if key == "prompt_format" else None)
            if held != settings.get(key):
                diffs[key] = (held, settings.get(key))
        if diffs:
            raise settings_mismatch(out, "evaluation", diffs)
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def _check_records(path: Path, split: BenchmarkSplit, records: dict[int, dict]) -> None:
    for item in split.items:
        record = records.get(item.id)
        if record is None:
            continue
        if record.get("input") != item.input or dumps(record.get("label")) != dumps(item.label):
            raise ValueError(
                f"{path}: item {item.id} does not match the benchmark row (another dataset version?); "
                "rerun with --overwrite to start over, or use another --output folder"
            )


def _close(loaded: list) -> None:
    """Close a served model's connections (in-process models have nothing to close)."""
    for vlm in loaded:
        if hasattr(vlm, "close"):
            vlm.close()


def _run_task(
    vlm_factory,
    split: BenchmarkSplit,
    metric,
    path: Path,
    batch_size: int,
    max_new_tokens: int,
    progress: bool,
    image_size=None,
) -> dict[int, dict]:
    from hub_tools.data import BadInput
    from hub_tools.data.image_size import apply
    from hub_tools.defaults import progress_bar

    records = read_predictions(path)
    _check_records(path, split, records)
    todo = [item for item in split.items if item.id not in records]
    if not todo:
        return records
    vlm = vlm_factory()
    todo.sort(key=lambda item: (-len(item.input), item.id))  # longest first: memory trouble shows early
    bar = progress_bar(total=len(todo), desc=split.task.name, unit="item", disable=not progress)
    with open(path, "a", encoding="utf-8") as fh:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            ready, images, errors = [], [], {}
            for item in batch:
                try:
                    images.append(apply(split.image(item.id), image_size))  # the one size contract
                    ready.append(item)
                except BadInput as err:
                    errors[item.id] = f"bad image: {err.reason}"
            answers = dict(zip((i.id for i in ready), vlm.generate(images, [i.input for i in ready], max_new_tokens)))
            for item_id, answer in list(answers.items()):
                if isinstance(answer, BadInput):  # a served model's server refused this question
                    errors[item_id] = f"refused by the server: {answer.reason}"
                    answers[item_id] = ""
            for item in batch:
                prediction = answers.get(item.id, "")
                scored = split.item_score(metric, item, prediction)
                record = {"id": item.id, "input": item.input, "label": item.label, **item.extra}
                record.update(prediction=prediction, score=scored["score"])
                if "random_fallback" in scored:
                    record["random_fallback"] = scored["random_fallback"]
                if item.id in errors:
                    record["error"] = errors[item.id]
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                records[item.id] = record
            fh.flush()
            os.fsync(fh.fileno())
            bar.update(len(batch))
    bar.close()
    return records


def score_task(split: BenchmarkSplit, metric, records: dict[int, dict]) -> dict:
    """Task scores from stored predictions: the metric over every item of ``split`` in dataset order."""
    missing = [item.id for item in split.items if item.id not in records]
    if missing:
        raise ValueError(f"{split.task.name}: no prediction for item(s) {missing[:10]}")
    predictions = [records[item.id]["prediction"] for item in split.items]
    results = split.compute(metric, split.items, predictions)
    return {
        "metric": split.task.metric,
        "primary": list(split.task.primary),
        "results": {k: (float(v) if isinstance(v, float) else v) for k, v in results.items()},
        "num_items": len(split.items),
        "num_errors": sum(1 for item in split.items if "error" in records[item.id]),
        "metric_options": dict(split.metric_options),
        "source": split.source,
        "vocabulary_source": split.vocabulary_source,
    }


def evaluate_model(
    model: str,
    tasks: str | list[str] = "biomed",
    output_dir: str | Path = "eval",
    limit: int | None = None,
    batch_size: int = 8,
    benchmark_dir: str | Path | None = None,
    max_new_tokens: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    min_pixels: int | None = PUBLISHED_MIN_PIXELS,
    max_pixels: int | None = PUBLISHED_MAX_PIXELS,
    metric_options: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
    prompt_format: str = "released",
    endpoints: list[str] | None = None,
    endpoint_options: dict[str, Any] | None = None,
    overwrite: bool = False,
    image_max_pixels: int | None = None,
    image_min_pixels: int | None = None,
) -> dict:
    """Evaluate ``model`` (Hub id or local folder) on ``tasks``; write predictions and scores to ``output_dir``.

    ``tasks``: ``"biomed"``, ``"food"``, ``"remote-sensing"``, ``"all"`` or task names (comma-separated or a list).
    ``limit``: first N items per task. ``max_new_tokens``: override every task's budget (smoke runs).
    ``metric_options``: extra ``compute()`` keywords per metric module (default
    :data:`hub_tools.evaluation.tasks.METRIC_OPTIONS`), e.g. ``{"medical_vqa": {"mode": "llava_med"}}``.
    ``prompt_format``: ``"released"`` (LLaVA models with a Llama-3 tokenizer get the release's
    ``llava_llama_3`` prompt, others their chat template) or ``"chat"`` (the chat template for all).
    ``endpoints``: OpenAI-compatible base URLs serving ``model`` (:class:`~hub_tools.evaluation.served.ServedVLM`,
    with ``endpoint_options``: ``concurrency``, ``api_key_env``, ``server``, ``allow_approximate``).
    ``image_max_pixels`` / ``image_min_pixels``: the image-size contract shared with synthesis and SFT
    (:mod:`hub_tools.data.image_size`), applied to every benchmark image before the model's processor (and before a
    served model's request); ``None``: images as stored (the release's evaluation; ``docs/protocol.md``).
    Returns the ``scores.json`` content. Resumes a partly finished run in the same folder; a folder holding a run
    with other settings is refused (:class:`~hub_tools.errors.ConfigMismatch`) unless ``overwrite``.
    """
    from hub_tools.evaluation.report import write_scores

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    check_prompt_format(prompt_format)
    from hub_tools.data.image_size import image_size as image_size_policy

    size_policy = image_size_policy(image_max_pixels, image_min_pixels)
    task_list: list[Task] = resolve_tasks(tasks)
    out = Path(output_dir)
    settings = {
        "model": strip_credentials(str(model)),  # what run.json, scores.json and the table show of a URL id
        "max_new_tokens": max_new_tokens,
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "prompt_format": prompt_format,
    }
    if size_policy is not None:  # recorded only when set: runs written before the contract still resume
        settings.update(image_max_pixels=image_max_pixels, image_min_pixels=image_min_pixels)
    # every input first (the folder, each task's benchmark split, its metric, an endpoint), then any removal
    prepare_evaluation_folder(out, overwrite=overwrite)
    splits = {task.name: load_split(task, benchmark_dir, limit) for task in task_list}
    metrics: dict[str, Any] = {}
    for task in task_list:
        if task.metric not in metrics:
            metrics[task.metric] = load_metric(task.metric)

    loaded: list[ChatVLM] = []
    if endpoints:  # probed before anything is written or removed: an endpoint mistake leaves the folder as it was
        from hub_tools.evaluation.served import ServedVLM

        options = endpoint_options or {}
        loaded.append(
            ServedVLM(  # type: ignore[arg-type]
                str(model),
                endpoints,
                min_pixels=min_pixels,
                max_pixels=max_pixels,
                prompt_format=prompt_format,
                **options,
            )
        )

    def vlm_factory() -> ChatVLM:
        if not loaded:
            loaded.append(ChatVLM(str(model), device, dtype, min_pixels, max_pixels, prompt_format=prompt_format))
        return loaded[0]

    if endpoints:  # every replica's queue full: a batch is all its requests in flight
        from hub_tools.synthesis.endpoint_client import DEFAULT_CONCURRENCY

        batch_size = max(
            batch_size, len(endpoints) * ((endpoint_options or {}).get("concurrency") or DEFAULT_CONCURRENCY)
        )

    try:
        if overwrite:  # every earlier prediction goes: first make sure the model (or its endpoint) answers at all
            vlm_factory()
        _check_run(out, settings, overwrite=overwrite)
    except BaseException:
        _close(loaded)
        raise
    (out / "predictions").mkdir(parents=True, exist_ok=True)

    scores_path = out / "scores.json"
    scores = json.loads(scores_path.read_text(encoding="utf-8")) if scores_path.is_file() else {}
    scores.setdefault("tasks", {})
    scores["model"] = settings["model"]
    try:
        for task in task_list:
            split = splits[task.name]
            if metric_options is not None:
                split.metric_options = dict(metric_options.get(task.metric, {}))
            metric = metrics[task.metric]
            budget = max_new_tokens or task.max_new_tokens
            path = out / "predictions" / f"{task.name}.jsonl"
            started = time.time()
            records = _run_task(vlm_factory, split, metric, path, batch_size, budget, progress, size_policy)
            entry = score_task(split, metric, records)
            entry["max_new_tokens"] = budget
            entry["seconds"] = round(time.time() - started, 3)
            scores["tasks"][task.name] = entry
    finally:
        _close(loaded)
    scores_path.write_text(json.dumps(scores, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_scores(scores, out / "scores.md")
    return scores
