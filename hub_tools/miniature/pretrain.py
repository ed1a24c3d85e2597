"""Text pretraining of a tiny model built from scratch: paraphrasing captions, so it learns to copy.

A pretrained base model can copy a fact from its context (a count, a side) into an answer; a random tiny
model cannot, so before seed-set tuning it reads one caption of an image and writes another of the same image
(:func:`hub_tools.miniature.world.caption_paraphrases`, seed-set combinations only): every target token is a
copy. A plain PyTorch loop on text, loss on the assistant turn, warmup then cosine. Why it is needed, with
the measurements: ``recipes/synthesizer/README.md``.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path


def paraphrase_batch(tokenizer, pairs: list[tuple[str, str]]) -> dict:
    """Tensors of one batch: ``input_ids``, ``attention_mask`` and ``labels`` (only the second caption is trained).

    Each pair is rendered as ``<|im_start|>user\\n{first}<|im_end|>\\n<|im_start|>assistant\\n{second}<|im_end|>\\n``
    (the chat format the synthesizer's turns use), right-padded with the tokenizer's pad token.
    """
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token")
    return batch_from_ids(*encode_paraphrases(tokenizer, pairs), tokenizer.pad_token_id)


def encode_paraphrases(tokenizer, pairs: list[tuple[str, str]]) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids of every pair's prompt turn and trained rewrite, tokenized once (batched) for the whole run.

    Gives the same ids as :func:`paraphrase_batch` tokenizing pair by pair; :func:`batch_from_ids` pads them.
    """
    for first, second in pairs:
        if not first.strip() or not second.strip():
            raise ValueError(f"empty caption in paraphrase pair {(first, second)!r}")
    prompts = tokenizer(
        [f"<|im_start|>user\n{first}<|im_end|>\n<|im_start|>assistant\n" for first, _ in pairs],
        add_special_tokens=False,
    )["input_ids"]
    targets = tokenizer([f"{second}<|im_end|>\n" for _, second in pairs], add_special_tokens=False)["input_ids"]
    return prompts, targets


def batch_from_ids(prompts: list[list[int]], targets: list[list[int]], pad: int) -> dict:
    """The tensors of :func:`paraphrase_batch` from pre-tokenized prompts and targets (:func:`encode_paraphrases`)."""
    import torch

    ids = [p + t for p, t in zip(prompts, targets)]
    labels = [[-100] * len(p) + t for p, t in zip(prompts, targets)]
    width = max(map(len, ids))
    return {
        "input_ids": torch.tensor([row + [pad] * (width - len(row)) for row in ids]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids]),
        "labels": torch.tensor([row + [-100] * (width - len(row)) for row in labels]),
    }


def _draw_batches(rng, positions, lengths: list[int], size: int, groups: int) -> list[list[int]]:
    """The next batches of pair positions, last to train first: one plain draw, or ``groups`` grouped by length."""
    if groups == 1:
        return [rng.sample(positions, size)]  # the same draws as sampling the pairs themselves
    drawn = sorted(rng.sample(positions, min(size * groups, len(positions))), key=lambda i: (lengths[i], i))
    batches = [drawn[k : k + size] for k in range(0, len(drawn) - size + 1, size)] or [drawn]
    rng.shuffle(batches)
    return batches


def pretrain_on_paraphrases(
    model_dir: str | os.PathLike,
    pairs: list[tuple[str, str]],
    *,
    max_steps: int = 600,
    max_minutes: float | None = None,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    warmup_steps: int = 20,
    seed: int = 0,
    log_every: int = 50,
    threads: int | str | None = None,
    length_groups: int = 1,
) -> dict:
    """Train the model in ``model_dir`` on caption paraphrase ``pairs`` and save it back; returns a summary.

    Runs ``max_steps`` steps of ``batch_size`` pairs drawn with a seeded generator, stopping early
    when ``max_minutes`` is set and spent (the cosine then follows the elapsed share of the budget, as
    in :func:`hub_tools.miniature.time_budget.time_budget_callback`). A progress bar shows the step and the
    loss. ``threads``: a torch thread count, or ``"auto"`` to keep picking the fastest count while
    training (:func:`hub_tools.miniature.threads.thread_tuner_callback`). The summary holds ``steps``,
    ``seconds``, ``first_loss``, ``last_loss`` (mean of the last ``log_every`` steps), ``losses`` (one
    mean per ``log_every`` steps) and ``thread_choices``. ``length_groups`` > 1 draws that many batches at
    once, sorts their pairs by length and trains them one batch after another in a seeded random order:
    the same pairs per step, with less padding (a step costs about its padded tokens; 8 groups cut the
    padded share of a batch from ~35% to a few %).
    """
    from types import SimpleNamespace

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hub_tools.defaults import progress_bar
    from hub_tools.miniature.threads import thread_tuner_callback, torch_threads

    if not pairs:
        raise ValueError("no paraphrase pairs to pretrain on")
    if max_steps < 1:
        raise ValueError(f"max_steps must be positive, not {max_steps}")
    model_dir = Path(model_dir)
    tokenizer = AutoProcessor.from_pretrained(str(model_dir)).tokenizer
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token")
    prompts, targets = encode_paraphrases(tokenizer, pairs)  # once, not per step
    positions = range(len(pairs))
    lengths = [len(p) + len(t) for p, t in zip(prompts, targets)]
    queue: list[list[int]] = []
    if length_groups < 1:
        raise ValueError(f"length_groups must be at least 1, not {length_groups}")
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_pretrained(str(model_dir), dtype=torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    rng = random.Random(f"{seed}|paraphrase-batches")
    tuner = thread_tuner_callback() if threads == "auto" else None
    state = SimpleNamespace(global_step=0)  # what the thread tuner reads of a trainer state
    budget = max_minutes * 60 if max_minutes else None
    started = time.monotonic()
    losses, window, first_loss, step = [], [], None, 0
    bar = progress_bar(total=max_steps, desc="pretraining on caption paraphrases", unit="step")
    with torch_threads(None if threads in (None, "auto") else int(threads)):
        while step < max_steps:
            elapsed = time.monotonic() - started
            if budget is not None and elapsed >= budget:
                break
            progress = min(1.0, max(step / max_steps, elapsed / budget if budget else 0.0))
            warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * warm * 0.5 * (1 + math.cos(math.pi * progress))
            if not queue:
                queue = _draw_batches(rng, positions, lengths, min(batch_size, len(pairs)), length_groups)
            drawn = queue.pop()
            batch = batch_from_ids([prompts[i] for i in drawn], [targets[i] for i in drawn], tokenizer.pad_token_id)
            state.global_step = step
            if tuner is not None:
                tuner.on_step_begin(None, state, None)
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if tuner is not None:
                tuner.on_step_end(None, state, None)
            step += 1
            value = loss.item()
            first_loss = value if first_loss is None else first_loss
            window.append(value)
            if len(window) == log_every:
                losses.append(sum(window) / len(window))
                window = []
            bar.update(1)
            bar.set_postfix(loss=f"{value:.3f}", refresh=False)
    bar.close()
    if window:
        losses.append(sum(window) / len(window))
    model.save_pretrained(str(model_dir))
    return {
        "pairs": len(pairs),
        "steps": step,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seconds": round(time.monotonic() - started, 1),
        "stopped_by_time_budget": step < max_steps,
        "first_loss": first_loss,
        "last_loss": losses[-1] if losses else None,
        "losses": [round(x, 4) for x in losses],
        "thread_choices": [list(h) for h in tuner.history] if tuner is not None else [],
    }


def pretrain_world_paraphrases(
    model_dir: str | os.PathLike,
    world_dir: str | os.PathLike,
    steps: int,
    seed: int = 0,
    n_pairs: int = 20_000,
    threads: int | str | None = "auto",
    length_groups: int = 8,
) -> dict:
    """Pretrain the tiny model in ``model_dir`` for ``steps`` steps on ``n_pairs`` caption paraphrases of a world.

    The paraphrases (:func:`hub_tools.miniature.world.caption_paraphrases`) avoid the world's held-out
    combinations (read from its ``world.json``). ``threads`` and ``length_groups`` as in
    :func:`pretrain_on_paraphrases`.
    Returns :func:`pretrain_on_paraphrases`'s summary, also written to ``model_dir/pretrain.json``.
    """
    import json

    from hub_tools.miniature.world import DEFAULT_DOMAIN, caption_paraphrases

    meta_path = Path(world_dir) / "world.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{str(world_dir)!r} is not a world folder (no world.json)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    pairs = caption_paraphrases(
        seed,
        n_pairs,
        meta["heldout_combinations"],
        food_share=meta["config"]["food_share"],
        max_kinds=meta["config"]["max_ingredient_kinds"],
        domain=meta["config"].get("domain", DEFAULT_DOMAIN),
    )
    summary = pretrain_on_paraphrases(
        model_dir, pairs, max_steps=steps, seed=seed, threads=threads, length_groups=length_groups
    )
    (Path(model_dir) / "pretrain.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary
