"""Synthesizer prompts (token-exact against the tiny LLaVA-NeXT tokenizer), chat-template path, engines."""

from __future__ import annotations

import pytest

from hub_tools.synthesis import (
    TransformersEngine,
    build_chat_prompt,
    build_released_prompt,
    chat_inputs,
    chat_turn_format,
    parse_triplets,
    pick_prompt_format,
    released_inputs,
)

RELEASED = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful language and vision "
    "assistant. You are able to understand the visual content that the user provides, and assist the user with "
    "a variety of tasks using natural language.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nIMG\nDescribe the image.<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{caption}<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n"
)
CAPTION = "Axial CT of the abdomen; a round lesion sits in the left kidney."


@pytest.fixture(scope="module")
def llava(tiny_models):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_models["llava_next"])


@pytest.fixture(scope="module")
def qwen(tiny_models):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])


@pytest.fixture(scope="module")
def image():
    from PIL import Image

    return Image.new("RGB", (64, 40), (120, 30, 200))


def test_released_prompt_string():
    assert build_released_prompt(CAPTION) == RELEASED.replace("IMG", "<image>").format(caption=CAPTION)
    assert build_released_prompt("c", image_token="<|reserved_special_token_4|>") == RELEASED.replace(
        "IMG", "<|reserved_special_token_4|>"
    ).format(caption="c")


def expected_released_ids(tok, caption: str) -> list[int]:
    """Build the ids piece by piece: special tokens by id, text between them encoded alone."""
    special = tok.convert_tokens_to_ids
    pieces = [
        ("s", "<|begin_of_text|>"),
        ("s", "<|start_header_id|>"),
        ("t", "system"),
        ("s", "<|end_header_id|>"),
        (
            "t",
            "\n\nYou are a helpful language and vision assistant. You are able to understand the visual content "
            "that the user provides, and assist the user with a variety of tasks using natural language.",
        ),
        ("s", "<|eot_id|>"),
        ("s", "<|start_header_id|>"),
        ("t", "user"),
        ("s", "<|end_header_id|>"),
        ("t", "\n\n"),
        ("s", "<image>"),
        ("t", "\nDescribe the image."),
        ("s", "<|eot_id|>"),
        ("s", "<|start_header_id|>"),
        ("t", "assistant"),
        ("s", "<|end_header_id|>"),
        ("t", "\n\n" + caption),
        ("s", "<|eot_id|>"),
        ("s", "<|start_header_id|>"),
        ("t", "user"),
        ("s", "<|end_header_id|>"),
        ("t", "\n\n"),
    ]
    ids = [tok.bos_token_id]  # the tokenizer's own BOS, in front of the prompt's <|begin_of_text|>
    for kind, piece in pieces:
        ids += [special(piece)] if kind == "s" else tok(piece, add_special_tokens=False)["input_ids"]
    return ids


def test_released_prompt_token_for_token(llava, image, tiny_models):
    import torch
    from transformers import AutoModelForImageTextToText

    tok = llava.tokenizer
    expected = expected_released_ids(tok, CAPTION)
    assert expected[:2] == [tok.bos_token_id, tok.bos_token_id]  # two BOS, as released
    assert tok(build_released_prompt(CAPTION))["input_ids"] == expected

    inputs = released_inputs(llava, image, CAPTION)
    ids = inputs["input_ids"][0].tolist()
    image_id = tok.convert_tokens_to_ids("<image>")
    n_image = ids.count(image_id)
    assert n_image > 1  # expanded to the image's feature count
    first = ids.index(image_id)
    assert ids[first : first + n_image] == [image_id] * n_image  # one contiguous run
    assert ids[: first + 1] + ids[first + n_image :] == expected
    # the expansion matches what the model consumes (it raises on a mismatch)
    model = AutoModelForImageTextToText.from_pretrained(tiny_models["llava_next"])
    with torch.no_grad():
        model(**inputs)


def test_prompt_format_detection(llava, qwen):
    assert pick_prompt_format(llava) == "released"
    assert pick_prompt_format(qwen) == "chat"
    assert pick_prompt_format(object()) == "chat"


def test_chat_turn_format_and_prompt_qwen(qwen, image):
    fmt = chat_turn_format(qwen)
    assert fmt.user_open == "<|im_start|>user\n"
    assert fmt.assistant_open == "<|im_start|>assistant\n"
    assert fmt.turn_end == "<|im_end|>"
    prompt = build_chat_prompt(qwen, CAPTION)
    rendered = qwen.apply_chat_template(
        [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe the image."}]},
            {"role": "assistant", "content": [{"type": "text", "text": CAPTION}]},
        ],
        tokenize=False,
    )
    assert prompt == rendered + "<|im_start|>user\n"
    assert "<|vision_start|><|image_pad|><|vision_end|>Describe the image." in prompt
    assert build_chat_prompt(qwen, "c", caption_prompt="What is this?").count("What is this?") == 1

    inputs = chat_inputs(qwen, image, CAPTION)
    ids = inputs["input_ids"][0].tolist()
    tok = qwen.tokenizer
    pad_id = tok.convert_tokens_to_ids("<|image_pad|>")
    grid = inputs["image_grid_thw"][0].tolist()
    assert ids.count(pad_id) == grid[0] * grid[1] * grid[2] // 4  # 2x2 merge
    assert tok.decode(ids, skip_special_tokens=False).endswith(CAPTION + "<|im_end|>\n<|im_start|>user\n")


def test_chat_path_on_a_llama3_template(llava):
    fmt = chat_turn_format(llava)  # the Llama-3 chat template gives the released markers
    assert fmt.user_open == "<|start_header_id|>user<|end_header_id|>\n\n"
    assert fmt.turn_end == "<|eot_id|>"


@pytest.fixture(scope="module")
def batch():
    from PIL import Image

    sizes = [(64, 40), (30, 90), (50, 50), (90, 28), (40, 40)]
    captions = ["A CT scan.", "A plate of pasta with tomato sauce and basil leaves on top.", "X-ray.", "Soup.", "Rice"]
    return [(Image.new("RGB", s, (i * 40, 90, 10)), c, None) for i, (s, c) in enumerate(zip(sizes, captions))]


@pytest.mark.parametrize("name", ["llava_next", "qwen2_vl"])
def test_transformers_engine_batches_match_single(tiny_models, batch, name):
    engine = TransformersEngine(str(tiny_models[name]), batch_size=2, max_new_tokens=12)
    assert engine.prompt_format == ("released" if name == "llava_next" else "chat")
    outs = engine.generate(batch)
    assert len(outs) == len(batch) and all(isinstance(o, str) and o for o in outs)
    pad = engine.tokenizer.pad_token
    assert not any(pad in o for o in outs)
    engine.batch_size = 1
    assert engine.generate(batch) == outs  # sorting + left padding change nothing, order kept
    assert engine.generate([]) == []
    for out in outs:
        parse_triplets(out, turn_format=engine.turn_format)  # random weights: any text parses


def test_engine_stop_tokens_and_decode(tiny_models):
    engine = TransformersEngine(str(tiny_models["llava_next"]), batch_size=1, max_new_tokens=4)
    tok = engine.tokenizer
    eot, eos = tok.convert_tokens_to_ids("<|eot_id|>"), tok.convert_tokens_to_ids("<|end_of_text|>")
    assert engine.stop_ids == [eos]  # never the turn end
    ids = tok("Yes.", add_special_tokens=False)["input_ids"] + [eot, eos, engine.pad_id, 5]
    assert engine.decode([engine.pad_id] + ids) == "Yes.<|eot_id|>"
    qwen = TransformersEngine(str(tiny_models["qwen2_vl"]), batch_size=1, max_new_tokens=4)
    assert qwen.tokenizer.convert_tokens_to_ids("<|im_end|>") not in qwen.stop_ids
    assert qwen.tokenizer.convert_tokens_to_ids("<|endoftext|>") in qwen.stop_ids


def test_static_cache_pads_to_bucket_and_matches_dynamic(tiny_models, batch):
    from hub_tools.synthesis.engines import STATIC_LENGTH_BUCKET

    dynamic = TransformersEngine(str(tiny_models["llava_next"]), batch_size=4, max_new_tokens=6)
    static = TransformersEngine(
        str(tiny_models["llava_next"]), batch_size=4, max_new_tokens=6, cache_implementation="static"
    )
    enc = static.collate([static.encode(b) for b in batch[:2]])
    assert enc["input_ids"].shape[1] % STATIC_LENGTH_BUCKET == 0
    assert static.generate(batch) == dynamic.generate(batch)
