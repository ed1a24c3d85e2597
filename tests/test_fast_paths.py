"""Fast paths give what the plain paths give (CPU, tiny models).

- synthesis: the compiled decode loop (``TransformersEngine(decode="compiled")``: batched prefill into a
  static cache, one-token greedy step with argmax and stop checks inside) gives the same greedy tokens as
  ``model.generate``; off CUDA the step runs eagerly by default, and compiled with ``torch.compile`` in a
  slow test;
- filter: batches sorted by suffix length give the same verdicts as unsorted batches;
- SFT: length-grouped batches (``train_sampling_strategy=group_by_length`` + our length column) give the
  same token losses as random batches, with less padding.
"""

from __future__ import annotations

import random

import pytest

NEW_TOKENS = 24


def _pairs(n: int = 5):
    """``n`` (image, caption, None) items of varied caption and image size (varied prompt lengths)."""
    import numpy as np
    from PIL import Image

    from hub_tools.miniature.samples import sample_records

    captions = [caption for _, _, caption, _ in sample_records(0)]
    out = []
    for i in range(n):
        arr = np.random.default_rng(i).integers(0, 255, size=(56 + 24 * i, 84 + 12 * i, 3), dtype=np.uint8)
        out.append((Image.fromarray(arr), " ".join(captions[i % len(captions)].split()[: 6 + 9 * i]), None))
    return out


def _engines(path, **kwargs):
    from hub_tools.synthesis import TransformersEngine

    common = {"batch_size": 3, "max_new_tokens": NEW_TOKENS, "device": "cpu", **kwargs}
    return TransformersEngine(str(path), decode="generate", **common), TransformersEngine(
        str(path), decode="compiled", **common
    )


def _upto_stop(row: list[int], stops: set[int], pad: int) -> list[int]:
    """Tokens up to and including the first stop; everything after it must be padding."""
    for n, tok in enumerate(row):
        if tok in stops:
            assert all(t == pad for t in row[n + 1 :]), row
            return row[: n + 1]
    return row


@pytest.mark.parametrize("name", ["qwen2_vl", "llava_next"])
def test_compiled_decode_gives_generate_tokens(tiny_models, name):
    """Same greedy token ids and texts as model.generate, left-padded batches of varied prompt lengths."""
    plain, fast = _engines(tiny_models[name])
    assert fast.decode_mode == "compiled" and not fast.compile_decode  # CPU: the same step, eager
    batch = _pairs()
    inputs = plain.collate([plain.encode(b) for b in batch])
    assert len({int(m.sum()) for m in inputs["attention_mask"]}) > 1  # rows really are padded differently
    want = plain.generate_plain(inputs).tolist()
    got = fast.decode_static(inputs).tolist()
    assert got == want
    assert len({tuple(r) for r in got}) > 1  # not a degenerate constant output
    assert fast.generate(batch) == plain.generate(batch)  # micro-batches of 3 (the last one short)


@pytest.mark.parametrize("name", ["qwen2_vl", "llava_next"])
def test_compiled_decode_stops_and_min_new_tokens(tiny_models, name):
    """A stop token mid-way ends a row (pads after it, early exit once all rows stopped); min_new_tokens holds."""
    plain, fast = _engines(tiny_models[name])
    batch = _pairs(4)
    inputs = plain.collate([plain.encode(b) for b in batch])
    free = plain.generate_plain(inputs).tolist()
    stop = free[0][3]  # make the 4th token of row 0 a stop token
    for engine in (plain, fast):
        engine.stop_ids = [stop]
    want, got = plain.generate_plain(inputs).tolist(), fast.decode_static(inputs).tolist()
    stops = {stop}
    assert [_upto_stop(r, stops, plain.pad_id) for r in got] == [_upto_stop(r, stops, plain.pad_id) for r in want]
    assert len(_upto_stop(got[0], stops, plain.pad_id)) == 4
    assert plain.generate(batch) == fast.generate(batch)
    # min_new_tokens suppresses the stop token until reached, in both paths alike.
    for engine in (plain, fast):
        engine.min_new_tokens = NEW_TOKENS
    want, got = plain.generate_plain(inputs).tolist(), fast.decode_static(inputs).tolist()
    assert got == want
    assert all(len(r) == NEW_TOKENS and stop not in r for r in got)


def test_decode_option_defaults_and_fallback(tiny_models):
    """CPU default is generate; a bad mode is refused; a repetition penalty falls back to generate."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hub_tools.commands.synthesize import add_arguments, synthesis_config
    from hub_tools.synthesis import TransformersEngine

    path = tiny_models["qwen2_vl"]
    engine = TransformersEngine(str(path), device="cpu")
    assert engine.decode_mode == "generate" and not engine.compile_decode
    with pytest.raises(ValueError, match="decode must be one of"):
        TransformersEngine(str(path), device="cpu", decode="graph")
    model = AutoModelForImageTextToText.from_pretrained(path)
    model.generation_config.repetition_penalty = 1.3
    with pytest.warns(UserWarning, match="repetition_penalty"):
        engine = TransformersEngine(model=model, processor=AutoProcessor.from_pretrained(path), decode="compiled")
    assert engine.decode_mode == "generate"

    import argparse

    parser = add_arguments(argparse.ArgumentParser())
    assert "--decode" in parser.format_help()
    cfg = synthesis_config(parser.parse_args(["--pairs", "p", "--output", "o", "--decode", "compiled"]))
    assert cfg.decode == "compiled"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["qwen2_vl", "llava_next"])
def test_torch_compiled_step_on_cpu_gives_generate_tokens(tiny_models, name):
    """The step through torch.compile (inductor on CPU; CUDA graphs need a GPU) gives the same texts."""
    plain, fast = _engines(tiny_models[name], compile_decode=True)
    batch = _pairs(4)
    assert fast.generate(batch) == plain.generate(batch)


# ---------------------------------------------------------------------------------------------
# filter
# ---------------------------------------------------------------------------------------------
def _items(n: int, seed: int = 0):
    from hub_tools.filtering import Item

    rng = random.Random(seed)
    words = ["the", "scan", "shows", "a", "small", "round", "lesion", "left", "kidney", "with", "clear", "margin"]

    def text(k):
        return " ".join(rng.choice(words) for _ in range(k))

    return [
        Item(text(rng.randint(4, 12)) + "?", text(rng.randint(3, 60)) + ".", text(rng.randint(1, 4))) for _ in range(n)
    ]


@pytest.mark.parametrize("shared_prefix", [True, False])
def test_filter_length_sorted_batches_give_the_same_verdicts(tiny_models, shared_prefix):
    """Batches of similar suffix length (as filter_run forms them) give each item the verdict it gets unsorted."""
    from hub_tools.filtering import LLMChecker

    checker = LLMChecker(str(tiny_models["llama"]), device="cpu", shared_prefix=shared_prefix)
    items, size = _items(24), 6
    lengths = [len(checker.suffix_ids(it)) for it in items]
    order = sorted(range(len(items)), key=lambda i: lengths[i])
    assert order != list(range(len(items)))

    def judged(order):
        out = [None] * len(items)
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            for i, verdict in zip(idx, checker.judge([items[i] for i in idx])):
                out[i] = verdict
        return out

    plain, by_length = judged(list(range(len(items)))), judged(order)
    for a, b in zip(plain, by_length):
        assert (a["label"], a["generated"]) == (b["label"], b["generated"])
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-5)
    # sorting cuts the suffix padding of the batches
    from hub_tools.training.collator import padding_share

    assert padding_share(lengths, size, order) < padding_share(lengths, size)


# ---------------------------------------------------------------------------------------------
# SFT
# ---------------------------------------------------------------------------------------------
def _token_losses(model, batch):
    """Sum and count of the next-token cross-entropy over the batch's trained tokens."""
    import torch
    import torch.nn.functional as F

    labels = batch["labels"]
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    ce = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), reduction="sum")
    return float(ce), int((labels[:, 1:] != -100).sum())


def test_length_grouped_batches_same_loss_less_padding(tiny_models, tmp_path):
    """The length column equals the collator's row lengths; grouped batches give the same token losses."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from hub_tools.miniature.sft_demo import write_demo_rows
    from hub_tools.training.collator import VisionSFTCollator, add_length_column, padding_share
    from hub_tools.training.data import load_rows

    path = tiny_models["qwen2_vl"]
    processor = AutoProcessor.from_pretrained(path)
    rows = load_rows(None, None, "train", str(write_demo_rows(tmp_path, num_rows=12)))
    rows = add_length_column(rows, processor)
    lengths = rows["length"]
    assert add_length_column(rows, processor)["length"] == lengths  # kept when present
    collator = VisionSFTCollator(processor)
    examples = [rows[i] for i in range(len(rows))]
    full = collator(examples)
    assert [int(m.sum()) for m in full["attention_mask"]] == lengths
    assert len(set(lengths)) > 1

    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    size = 4
    shuffled = list(range(len(examples)))
    random.Random(1).shuffle(shuffled)
    grouped = list(LengthGroupedSampler(size, lengths=lengths, generator=torch.Generator().manual_seed(0)))
    assert sorted(grouped) == list(range(len(examples)))
    totals = {}
    for name, order in (("random", shuffled), ("grouped", grouped)):
        loss = count = 0
        for start in range(0, len(order), size):
            part = collator([examples[i] for i in order[start : start + size]])
            s, c = _token_losses(model, part)
            loss, count = loss + s, count + c
        totals[name] = (loss, count)
    assert totals["random"][1] == totals["grouped"][1]
    assert totals["random"][0] == pytest.approx(totals["grouped"][0], rel=1e-5)
    assert padding_share(lengths, size, sorted(range(len(lengths)), key=lengths.__getitem__)) <= padding_share(
        lengths, size, shuffled
    )
    assert isinstance(rows, Dataset)


def test_sft_group_by_length_trains(tiny_models, tmp_path, monkeypatch):
    """`--train_sampling_strategy group_by_length` adds the length column, the sampler reads it, training runs."""
    from pathlib import Path

    import transformers.trainer

    from hub_tools.miniature.sft_demo import write_demo_rows
    from hub_tools.training.arguments import parse_args
    from hub_tools.training.sft import main

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "tiny" / "sft" / "config.yaml"
    rows = write_demo_rows(tmp_path / "rows", num_rows=8)
    argv = ["--config", str(recipe), "--model_name_or_path", str(tiny_models["qwen2_vl"]), "--dataset_dir", str(rows)]
    argv += ["--output_dir", str(tmp_path / "out"), "--max_steps", "2", "--save_strategy", "no"]
    argv += ["--train_sampling_strategy", "group_by_length", "--per_device_train_batch_size", "4"]
    seen = []

    class Spy(transformers.trainer.LengthGroupedSampler):
        def __init__(self, *args, lengths=None, **kwargs):
            seen.append(lengths)
            super().__init__(*args, lengths=lengths, **kwargs)

    monkeypatch.setattr(transformers.trainer, "LengthGroupedSampler", Spy)
    summary = main(*parse_args(argv))
    assert summary["stages"][0]["metrics"]["train_runtime"] > 0
    assert len(seen) == 1 and len(seen[0]) == 8 and len(set(seen[0])) > 1
