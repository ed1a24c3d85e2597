"""A model trains in the format it is evaluated in: the SFT recipe's rows against `adamllm evaluate`'s prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sft import tiny_mllama  # noqa: F401  (the fixture)

from hub_tools.evaluation import harness

REPO = Path(__file__).resolve().parents[1]
LLAVA_RECIPE = REPO / "recipes" / "llava-next-llama3-8b" / "sft" / "config_biomed.yaml"
QUESTION = "Which organ is shown here?"
ANSWER = "The liver."


def _row(image):
    return {
        "images": [image],
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]},
            {"role": "assistant", "content": [{"type": "text", "text": ANSWER}]},
            {"role": "user", "content": [{"type": "text", "text": "And its colour?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Dark red."}]},
        ],
    }


def _recipe_collator(model_dir, *overrides):
    """The collator `adamllm train` builds for the LLaVA-NeXT recipe, pointed at ``model_dir``."""
    from transformers import AutoProcessor

    from hub_tools.training import sft

    argv = ["--config", str(LLAVA_RECIPE), "--model_name_or_path", str(model_dir), "--use_cpu", "true"]
    script_args, training_args, model_args = sft.parse_args(argv + ["--bf16", "false", *overrides])
    processor = AutoProcessor.from_pretrained(model_dir)
    style = sft.training_prompt_style(script_args, training_args, model_args, processor)
    return sft.recipe_collator(processor, script_args, training_args, style), style, (script_args, training_args)


def _prompt_and_trained(batch, row=0):
    ids, labels = batch["input_ids"][row].tolist(), batch["labels"][row].tolist()
    first = next(i for i, label in enumerate(labels) if label != -100)
    return ids[:first], [t for t, label in zip(ids, labels) if label != -100]


def _collapse(ids, image_ids):
    """Token ids with every run of an image token shortened to one (image resolutions may differ)."""
    out = []
    for token in ids:
        if not (token in image_ids and out and out[-1] == token):
            out.append(token)
    return out


def test_llava_next_trains_in_the_released_conversation_it_is_evaluated_in(tiny_models):
    """The recipe renders a LLaVA-NeXT-Llama3 row in llava_llama_3: its prompt part is, token for token, the
    evaluation prompt (two BOS, system prompt, Llama-3 headers, the image tokens expanded alike)."""
    from PIL import Image

    collator, style, _ = _recipe_collator(tiny_models["llava_next"])
    assert style == "llava_llama_3"
    image = Image.new("RGB", (64, 40), (120, 30, 200))
    batch = collator([_row(image)])
    prompt_ids, trained = _prompt_and_trained(batch)

    vlm = harness.ChatVLM(str(tiny_models["llava_next"]), device="cpu")
    assert vlm.prompt_style == "llava_llama_3"
    evaluated = vlm.processor(text=[vlm.prompt(QUESTION)], images=[image], add_special_tokens=True)
    assert prompt_ids == list(evaluated["input_ids"][0])
    tok = vlm.tokenizer
    assert prompt_ids[:2] == [tok.bos_token_id] * 2
    assert "You are a helpful language and vision assistant." in tok.decode(prompt_ids)
    # loss on the assistant turns only (answer + end of turn), as before
    assert tok.decode(trained) == f"{ANSWER}<|eot_id|>Dark red.<|eot_id|>"


def test_prompt_format_chat_trains_llava_with_its_chat_template(tiny_models):
    """`--prompt_format chat` keeps the checkpoint's chat template (no system prompt, one BOS); a chat template
    path with the released format on a LLaVA-Llama-3 model is refused, not ignored."""
    from PIL import Image

    collator, style, _ = _recipe_collator(tiny_models["llava_next"], "--prompt_format", "chat")
    assert style == "chat_template"
    prompt_ids, _ = _prompt_and_trained(collator([_row(Image.new("RGB", (64, 40)))]))
    tok = collator.processor.tokenizer
    assert prompt_ids[0] == tok.bos_token_id and prompt_ids[1] != tok.bos_token_id
    assert "You are a helpful language and vision assistant." not in tok.decode(prompt_ids)
    template = Path(tiny_models["llava_next"]) / "chat_template.jinja"
    with pytest.raises(ValueError, match="set prompt_format chat"):
        _recipe_collator(tiny_models["llava_next"], "--chat_template_path", str(template))


def _check_chat_template_agreement(model_dir):
    from PIL import Image

    from hub_tools.training.collator import image_token_ids

    collator, style, _ = _recipe_collator(model_dir)
    assert style == "chat_template"
    image = Image.new("RGB", (64, 40), (10, 200, 40))
    prompt_ids, trained = _prompt_and_trained(collator([_row(image)]))
    vlm = harness.ChatVLM(str(model_dir), device="cpu")
    assert vlm.prompt_style == "chat_template"
    seen = {}
    real = vlm.model.generate

    def recording(**kwargs):
        seen.update(kwargs)
        return real(**kwargs)

    vlm.model.generate = recording
    vlm.generate([image], [QUESTION], max_new_tokens=1)
    evaluated = seen["input_ids"][0][seen["attention_mask"][0].bool()].tolist()
    ids = image_token_ids(collator.processor)
    # the same text tokens, BOS included; the evaluation's pixel limits may give another number of image tokens
    assert _collapse(prompt_ids, ids) == _collapse(evaluated, ids)
    return collator.processor.tokenizer, prompt_ids, trained


def test_qwen2_vl_trains_in_the_chat_template_prompt_it_is_evaluated_in(tiny_models):
    tok, prompt_ids, trained = _check_chat_template_agreement(tiny_models["qwen2_vl"])
    assert tok.decode(trained) == f"{ANSWER}<|im_end|>Dark red.<|im_end|>"


def test_llama_3_2_vision_trains_in_the_chat_template_prompt_it_is_evaluated_in(tiny_mllama):  # noqa: F811
    """The template writes the BOS; evaluation does not add a second one (training never did)."""
    tok, prompt_ids, _ = _check_chat_template_agreement(tiny_mllama)
    assert prompt_ids[0] == tok.bos_token_id and prompt_ids.count(tok.bos_token_id) == 1
