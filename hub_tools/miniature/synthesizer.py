"""The quickstart's tiny synthesizer: built from the world's text, pretrained on paraphrases, tuned, measured.

A ~0.8M-parameter Qwen2-VL (hidden 128, 4 layers, 8 heads, tied embeddings) with a tokenizer trained on the
world's text (:func:`build_tiny_synthesizer`), given a short text pretraining (:mod:`hub_tools.miniature.pretrain`),
then tuned on the world's seed set with the paper's recipe (:func:`hub_tools.training.synthesizer.train`) for a
number of steps (or a time budget, :mod:`hub_tools.miniature.time_budget`), each seed row collated once
(``cache_rows``), with a live thread count (:mod:`hub_tools.miniature.threads`).
:func:`measure_synthesizer` counts held-out pairs with a *strict* triplet and with a *grounded* one (strict and true
of the image). Command line: ``python -m hub_tools.miniature.synthesizer --config recipes/synthesizer/tiny_cpu.yaml``.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.data import CHAT_TOKEN
from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.miniature.threads import auto_threads, thread_tuner_callback, torch_threads
from hub_tools.miniature.time_budget import budget_hooks
from hub_tools.synthesis.parse import INFORMATIVE_HINT, PRECISE_HINT, TaskTriplet, TurnFormat
from hub_tools.training import synthesizer as recipe


def _synthesizer_corpus(lines: list[str]) -> list[str]:
    fixed = [
        PRECISE_HINT.strip(),
        INFORMATIVE_HINT.strip(),
        CAPTION_PROMPT,
        "You are a helpful assistant.",
        "system user assistant",
    ]
    return fixed * 20 + lines


def build_tiny_synthesizer(
    out_dir: str | os.PathLike,
    corpus: list[str],
    seed: int = 0,
    hidden_size: int = 128,
    num_layers: int = 4,
    vocab_size: int = 1024,
    tie_embeddings: bool = True,
    num_heads: int = 8,
) -> Path:
    """A tiny random Qwen2-VL whose tokenizer is trained on ``corpus`` (e.g. :func:`hub_tools.miniature.world.world_corpus`).

    Wraps :func:`hub_tools.miniature.tiny_models.build_tiny_qwen2_vl` (architecture, image processor, chat template)
    and swaps in a byte-level BPE trained on the domain text, so domain words are single tokens and
    sequences stay short. The special tokens keep their ids. The model is re-initialised (seeded) for
    the new vocabulary, with input and output embeddings tied when ``tie_embeddings`` (as Qwen2-VL-2B
    ties them) and ``num_heads`` attention heads (half as many key/value heads). Measured on the
    world's held-out pairs, both help the model learn to copy facts from the caption in few steps.
    """
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, PreTrainedTokenizerFast

    from hub_tools.miniature import tiny_models as tiny

    out_dir = Path(out_dir)
    tiny.build_tiny_qwen2_vl(out_dir, seed=seed, hidden_size=hidden_size, num_layers=num_layers)
    processor = AutoProcessor.from_pretrained(str(out_dir))
    old = processor.tokenizer
    bpe = tiny.train_tokenizer(tiny.QWEN_SPECIAL_TOKENS, vocab_size=vocab_size, corpus=_synthesizer_corpus(corpus))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=old.eos_token,
        pad_token=old.pad_token,
        unk_token=None,
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
        model_max_length=old.model_max_length,
        padding_side=old.padding_side,
        chat_template=old.chat_template,
    )
    for token in tiny.QWEN_SPECIAL_TOKENS:
        if tokenizer.convert_tokens_to_ids(token) != old.convert_tokens_to_ids(token):
            raise RuntimeError(f"special token {token} changed id when retraining the tokenizer")
    processor.tokenizer = tokenizer
    import torch

    config = AutoConfig.from_pretrained(str(out_dir))
    config.text_config.vocab_size = len(tokenizer)
    config.tie_word_embeddings = tie_embeddings
    config.text_config.tie_word_embeddings = tie_embeddings
    if num_heads != config.text_config.num_attention_heads:
        if hidden_size % num_heads or (hidden_size // num_heads) % 2:
            raise ValueError(f"hidden_size {hidden_size} must split into {num_heads} heads of even size")
        head_dim = hidden_size // num_heads
        third = head_dim // 2 // 3
        config.text_config.num_attention_heads = num_heads
        config.text_config.num_key_value_heads = max(1, num_heads // 2)
        config.text_config.head_dim = head_dim
        config.text_config.rope_parameters["mrope_section"] = [head_dim // 2 - 2 * third, third, third]
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


TINY_TRAINING = {
    "learning_rate": 3e-3,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 20,
    "weight_decay": 0.0,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 16,
    "logging_steps": 10,
    "max_length": 512,
    "bf16": False,
    "use_cpu": True,
}
"""Training settings of the quickstart's tiny synthesizer (recipes/synthesizer/tiny_cpu.yaml mirrors them)."""


def world_seed_data(world_dir: Path, seed_dir: Path, seed: int, **options) -> Path:
    """The world's three seed sets joined into synthesizer training rows in ``seed_dir`` (112 px blank images);
    ``options`` go to :func:`hub_tools.training.seed_data.build_seed_data` (e.g. ``blank_fraction``)."""
    from hub_tools.miniature.world import world_files
    from hub_tools.training.seed_data import build_seed_data

    files = world_files(world_dir)
    build_seed_data(
        files["caption_set"],
        files["precise_set"],
        files["informative_set"],
        seed_dir,
        seed=seed,
        image_folder=files["seed_images"],
        blank_size=112,
        **options,
    )
    return seed_dir


def tune_tiny_synthesizer(
    world_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    seed: int = 0,
    max_minutes: float = 3.0,
    threads: int | str | None = "auto",
    model: dict | None = None,
    pretrain_steps: int = 0,
    pretrain_pairs: int = 20_000,
    **training: Any,
) -> Path:
    """Build the seed data of a world, train the tiny synthesizer on it; returns the tuned model folder.

    Layout: ``out_dir/seed_data`` (:func:`hub_tools.training.seed_data.build_seed_data`), ``out_dir/init``
    (the tiny model, :func:`build_tiny_synthesizer`), ``out_dir/synthesizer`` (the tuned model, returned).
    With ``pretrain_steps``, the random model is first pretrained on ``pretrain_pairs`` caption
    paraphrases of seed-set combinations (:func:`hub_tools.miniature.world.caption_paraphrases`,
    :func:`hub_tools.miniature.pretrain.pretrain_on_paraphrases`; summary in ``init/pretrain.json`` and in
    ``synthesizer.json``), so that it can copy facts from a caption before it learns the seed tasks.
    ``training`` overrides :data:`TINY_TRAINING` (e.g. ``max_steps=1800``: a step budget, which
    ``max_minutes`` then only caps; :func:`hub_tools.miniature.time_budget.budget_hooks`). Training runs with
    ``threads`` torch threads (:func:`torch_threads`); ``"auto"`` keeps choosing the fastest count while training
    (:func:`thread_tuner_callback`). ``model`` passes settings to :func:`build_tiny_synthesizer`
    (e.g. ``{"num_heads": 8}``).
    """
    import torch

    from hub_tools.miniature.world import world_corpus

    out = Path(out_dir)
    seed_dir = world_seed_data(world_dir, out / "seed_data", seed)
    init = build_tiny_synthesizer(out / "init", world_corpus(world_dir), seed=seed, **(model or {}))
    pretrained = None
    if pretrain_steps > 0:
        from hub_tools.miniature.pretrain import pretrain_world_paraphrases

        pretrained = pretrain_world_paraphrases(
            init, world_dir, pretrain_steps, seed, n_pairs=pretrain_pairs, threads=threads
        )
    from hub_tools.training.callbacks import StepProgress

    torch.manual_seed(seed)
    settings = {**TINY_TRAINING, "seed": seed, **training}
    tuner = [thread_tuner_callback()] if threads == "auto" else []
    with torch_threads(None if threads == "auto" else threads):
        args = recipe.sft_config(out / "synthesizer", **settings)
        hooks = budget_hooks(args, max_minutes)
        return recipe.train(
            init,
            seed_dir,
            out / "synthesizer",
            args=args,
            prompt_format="chat",
            callbacks=hooks["callbacks"] + tuner,
            lr_lambda=hooks["lr_lambda"],
            progress_callback=hooks["progress_callback"] or StepProgress("tuning on the seed set"),
            summary={"text_pretraining": pretrained},
            cache_rows=True,  # the seed rows are seen ~15 times: collate each once
        )


# ---------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------
_HINTS = (PRECISE_HINT.strip().lower(), INFORMATIVE_HINT.strip().lower(), CAPTION_PROMPT.lower())
_INTERROGATIVE = {"what", "which", "how", "is", "are", "does", "do", "where", "who", "why", "when", "can", "could"}


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def is_strict_triplet(triplet: TaskTriplet | dict) -> bool:
    """A well-formed triplet: the question is a question, no field repeats a hint or a turn marker, answers differ.

    A question ends with ``?`` or starts with an interrogative word. Hints are ``Answer with a
    precise/informative response.`` and ``Describe the image.``; turn markers are special tokens
    written out (``<|...|>``) and ``<image>``.
    """
    if isinstance(triplet, dict):
        triplet = TaskTriplet(triplet["question"], triplet["informative"], triplet["precise"])
    q, info, precise = triplet.question.strip(), triplet.informative.strip(), triplet.precise.strip()
    if not (q and info and precise):
        return False
    words = _normal(q).split()
    if not (q.endswith("?") or (words and words[0] in _INTERROGATIVE)):
        return False
    for text in (q, info, precise):
        if CHAT_TOKEN.search(text) or any(h in text.lower() for h in _HINTS):
            return False
    return _normal(info) != _normal(precise)


def score_generation(text: str, params, turn_format: TurnFormat | None = None) -> dict:
    """Parse one raw generation and judge its triplets against the world parameters of its image.

    Returns ``{"triplets": [dicts], "strict": [bool], "grounded": [bool], "question_types": [str]}``; a
    grounded triplet is strict and true of the image (:func:`hub_tools.miniature.world.check_triplet`); a question
    type is the answer type :func:`hub_tools.miniature.world.parse_question` reads from the question (``number``,
    ``yesno``, ``color``, ...), or ``unknown``.
    """
    from hub_tools.miniature.world import as_params, check_triplet, parse_question
    from hub_tools.synthesis import parse_triplets

    params = as_params(params)
    triplets = parse_triplets(text, turn_format=turn_format)
    strict = [is_strict_triplet(t) for t in triplets]
    grounded = [
        s and bool(check_triplet(t.question, t.informative, t.precise, params)) for t, s in zip(triplets, strict)
    ]
    kinds = [(parse_question(t.question, params) or ("unknown",))[0] for t in triplets]
    return {
        "triplets": [t.to_dict() for t in triplets],
        "strict": strict,
        "grounded": grounded,
        "question_types": kinds,
    }


def _pair_image(record: dict, root: Path):
    from hub_tools.data import load_image, resolve_image

    images = record.get("images") or [record.get("image")]
    return load_image(resolve_image(images[0], root))


def _pair_caption(record: dict) -> str:
    for message in record["messages"]:
        if message.get("role", message.get("from")) in ("assistant", "gpt"):
            content = message.get("content", message.get("value"))
            return content if isinstance(content, str) else recipe.message_text({"content": content})
    raise ValueError(f"pair {record.get('id')!r} has no caption")


def measure_synthesizer(
    model_dir: str | os.PathLike,
    heldout_pairs: str | os.PathLike | list[dict],
    *,
    batch_size: int = 16,
    max_new_tokens: int = 256,
    image_root: str | os.PathLike | None = None,
    samples: int = 5,
    threads: int | str | None = "auto",
) -> dict:
    """Generate with the synthesizer on world pairs and score the triplets against the world's parameters.

    ``heldout_pairs`` is a world pairs file (``heldout_pairs.json``) or its records (each with
    ``images``, ``messages`` and ``params``; relative image paths resolve against the file's folder
    or ``image_root``). Returns counts and shares: ``strict_share`` (pairs with at least one strict
    triplet), ``grounded_share`` (pairs with at least one strict triplet true of the image),
    ``first_grounded_share`` (the triplet the released protocol keeps is strict and true),
    ``triplet_grounded_share`` (over all parsed triplets), ``by_question_type`` (parsed and grounded
    triplets per question type, :func:`score_generation`), plus a few sample generations.
    Generation runs with ``threads`` torch threads (:func:`torch_threads`; ``"auto"``: :func:`auto_threads`).
    """
    from hub_tools.defaults import progress_bar
    from hub_tools.miniature.world import load_pairs
    from hub_tools.synthesis import TransformersEngine

    if isinstance(heldout_pairs, (str, os.PathLike)):
        root = Path(image_root) if image_root else Path(heldout_pairs).parent
        records = load_pairs(heldout_pairs)
    else:
        root = Path(image_root) if image_root else Path.cwd()
        records = list(heldout_pairs)
    if not records:
        raise ValueError("no pairs to measure")
    threads = auto_threads() if threads == "auto" else threads
    engine = TransformersEngine(str(model_dir), batch_size=batch_size, max_new_tokens=max_new_tokens, device="cpu")
    started = time.monotonic()
    counts = Counter()
    by_type: dict[str, Counter] = defaultdict(Counter)
    shown = []
    for start in progress_bar(range(0, len(records), batch_size), desc="synthesizing held-out pairs", unit="batch"):
        chunk = records[start : start + batch_size]
        batch = [(_pair_image(r, root), _pair_caption(r), None) for r in chunk]
        with torch_threads(threads):
            texts = engine.generate(batch)
        for record, (_, caption, _), text in zip(chunk, batch, texts):
            scored = score_generation(text, record["params"], engine.turn_format)
            counts["pairs"] += 1
            counts["with_triplet"] += bool(scored["triplets"])
            counts["with_strict"] += any(scored["strict"])
            counts["with_grounded"] += any(scored["grounded"])
            counts["first_grounded"] += bool(scored["grounded"] and scored["grounded"][0])
            counts["triplets"] += len(scored["triplets"])
            counts["strict_triplets"] += sum(scored["strict"])
            counts["grounded_triplets"] += sum(scored["grounded"])
            for kind, good in zip(scored["question_types"], scored["grounded"]):
                by_type[kind]["triplets"] += 1
                by_type[kind]["grounded"] += good
            if len(shown) < samples:
                shown.append({"id": record.get("id"), "caption": caption, "generation": text, **scored})
    n = counts["pairs"]
    return {
        **dict(counts),
        "strict_share": counts["with_strict"] / n,
        "grounded_share": counts["with_grounded"] / n,
        "first_grounded_share": counts["first_grounded"] / n,
        "triplet_grounded_share": counts["grounded_triplets"] / counts["triplets"] if counts["triplets"] else 0.0,
        "by_question_type": {kind: dict(by_type[kind]) for kind in sorted(by_type)},
        "seconds": round(time.monotonic() - started, 1),
        "model": str(model_dir),
        "samples": shown,
    }


# ---------------------------------------------------------------------------------------------
# command line: python -m hub_tools.miniature.synthesizer --config recipes/synthesizer/tiny_cpu.yaml
# ---------------------------------------------------------------------------------------------
@dataclass
class TinySynthesizerArguments(recipe.SynthesizerArguments):
    """The recipe's script arguments plus the miniature's: a world, the tiny model's pretraining, threads, a budget."""

    max_minutes: float | None = field(default=None, metadata={"help": "Stop training after this many minutes."})
    decay_share: float = field(
        default=1.0, metadata={"help": "With max_minutes: decay the lr over this last share of the budget."}
    )
    threads: str | None = field(
        default=None, metadata={"help": "torch threads: a number, or 'auto' to keep picking the fastest count."}
    )
    text_pretrain_steps: int = field(
        default=0,
        metadata={
            "help": "With model_name_or_path 'tiny': steps of text pretraining on the world's caption paraphrases "
            "before tuning (hub_tools.miniature.pretrain)."
        },
    )
    world_dir: str | None = field(
        default=None,
        metadata={
            "help": "A miniature world (hub_tools.miniature.world): its seed sets are used, and model_name_or_path "
            "'tiny' builds the tiny synthesizer from its text."
        },
    )


def main(argv: list[str] | None = None) -> int:
    """Parse ``TinySynthesizerArguments`` + ``SFTConfig`` + ``ModelConfig`` (``--config`` YAML) and train."""
    from trl import ModelConfig, SFTConfig, TrlParser

    parser = TrlParser((TinySynthesizerArguments, SFTConfig, ModelConfig))
    script, args, model_args = parser.parse_args_and_config(args=argv)
    if not model_args.model_name_or_path:
        raise SystemExit("set model_name_or_path (the synthesizer to tune, or 'tiny' with world_dir)")
    model = model_args.model_name_or_path
    if script.world_dir:
        from hub_tools.miniature.world import world_corpus, world_files

        files = world_files(script.world_dir)
        script.caption_set = script.caption_set or str(files["caption_set"])
        script.precise_set = script.precise_set or str(files["precise_set"])
        script.informative_set = script.informative_set or str(files["informative_set"])
        script.image_folder = script.image_folder or str(files["seed_images"])
        if model == "tiny":
            model = str(
                build_tiny_synthesizer(Path(args.output_dir) / "init", world_corpus(script.world_dir), args.seed)
            )
            if script.text_pretrain_steps > 0:
                from hub_tools.miniature.pretrain import pretrain_world_paraphrases

                pretrain_world_paraphrases(model, script.world_dir, script.text_pretrain_steps, args.seed)
    elif model == "tiny" or script.text_pretrain_steps:
        raise SystemExit("model_name_or_path 'tiny' needs world_dir (the tokenizer is trained on the world's text)")
    blank_size = 112 if model_args.model_name_or_path == "tiny" else recipe.BLANK_IMAGE_SIZE
    seed_dir = recipe.seed_data_from_arguments(script, args.output_dir, args.seed, blank_size=blank_size)
    model_kwargs = recipe.model_kwargs_from(model_args)
    callbacks = []
    if script.threads == "auto":
        callbacks.append(thread_tuner_callback())
    elif script.threads:
        import torch

        torch.set_num_threads(int(script.threads))
    hooks = budget_hooks(args, script.max_minutes, script.decay_share)
    out = recipe.train(
        model,
        seed_dir,
        args.output_dir,
        args=args,
        prompt_format=script.prompt_format,
        model_kwargs=model_kwargs,
        max_pixels=script.max_pixels,
        vision_lr_ratio=script.vision_lr_ratio,
        callbacks=hooks["callbacks"] + callbacks,
        lr_lambda=hooks["lr_lambda"],
        progress_callback=hooks["progress_callback"],
        cache_rows=True,
    )
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
