"""Briefly tuned tiny models for the offline walkthrough: a synthesizer that writes triplets, a checker with verdicts.

The random-weight tiny models write no complete triplet, so these two are tuned for about a minute each:
``synthesizer`` (the tiny Qwen2-VL tuned with the paper's recipe on a small world; the aim is the triplet
format, not true answers) and ``checker`` (a tiny Llama tuned to write `` Yes`` / `` No`` / `` Open`` after our
few-shot prompt; not accurate, but it writes the labels). :func:`build_all_tiny_models` (``adamllm
tiny-models DIR``) trains them once per seed into the tiny cache and copies them; measurements are in
``recipes/synthesizer/README.md``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

SYNTHESIZER_STEPS = 200
"""Seed-set tuning steps of the tiny format synthesizer (batch 8; the quickstart's synthesizer takes 1,900 + 1,300)."""
SYNTHESIZER_WORLD = {"seed_images": 200, "pairs": 1, "benchmark_per_task": 1, "questions_per_image": [2, 3]}
"""The miniature world it is tuned on: 2-3 questions per image, so each row repeats several questions under both hints."""
CHECKER_STEPS = 400
"""Training steps of the tiny checker (batch 16)."""
CHECKER_LABEL_SHARES = {"Yes": 0.4, "No": 0.35, "Open": 0.25}

OPEN_QUESTIONS = (
    "Describe the image.",
    "What does this image show?",
    "Write a short caption for this image.",
    "Describe the scene in detail.",
    "What story could this picture tell?",
    "What do you think about this image?",
    "Why is this kind of image useful?",
)
"""Open-ended questions (a description, an opinion, background knowledge) of the checker's ``Open`` items."""


# ---------------------------------------------------------------------------------------------
# the synthesizer
# ---------------------------------------------------------------------------------------------
def build_tuned_synthesizer(
    out_dir: str | os.PathLike,
    seed: int = 0,
    steps: int = SYNTHESIZER_STEPS,
    max_minutes: float = 5.0,
    threads: int | str | None = "auto",
) -> Path:
    """Tune the tiny synthesizer for ``steps`` steps on a small world; save it (model + processor) to ``out_dir``.

    The world and the seed rows are built in a temporary folder and removed; ``out_dir/synthesizer.json``
    is the tuning summary (steps, seconds, losses) with ``sample_pairs``: :func:`measure_format` of the result.
    ``max_minutes`` caps a very slow run.
    """
    from hub_tools.miniature.synthesizer import tune_tiny_synthesizer
    from hub_tools.miniature.world import build_world

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tune-synthesizer-", dir=out.parent) as work:
        world = build_world(Path(work) / "world", seed=seed, **SYNTHESIZER_WORLD)
        tuned = tune_tiny_synthesizer(
            world,
            Path(work) / "tune",
            seed=seed,
            max_minutes=max_minutes,
            threads=threads,
            max_steps=steps,
            logging_steps=25,
        )
        (tuned / "training_args.bin").unlink(missing_ok=True)
        summary = json.loads((tuned / "synthesizer.json").read_text())
        for key in ("base_model", "seed_data"):  # temporary paths
            summary.pop(key, None)
        summary["world"] = {"seed": seed, **SYNTHESIZER_WORLD}
        shutil.copytree(tuned, out, dirs_exist_ok=True)
    summary["sample_pairs"] = measure_format(out)
    (out / "synthesizer.json").write_text(json.dumps(summary, indent=1) + "\n")
    return out


def measure_format(model_dir: str | os.PathLike, max_new_tokens: int = 256, threads: int | None = None) -> dict:
    """Share of the bundled sample pairs (``adamllm sample-data``) on which ``model_dir`` writes a complete triplet.

    ``complete``: :func:`hub_tools.synthesis.parse_triplets` finds at least one triplet; ``strict``: the first one
    (the one the released protocol keeps) is strict (:func:`hub_tools.miniature.synthesizer.is_strict_triplet`).
    """
    from hub_tools.miniature.samples import sample_records
    from hub_tools.miniature.synthesizer import is_strict_triplet
    from hub_tools.miniature.threads import torch_threads
    from hub_tools.synthesis import TransformersEngine, parse_triplets

    records = list(sample_records())
    engine = TransformersEngine(str(model_dir), batch_size=len(records), max_new_tokens=max_new_tokens, device="cpu")
    started = time.monotonic()
    with torch_threads(threads):
        texts = engine.generate([(image, caption, None) for _, image, caption, _ in records])
    complete = strict = 0
    for text in texts:
        triplets = parse_triplets(text, turn_format=engine.turn_format)
        complete += bool(triplets)
        strict += bool(triplets) and is_strict_triplet(triplets[0])
    n = len(records)
    return {
        "pairs": n,
        "with_triplet": complete,
        "with_strict_triplet": strict,
        "triplet_share": complete / n,
        "strict_share": strict / n,
        "max_new_tokens": max_new_tokens,
        "seconds": round(time.monotonic() - started, 1),
    }


# ---------------------------------------------------------------------------------------------
# the checker
# ---------------------------------------------------------------------------------------------
def checker_items(n: int, seed: int = 0) -> list[tuple[str, str, str, str]]:
    """``n`` labelled items ``(question, informative, precise, label)`` drawn from the miniature world.

    ``Yes``: a world question with its own two answers. ``No``: the same question and informative answer
    with the precise answer of the same question type about another image (a different value; yes/no
    answers flipped). ``Open``: an open-ended question (:data:`OPEN_QUESTIONS`) with a caption as the
    informative answer and the first words of another caption of the image as the precise one.
    """
    from hub_tools.miniature.world import caption, questions
    from hub_tools.miniature.world.params import sample_params

    rng = random.Random(f"{seed}|tiny-checker")
    labels, weights = zip(*CHECKER_LABEL_SHARES.items())
    items = []
    while len(items) < n:
        kind = rng.choice(["food", "scan"])
        params = sample_params(rng, kind, set(), want_heldout=False)
        label = rng.choices(labels, weights)[0]
        if label == "Open":
            words = caption(params, rng).rstrip(".").split()
            precise = " ".join(words[: rng.randint(3, 6)]) + "."
            items.append((rng.choice(OPEN_QUESTIONS), caption(params, rng), precise, "Open"))
            continue
        qa = rng.choice(questions(params, rng))
        if label == "Yes":
            items.append((qa.question, qa.informative, qa.precise, "Yes"))
            continue
        if qa.precise in ("Yes", "No"):
            wrong = "No" if qa.precise == "Yes" else "Yes"
        else:
            other = sample_params(rng, kind, set(), want_heldout=False)
            pool = [q.precise for q in questions(other, rng) if q.task == qa.task and q.precise != qa.precise]
            if not pool:
                continue
            wrong = pool[0]
        items.append((qa.question, qa.informative, wrong, "No"))
    return items


def _checker_corpus(seed: int) -> list[str]:
    from hub_tools.filtering.prompt import LABELS, Item, item_text, prefix_text
    from hub_tools.miniature.tiny_models import _corpus

    items = [item_text(Item(q, i, p)) + f" {label}" for q, i, p, label in checker_items(2000, seed + 1)]
    labels = [" ".join(f" {label}" for label in LABELS)] * 200
    return [prefix_text()] * 50 + items + labels + _corpus()


def build_tiny_checker(
    out_dir: str | os.PathLike,
    seed: int = 0,
    steps: int = CHECKER_STEPS,
    hidden_size: int = 64,
    num_layers: int = 2,
    batch_size: int = 16,
    learning_rate: float = 3e-3,
    threads: int | None = None,
) -> Path:
    """Build a tiny Llama checker and tune it to answer our few-shot prompt with a label; save it to ``out_dir``.

    The tokenizer (the Llama-3 special tokens, BOS added in front, no chat template: a base model) is trained
    on the prompt, world items and the labels, so `` Yes`` / `` No`` / `` Open`` are single tokens. Each
    training sequence is the whole prompt of an item (:class:`hub_tools.filtering.prompt.PromptTemplate`,
    tokenized as :class:`hub_tools.filtering.llm.LLMChecker` does) followed by the label token and
    ``<|end_of_text|>`` (the model's end token, which stops the checker's generation); only those two
    tokens are trained. Writes ``checker.json`` (steps, seconds, losses, held-out accuracy and label counts
    of greedy generation under the released rule).
    """
    import torch
    from transformers import LlamaForCausalLM

    from hub_tools.filtering.prompt import Item, PromptTemplate
    from hub_tools.miniature.threads import torch_threads
    from hub_tools.miniature.tiny_models import _llama3_tokenizer, tiny_llama_config

    out = Path(out_dir)
    started = time.monotonic()
    tokenizer = _llama3_tokenizer(chat_template=False, corpus=_checker_corpus(seed))
    eos = tokenizer.convert_tokens_to_ids("<|end_of_text|>")
    label_ids = {}
    for label in ("Yes", "No", "Open"):
        ids = tokenizer(" " + label, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise RuntimeError(f"label {label!r} is not a single token for the tiny checker's tokenizer: {ids}")
        label_ids[label] = ids[0]
    config = tiny_llama_config(tokenizer, hidden_size, num_layers)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    template = PromptTemplate.default()
    items = checker_items(steps * batch_size // 4 + 200, seed)
    train, heldout = items[200:], items[:200]

    prefix = tokenizer(template.prefix)["input_ids"]

    def step_loss(batch):
        # The prompt prefix is the same for every item: its KV cache is computed once per step (no gradient)
        # and shared by the batch, as the checker runs it; only the item suffixes are trained through.
        prompts = tokenizer([template.render(Item(q, i, p)) for q, i, p, _ in batch])["input_ids"]
        shared = min(min(_common_prefix(ids, prefix), len(ids) - 1) for ids in prompts)
        rows = [ids[shared:] + [label_ids[label], eos] for ids, (*_, label) in zip(prompts, batch)]
        width, n = max(map(len, rows)), len(rows)
        pad = tokenizer.pad_token_id
        with torch.no_grad():
            cache = model(input_ids=torch.tensor([prefix[:shared]]), use_cache=True).past_key_values
        for layer in cache.layers:
            layer.keys = layer.keys.expand(n, -1, -1, -1)
            layer.values = layer.values.expand(n, -1, -1, -1)
        return model(
            input_ids=torch.tensor([r + [pad] * (width - len(r)) for r in rows]),
            attention_mask=torch.tensor([[1] * (shared + len(r)) + [0] * (width - len(r)) for r in rows]),
            position_ids=torch.arange(shared, shared + width).expand(n, -1),
            past_key_values=cache,
            labels=torch.tensor([[-100] * (len(r) - 2) + r[-2:] + [-100] * (width - len(r)) for r in rows]),
        ).loss

    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    rng = random.Random(f"{seed}|tiny-checker-batches")
    losses, window = [], []
    model.train()
    with torch_threads(threads):
        for step in range(steps):
            warm = min(1.0, (step + 1) / 20)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * warm * 0.5 * (1 + math.cos(math.pi * step / steps))
            loss = step_loss(rng.sample(train, batch_size))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            window.append(loss.item())
            if len(window) == 25:
                losses.append(round(sum(window) / len(window), 4))
                window = []
    model.eval()
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    seconds = round(time.monotonic() - started, 1)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    summary = {"steps": steps, "batch_size": batch_size, "learning_rate": learning_rate, "seconds": seconds}
    summary.update(losses=losses, heldout=judge_heldout(out, heldout, threads=threads))
    (out / "checker.json").write_text(json.dumps(summary, indent=1) + "\n")
    return out


def _common_prefix(a: list[int], b: list[int]) -> int:
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k


def judge_heldout(model_dir: str | os.PathLike, items: list[tuple[str, str, str, str]], threads: int | None = None):
    """Verdicts of the checker in ``model_dir`` (released rule) on labelled ``items``: accuracy and label counts."""
    from collections import Counter

    from hub_tools.filtering import LLMChecker
    from hub_tools.filtering.prompt import Item
    from hub_tools.miniature.threads import torch_threads

    checker = LLMChecker(str(model_dir), device="cpu")
    with torch_threads(threads):
        verdicts = []
        for start in range(0, len(items), 32):
            verdicts += checker.judge([Item(q, i, p) for q, i, p, _ in items[start : start + 32]])
    right = sum(v["label"] == label for v, (*_, label) in zip(verdicts, items))
    return {
        "items": len(items),
        "accuracy": round(right / len(items), 3),
        "verdicts": dict(Counter(v["label"] for v in verdicts)),
        "truth": dict(Counter(label for *_, label in items)),
    }


TUNED_FORMAT_VERSION = "1"
"""Bumped whenever the tuned tiny models change, so cached copies are retrained."""
TUNED = ("synthesizer", "checker")
"""The briefly tuned tiny models (about a minute each, once per cache)."""


@contextmanager
def _locked(lock_path: Path):
    """An exclusive lock file (two processes building the cache at once: the second waits, then reuses)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_all_tiny_models(
    out_dir: str | Path,
    seed: int = 0,
    force: bool = False,
    tuned: bool = True,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """The random-weight tiny models plus, with ``tuned``, the tuned ``synthesizer`` and ``checker``.

    The tuned models are trained once into ``cache_dir`` (default :func:`hub_tools.defaults.default_tiny_cache_dir`),
    under a lock (a second process waits, then reuses), and copied into ``out_dir``; ``force`` retrains them.
    ``log`` is told before a model is trained (e.g. ``print``).
    """
    from hub_tools.defaults import default_tiny_cache_dir
    from hub_tools.miniature.tiny_models import _check_replaceable, _install, _stamped, build_tiny_models

    out_dir = Path(out_dir)
    if tuned:  # every folder to replace is checked before anything is built or removed
        for name in ("synthesizer", "checker"):
            want = {"version": TUNED_FORMAT_VERSION, "seed": seed, "name": name}
            if force or not _stamped(out_dir / name, want):
                _check_replaceable(out_dir / name)
    paths = build_tiny_models(out_dir, seed=seed, force=force)
    if not tuned:
        return paths
    builders = {"synthesizer": build_tuned_synthesizer, "checker": build_tiny_checker}
    cache = Path(cache_dir) if cache_dir is not None else default_tiny_cache_dir()
    for name, builder in builders.items():
        path = out_dir / name
        want = {"version": TUNED_FORMAT_VERSION, "seed": seed, "name": name}
        if not force and _stamped(path, want):
            paths[name] = path
            continue
        source = cache / name
        with _locked(cache / f".{name}.lock"):
            if force or not _stamped(source, want):
                if log is not None:
                    log(f"tuning the tiny {name} (once; cached in {cache})")
                _install(lambda tmp, builder=builder: builder(tmp, seed=seed), source, want)
            if source.resolve() != path.resolve():
                _install(lambda tmp, source=source: shutil.copytree(source, tmp), path, want)
        paths[name] = path
    return paths
