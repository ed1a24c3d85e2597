"""The offline tiny models reload with the Auto classes and generate, like Hub models."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from hub_tools.miniature.tiny_models import LLAMA3_SPECIAL_TOKENS, build_tiny_models


def test_three_models_reload_and_generate(tiny_models):
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    image = Image.new("RGB", (64, 48), (180, 40, 40))
    for name in ("qwen2_vl", "llava_next"):
        processor = AutoProcessor.from_pretrained(tiny_models[name])
        model = AutoModelForImageTextToText.from_pretrained(tiny_models[name])
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe the image."}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = processor(images=[image], text=[text], return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False, min_new_tokens=6)
        new = processor.decode(out[0, inputs["input_ids"].shape[1] :])
        assert out.shape[1] == inputs["input_ids"].shape[1] + 6 and isinstance(new, str) and new
        assert sum(p.numel() for p in model.parameters()) < 2_000_000
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"])
    model = AutoModelForCausalLM.from_pretrained(tiny_models["llama"])
    ids = tokenizer("Is it consistent? Answer:", return_tensors="pt")
    assert model(**ids).logits.shape[-1] == len(tokenizer)


def test_llama3_special_tokens_are_single_tokens_and_bos_is_added(tiny_models):
    from transformers import AutoProcessor, AutoTokenizer

    for tokenizer in (
        AutoTokenizer.from_pretrained(tiny_models["llama"]),
        AutoProcessor.from_pretrained(tiny_models["llava_next"]).tokenizer,
    ):
        for token in LLAMA3_SPECIAL_TOKENS:
            ids = tokenizer(token, add_special_tokens=False).input_ids
            assert ids == [tokenizer.convert_tokens_to_ids(token)], token
        bos = tokenizer.bos_token_id
        # Like the released synthesizer's tokenizer: a prompt that starts with BOS gets a second one.
        assert tokenizer("<|begin_of_text|>hi").input_ids[:2] == [bos, bos]


def test_qwen_template_marks_assistant_turns(tiny_models):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Q?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A."}]},
    ]
    out = processor.tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = out["input_ids"][0] if isinstance(out["input_ids"][0], list) else out["input_ids"]
    mask = out["assistant_masks"][0] if isinstance(out["assistant_masks"][0], list) else out["assistant_masks"]
    tokenizer = processor.tokenizer
    assert tokenizer.decode([i for i, m in zip(ids, mask) if m]) == "A.<|im_end|>"


def test_build_is_deterministic_and_cached(tmp_path):
    a = build_tiny_models(tmp_path / "a")
    b = build_tiny_models(tmp_path / "b")
    for name in a:
        sa = json.loads((a[name] / "tiny.json").read_text())
        assert sa == json.loads((b[name] / "tiny.json").read_text())
        ta = (a[name] / "tokenizer.json").read_text()
        assert ta == (b[name] / "tokenizer.json").read_text()
    from safetensors.torch import load_file

    wa = load_file(a["llama"] / "model.safetensors")
    wb = load_file(b["llama"] / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    mtime = (a["llama"] / "model.safetensors").stat().st_mtime_ns
    build_tiny_models(tmp_path / "a")  # cached: not rebuilt
    assert (a["llama"] / "model.safetensors").stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_tuned_synthesizer_writes_triplets_and_checker_writes_labels(tuned_tiny_models):
    tiny_models = tuned_tiny_models
    from hub_tools.filtering import LLMChecker
    from hub_tools.filtering.prompt import Item
    from hub_tools.miniature.tiny_tuned import checker_items, measure_format

    for name in ("synthesizer", "checker"):
        assert json.loads((tiny_models[name] / "tiny.json").read_text())["name"] == name
    measured = measure_format(tiny_models["synthesizer"])
    assert measured["triplet_share"] >= 0.5, measured  # 20 of 24 when measured (README)
    checker = LLMChecker(str(tiny_models["checker"]), device="cpu")
    items = checker_items(48, seed=7)
    verdicts = checker.judge([Item(q, i, p) for q, i, p, _ in items])
    labels = {v["label"] for v in verdicts}
    assert labels <= {"Yes", "No", "Open"} and len(labels) >= 2, [v["generated"] for v in verdicts]
    assert {v["label"] for v, (*_, truth) in zip(verdicts, items) if truth == "Open"} == {"Open"}
