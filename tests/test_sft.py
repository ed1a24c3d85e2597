"""The SFT recipe: label masks, data handling, recipes, training under accelerate, two stages, push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
TINY_RECIPE = RECIPES / "tiny" / "sft" / "config.yaml"
HUB_MODELS = {
    "qwen2-vl-2b": "Qwen/Qwen2-VL-2B-Instruct",
    "llava-next-llama3-8b": "llava-hf/llama3-llava-next-8b-hf",
    "llama-3.2-11b-vision": "meta-llama/Llama-3.2-11B-Vision-Instruct",
    "qwen2.5-vl-3b": "Qwen/Qwen2.5-VL-3B-Instruct",
}
DOMAIN_RECIPES = {
    "config_biomed.yaml": "biomedicine",
    "config_food.yaml": "food",
    "config_remote_sensing.yaml": "remote-sensing",
}

# A Llama-3.2-Vision style chat template (written here): BOS, a system header only when no image is present,
# `<|image|>` where the image goes, `<|eot_id|>` after every turn.
MLLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% set ns = namespace(has_images=false) %}"
    "{% for m in messages %}{% if m['content'] is not string %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}{% set ns.has_images = true %}{% endif %}"
    "{% endfor %}{% endif %}{% endfor %}"
    "{% if not ns.has_images %}"
    "{{ '<|start_header_id|>system<|end_header_id|>\\n\\nToday Date: 26 Jul 2024\\n\\n<|eot_id|>' }}"
    "{% endif %}"
    "{% for m in messages %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' }}"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}{{ '<|image|>' }}{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)


def _user(text, image=False):
    return {"role": "user", "content": ([{"type": "image"}] if image else []) + [{"type": "text", "text": text}]}


def _assistant(text):
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def _examples():
    from PIL import Image

    return [
        {
            "images": [Image.new("RGB", (56, 56), "red")],
            "messages": [
                _user("Describe the image.", image=True),
                _assistant("A red plate."),
                _user("What color is it?"),
                _assistant("red"),
            ],
        },
        {
            "images": [Image.new("RGB", (40, 84), "blue")],
            "messages": [_user("Describe.", image=True), _assistant("Blue.")],
        },
    ]


@pytest.fixture(scope="module")
def tiny_mllama(tmp_path_factory) -> Path:
    """A tiny MllamaForConditionalGeneration + processor with a Llama-3.2-Vision style chat template."""
    import torch
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaImageProcessor, MllamaProcessor

    from hub_tools.miniature.tiny_models import _llama3_tokenizer

    tok = _llama3_tokenizer(chat_template=False)
    tok.add_tokens(["<|image|>"], special_tokens=True)
    processor = MllamaProcessor(
        image_processor=MllamaImageProcessor(size={"height": 28, "width": 28}, max_image_tiles=2),
        tokenizer=tok,
        chat_template=MLLAMA_CHAT_TEMPLATE,
    )
    config = MllamaConfig(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_global_layers": 1,
            "attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
            "max_num_tiles": 2,
            "intermediate_layers_indices": [0],
            "vision_output_dim": 64,
            "supported_aspect_ratios": [[1, 1], [1, 2], [2, 1]],
        },
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "cross_attention_layers": [1],
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
            "max_position_embeddings": 1024,
        },
        image_token_index=tok.convert_tokens_to_ids("<|image|>"),
    )
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("mllama")
    MllamaForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory) -> Path:
    """16 composed demo rows (JSONL, images relative to the file)."""
    from hub_tools.miniature.sft_demo import write_demo_rows

    return write_demo_rows(tmp_path_factory.mktemp("rows"), num_rows=16)


def _trained_text(processor, batch, row):
    ids = batch["input_ids"][row][batch["labels"][row] != -100]
    return processor.tokenizer.decode(ids)


# ---------------------------------------------------------------------------------------------
# label masks
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "eot"),
    [("qwen2_vl", "<|im_end|>"), ("llava_next", "<|eot_id|>")],
)
def test_labels_assistant_only(tiny_models, name, eot):
    """Only assistant text + end-of-turn is trained; image tokens and padding never; equals TRL's mask."""
    from transformers import AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from hub_tools.training.collator import VisionSFTCollator, image_token_ids

    processor = AutoProcessor.from_pretrained(tiny_models[name])
    batch = VisionSFTCollator(processor)(_examples())
    assert _trained_text(processor, batch, 0) == f"A red plate.{eot}red{eot}"
    assert _trained_text(processor, batch, 1) == f"Blue.{eot}"
    labels, ids = batch["labels"], batch["input_ids"]
    for token in image_token_ids(processor):
        assert not bool(((ids == token) & (labels != -100)).any())
    assert bool((ids == next(iter(image_token_ids(processor)))).any())
    assert bool((labels[batch["attention_mask"] == 0] == -100).all())
    assert int((batch["attention_mask"][1] == 0).sum()) > 0  # row 1 is padded on the right
    for key, value in batch.items():
        if key in ("input_ids", "attention_mask", "mm_token_type_ids", "labels"):
            assert tuple(value.shape) == tuple(ids.shape), key
    if name == "qwen2_vl":
        assert "mm_token_type_ids" in batch
    # The tiny templates carry {% generation %} markers, so TRL's own mask is a reference.
    trl_batch = DataCollatorForVisionLanguageModeling(processor, assistant_only_loss=True)(_examples())
    assert bool((trl_batch["labels"] == labels).all())


def test_labels_mllama_template(tiny_mllama):
    """Llama-3.2-Vision format (no system block with images, <|image|> kept as one token): assistant only."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from hub_tools.training.collator import VisionSFTCollator

    processor = AutoProcessor.from_pretrained(tiny_mllama)
    batch = VisionSFTCollator(processor)(_examples())
    assert _trained_text(processor, batch, 0) == "A red plate.<|eot_id|>red<|eot_id|>"
    assert _trained_text(processor, batch, 1) == "Blue.<|eot_id|>"
    assert batch["cross_attention_mask"].shape[:2] == batch["input_ids"].shape
    model = AutoModelForImageTextToText.from_pretrained(tiny_mllama)
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)


def test_train_on_all_keeps_images_masked(tiny_models):
    """train_on=all trains prompts too, but never image tokens."""
    from transformers import AutoProcessor

    from hub_tools.training.collator import VisionSFTCollator, all_turns, image_token_ids

    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    batch = VisionSFTCollator(processor, mask_policy=all_turns)(_examples())
    text = _trained_text(processor, batch, 0)
    assert "Describe the image." in text and "A red plate." in text
    for token in image_token_ids(processor):
        assert not bool(((batch["input_ids"] == token) & (batch["labels"] != -100)).any())


def test_non_prefix_template_is_an_error(tiny_models):
    """A template that renders earlier turns differently cannot be masked: clear error, no silent labels."""
    from transformers import AutoProcessor

    from hub_tools.training.collator import TemplateError, VisionSFTCollator

    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    template = (
        "{% for m in messages %}{{ m['role'] }}{{ messages|length }}:{% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}<|image_pad|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}"
    )
    with pytest.raises(TemplateError, match="prefix-preserving"):
        VisionSFTCollator(processor, chat_template=template)(_examples())


def test_image_count_mismatch_is_an_error(tiny_models):
    from transformers import AutoProcessor

    from hub_tools.training.collator import VisionSFTCollator

    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    rows = _examples()
    rows[0]["images"] = []
    with pytest.raises(ValueError, match="image parts"):
        VisionSFTCollator(processor)(rows)


# ---------------------------------------------------------------------------------------------
# rows: formats, two-stage split, long examples
# ---------------------------------------------------------------------------------------------
def test_normalize_sharegpt_and_datasets_nulls():
    from hub_tools.training.data import normalize_messages

    sharegpt = [{"from": "human", "value": "<image>\nWhat is shown?"}, {"from": "gpt", "value": "A scan."}]
    assert normalize_messages(sharegpt) == [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A scan."}]},
    ]
    arrow = [{"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": "Hi"}]}]
    assert normalize_messages(arrow)[0]["content"] == [{"type": "image"}, {"type": "text", "text": "Hi"}]
    with pytest.raises(ValueError, match="role"):
        normalize_messages([{"role": "tool", "content": "x"}])


def test_load_jsonl_rows_resolves_images(demo_rows, tmp_path):
    from hub_tools.training.data import example_images, load_jsonl_rows

    dataset = load_jsonl_rows(demo_rows)
    assert len(dataset) == 16
    assert os.path.isabs(dataset[0]["images"][0])
    assert example_images(dataset[0])[0].mode == "RGB"
    # A RUN_DIR layout: compose/<split>.jsonl with images relative to RUN_DIR.
    run = tmp_path / "run"
    (run / "compose").mkdir(parents=True)
    (run / "images").mkdir()
    row = json.loads(demo_rows.read_text().splitlines()[0])
    (run / row["images"][0]).write_bytes((demo_rows.parent / row["images"][0]).read_bytes())
    (run / "compose" / "train.jsonl").write_text(json.dumps(row) + "\n")
    assert Path(load_jsonl_rows(run)[0]["images"][0]).is_file()
    row["images"] = ["images/missing.png"]
    (run / "compose" / "train.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_jsonl_rows(run)


def test_split_two_stage():
    from hub_tools.training.data import split_two_stage

    caption, task = [_user("Describe the image."), _assistant("A red plate.")], [_user("Color?"), _assistant("Red.")]
    rows = [
        {"id": "a", "kind": "caption+task", "caption_turn": 1, "images": ["a.png"],
         "messages": [_user("Color?", image=True), _assistant("Red."), *caption]},
        {"id": "b", "kind": "caption_only", "images": ["b.png"], "messages": [_user("Describe.", image=True),
                                                                             _assistant("Blue.")]},
        {"id": "c", "kind": "task", "images": ["c.png"], "messages": [_user("Color?", image=True), task[1]]},
    ]  # fmt: skip
    stage1, stage2 = split_two_stage(rows)
    assert [r["id"] for r in stage1] == ["a", "b"] and [r["id"] for r in stage2] == ["a", "c"]
    assert stage1[0]["messages"] == [_user("Describe the image.", image=True), _assistant("A red plate.")]
    assert stage2[0]["messages"] == [_user("Color?", image=True), _assistant("Red.")]
    assert all(r["images"] == ["a.png"] for r in (stage1[0], stage2[0]))
    # The caption field can identify the turn too; without either, an error names the row.
    no_index = {**rows[0], "caption_turn": None}
    assert split_two_stage([{**no_index, "caption": "A red plate."}])[0][0]["messages"] == stage1[0]["messages"]
    with pytest.raises(ValueError, match="'a'.*caption_turn"):
        split_two_stage([no_index])
    with pytest.raises(ValueError, match="kind"):
        split_two_stage([{**rows[1], "kind": None}])


def test_long_examples_drop_and_truncate_text(tiny_models):
    from datasets import Dataset
    from transformers import AutoProcessor

    from hub_tools.training.collator import VisionSFTCollator, filter_long_examples, image_token_ids, measure_example

    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    rows = _examples()
    rows.append({"images": rows[1]["images"], "messages": [_user("x " * 60, image=True), _assistant("y " * 80)]})
    dataset = Dataset.from_list(rows)
    ids = image_token_ids(processor)
    lengths = [measure_example(r, processor, ids)["num_tokens"] for r in rows]
    limit = sorted(lengths)[1]  # the two shortest rows fit
    kept, report = filter_long_examples(dataset, processor, limit, "drop")
    assert (len(kept), report.dropped, report.truncated) == (2, 1, 0)
    # truncate_text keeps every row whose image tokens fit, and the collator cuts text only.
    kept, report = filter_long_examples(dataset, processor, limit, "truncate_text")
    assert (len(kept), report.dropped, report.truncated) == (3, 0, 1)
    batch = VisionSFTCollator(processor, max_length=limit)(list(kept))
    assert batch["input_ids"].shape[1] == limit
    assert sum(int((batch["input_ids"] == t).sum()) for t in ids) == sum(
        sum(1 for t in processor(text=[processor.apply_chat_template(r["messages"], tokenize=False)],
                                 images=[r["images"]])["input_ids"][0] if t in ids) for r in rows
    )  # fmt: skip
    # A limit that would cut image tokens drops the row under truncate_text too.
    kept, report = filter_long_examples(dataset, processor, 5, "truncate_text")
    assert (len(kept), report.dropped) == (0, 3)
    with pytest.raises(ValueError, match="image tokens"):
        VisionSFTCollator(processor, max_length=5)(_examples())


# ---------------------------------------------------------------------------------------------
# recipes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", sorted(str(p.relative_to(RECIPES)) for p in RECIPES.glob("*/sft/*.yaml")))
def test_recipes_parse(recipe):
    """Every recipe parses with TrlParser; model recipes name a real Hub id and the paper hyperparameters."""
    from hub_tools.training.sft import parse_args

    # bf16 recipes are for GPUs; --use_cpu lets TrainingArguments validate them on a CPU box.
    script_args, training_args, model_args = parse_args(["--config", str(RECIPES / recipe), "--use_cpu", "true"])
    model_dir = recipe.split("/")[0]
    if model_dir == "tiny":
        assert training_args.use_cpu and not training_args.bf16 and training_args.max_length is None
        return
    assert model_args.model_name_or_path == HUB_MODELS[model_dir]
    assert script_args.domain == DOMAIN_RECIPES[Path(recipe).name]
    assert training_args.num_train_epochs == 1 and training_args.bf16
    assert getattr(training_args.lr_scheduler_type, "value", None) == "cosine"
    assert training_args.gradient_checkpointing and not model_args.use_peft
    # As released: max length 6144 with text-only truncation for every model.
    assert training_args.max_length == 6144 and script_args.long_example_policy == "truncate_text"
    if model_dir == "llava-next-llama3-8b":  # the LLaVA codebase's recipe
        assert training_args.learning_rate == 2e-5 and training_args.weight_decay == 0.0
        assert training_args.warmup_steps == 0.03 and script_args.vision_tower_lr == 2e-6
        assert not script_args.freeze_vision_tower and script_args.image_max_side is None
    else:  # LLaMA-Factory's: vision tower frozen, images capped in area (512*512 px; 768*768 for Qwen2.5-VL)
        assert training_args.learning_rate == 1e-5 and training_args.weight_decay == 0.1
        assert training_args.warmup_steps == 0.1 and script_args.vision_tower_lr is None
        assert script_args.freeze_vision_tower and script_args.image_max_side is None
        cap = 768 * 768 if model_dir == "qwen2.5-vl-3b" else 512 * 512
        assert script_args.image_policy().max_pixels == cap
        # LLaMA-Factory froze Qwen2-VL's / Qwen2.5-VL's whole `visual` (merger included), not Mllama's projector.
        assert script_args.freeze_multi_modal_projector == model_dir.startswith("qwen")
    # global batch 128 on 8 processes, as published
    assert 8 * training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps == 128


def test_image_max_side_caps_the_longer_side_before_the_processor(tiny_models):
    from PIL import Image
    from transformers import AutoProcessor

    from hub_tools.training.collator import VisionSFTCollator, image_token_ids, measure_example
    from hub_tools.training.data import cap_image_side, example_images

    big = Image.new("RGB", (1024, 600), "red")
    assert cap_image_side(big, 512).size == (512, 300)
    assert cap_image_side(Image.new("RGB", (333, 1000)), 512).size == (170, 512)  # floored, as LLaMA-Factory
    assert cap_image_side(Image.new("RGB", (400, 300)), 512).size == (400, 300)  # never enlarged
    assert cap_image_side(big, None) is big
    assert [im.size for im in example_images({"images": [big]}, 512)] == [(512, 300)]

    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    row = {"images": [big], "messages": [_user("Describe.", image=True), _assistant("Red.")]}
    seen = []
    original = type(processor).__call__

    def spy(self, *args, **kwargs):
        seen.extend(im.size for images in kwargs["images"] for im in images)
        return original(self, *args, **kwargs)

    with mock.patch.object(type(processor), "__call__", spy):
        capped = VisionSFTCollator(processor, image_max_side=512)([row])
    assert seen and set(seen) == {(512, 300)}
    # The tiny processor's own pixel budget already shrinks 512x300, so a smaller cap shows the token saving.
    small = VisionSFTCollator(processor, image_max_side=64)([row])
    assert small["input_ids"].shape[1] < capped["input_ids"].shape[1]  # fewer image tokens
    ids = image_token_ids(processor)
    assert measure_example(row, processor, ids, image_max_side=64)["num_tokens"] == small["input_ids"].shape[1]


def test_every_model_has_its_domains_and_accelerate_configs_parse():
    import yaml

    for model_dir in HUB_MODELS:
        # Qwen2.5-VL-3B was released for remote sensing only (paper v4)
        want = {"config_remote_sensing.yaml"} if model_dir == "qwen2.5-vl-3b" else set(DOMAIN_RECIPES)
        assert {p.name for p in (RECIPES / model_dir / "sft").glob("*.yaml")} == want
        assert (RECIPES / model_dir / "README.md").is_file()
    for name in ("ddp", "zero2", "zero3", "fsdp"):
        config = yaml.safe_load((RECIPES / "accelerate_configs" / f"{name}.yaml").read_text())
        assert config["distributed_type"] in ("MULTI_GPU", "DEEPSPEED", "FSDP")


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def _env():
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _accelerate(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def _overrides(model, rows, out, *extra):
    return ["--model_name_or_path", str(model), "--dataset_dir", str(rows), "--output_dir", str(out), *extra]


@pytest.mark.slow
def test_tiny_recipe_under_accelerate_learns_and_reloads(tiny_models, demo_rows, tmp_path):
    """accelerate launch (CPU): loss falls on a repeated set, every parameter moves, the model reloads."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = tmp_path / "run"
    # No weight decay, so a parameter only moves when its gradient is non-zero.
    args = _overrides(tiny_models["qwen2_vl"], demo_rows, out, "--max_steps", "20", "--weight_decay", "0.0",
                      "--learning_rate", "3e-3")  # fmt: skip
    _accelerate(["--num_processes", "1", "--cpu", "-m", "hub_tools.sft", "--config", str(TINY_RECIPE), *args])
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert state["global_step"] == 20 and len(losses) == 20
    assert losses[-1] < 0.7 * losses[0], losses  # measured: 6.58 -> 3.48

    before = AutoModelForImageTextToText.from_pretrained(tiny_models["qwen2_vl"]).state_dict()
    model = AutoModelForImageTextToText.from_pretrained(out).eval()
    after = model.state_dict()
    unchanged = [k for k, v in before.items() if torch.equal(v, after[k])]
    assert not unchanged, unchanged
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-16", "checkpoint-20"]

    processor = AutoProcessor.from_pretrained(out)
    example = _examples()[0]
    text = processor.apply_chat_template(example["messages"][:1], tokenize=False, add_generation_prompt=True)
    inputs = processor(text=[text], images=[example["images"]], return_tensors="pt")
    generated = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert generated.shape[1] > inputs["input_ids"].shape[1]
    card = (out / "README.md").read_text()
    assert "image-text-to-text" in card and "demo" in card and "train_loss" in card


@pytest.mark.slow
def test_two_processes_cpu(tiny_models, demo_rows, tmp_path):
    """accelerate launch --multi_gpu --num_processes 2 with use_cpu: a 2-process run completes."""
    out = tmp_path / "ddp"
    args = _overrides(tiny_models["qwen2_vl"], demo_rows, out, "--max_steps", "3", "--save_strategy", "no")
    _accelerate(["--multi_gpu", "--num_processes", "2", "-m", "hub_tools.sft", "--config", str(TINY_RECIPE), *args])
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    summary = json.loads((out / "adamllm_summary.json").read_text())
    # 16 rows, batch 4 per process, 2 processes: 2 steps per epoch.
    assert summary["stages"][0]["metrics"]["epoch"] == pytest.approx(1.5)


def _parse(*argv):
    from hub_tools.training.sft import parse_args

    return parse_args(["--config", str(TINY_RECIPE), *argv])


@pytest.mark.slow
def test_two_stage_runs_both_stages(tiny_models, demo_rows, tmp_path):
    from hub_tools.training.sft import main

    out = tmp_path / "two"
    summary = main(*_parse(*_overrides(tiny_models["qwen2_vl"], demo_rows, out, "--stages", "two", "--max_steps",
                                       "2", "--save_strategy", "no")))  # fmt: skip
    names = [s["name"] for s in summary["stages"]]
    assert names == ["stage1-captions", "stage2-tasks"]
    # 16 demo rows: 4 caption_only + 8 caption+task -> 12 caption rows; 4 task + 8 -> 12 task rows.
    assert [s["rows"] for s in summary["stages"]] == [12, 12]
    assert (out / "stage1" / "model.safetensors").is_file() and (out / "model.safetensors").is_file()
    assert summary["stages"][1]["init_from"] == str(out / "stage1")
    assert json.loads((out / "adamllm_stage.json").read_text())["name"] == "stage2-tasks"
    # A rerun skips the finished stage 1 and trains stage 2 again from its weights.
    again = main(*_parse(*_overrides(tiny_models["qwen2_vl"], demo_rows, out, "--stages", "two", "--max_steps",
                                     "1", "--save_strategy", "no")))  # fmt: skip
    assert again["stages"][0]["metrics"] == summary["stages"][0]["metrics"]
    assert again["stages"][1]["metrics"]["train_rows"] == 12


@pytest.mark.slow
def test_resume_lora_freeze_and_push(tiny_models, demo_rows, tmp_path):
    """LoRA + frozen vision tower, resume from the last checkpoint, push through an autospec'd HfApi."""
    from huggingface_hub import HfApi, ModelCard

    from hub_tools.training.sft import main

    out = tmp_path / "lora"
    common = _overrides(tiny_models["qwen2_vl"], demo_rows, out, "--use_peft", "--lora_target_modules",
                        "all-linear", "--freeze_vision_tower", "--save_steps", "2")  # fmt: skip
    first = main(*_parse(*common, "--max_steps", "2"))
    assert (out / "checkpoint-2" / "adapter_config.json").is_file()
    assert first["stages"][0]["trainable_parameters"] > 0
    api = mock.create_autospec(HfApi, instance=True)
    api.create_repo.return_value = "https://huggingface.co/you/tiny-demo"
    summary = main(
        *_parse(*common, "--max_steps", "4", "--resume_from_checkpoint", "last", "--push_to_hub",
                "--hub_model_id", "you/tiny-demo", "--hub_strategy", "end", "--base_model_id",
                "Qwen/Qwen2-VL-2B-Instruct"),
        hf_api=api,
    )  # fmt: skip
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and summary["stages"][0]["resumed_from"] == str(out / "checkpoint-2")
    assert (out / "adapter_model.safetensors").is_file()
    api.create_repo.assert_called_once_with(repo_id="you/tiny-demo", repo_type="model", private=None, exist_ok=True)
    upload = api.upload_folder.call_args.kwargs
    assert upload["repo_id"] == "you/tiny-demo" and upload["folder_path"] == str(out)
    assert "checkpoint-*" in upload["ignore_patterns"]
    assert summary["url"] == "https://huggingface.co/you/tiny-demo"
    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "Qwen/Qwen2-VL-2B-Instruct"
    assert card.data.pipeline_tag == "image-text-to-text" and "lora" in card.data.tags
    assert "train_loss" in card.text


def _parameters(path):
    from transformers import AutoModelForImageTextToText

    return {k: v.detach().clone() for k, v in AutoModelForImageTextToText.from_pretrained(path).named_parameters()}


def test_frozen_vision_tower_stays_put_in_a_tiny_run(tiny_models, demo_rows, tmp_path):
    """freeze_vision_tower (+ freeze_multi_modal_projector): those weights do not move; the language model does."""
    import torch
    from transformers import AutoModelForImageTextToText

    from hub_tools.training.sft import main
    from hub_tools.training.vision import projector_parameters, vision_tower_parameters

    model = AutoModelForImageTextToText.from_pretrained(tiny_models["qwen2_vl"])
    vision = {n for n, _ in vision_tower_parameters(model)}
    merger = {n for n, _ in projector_parameters(model)}
    assert vision and merger and not vision & merger and all(".merger." in n for n in merger)
    before = _parameters(tiny_models["qwen2_vl"])
    for freeze_projector in (False, True):
        out = tmp_path / f"frozen-{freeze_projector}"
        argv = _overrides(tiny_models["qwen2_vl"], demo_rows, out, "--max_steps", "2", "--save_strategy", "no",
                          "--weight_decay", "0.0", "--learning_rate", "1e-2", "--freeze_vision_tower",
                          "--image_max_side", "48", "--freeze_multi_modal_projector", str(freeze_projector))  # fmt: skip
        summary = main(*_parse(*argv))
        after = _parameters(out)
        moved = {k for k in before if not torch.equal(before[k], after[k])}
        assert not moved & vision
        assert bool(moved & merger) != freeze_projector
        assert any(k.startswith("model.language_model.") for k in moved) and "lm_head.weight" in moved
        card = (out / "README.md").read_text()
        assert "- Vision encoder: frozen" in card
        assert f"- Projector: {'frozen' if freeze_projector else 'trained'}" in card
        assert "- Images: longer side capped at 48 px" in card
        trainable = sum(p.numel() for n, p in model.named_parameters() if n not in vision)
        if freeze_projector:
            trainable -= sum(p.numel() for n, p in model.named_parameters() if n in merger)
        assert summary["stages"][0]["trainable_parameters"] == trainable


def test_vision_tower_lr_gets_its_own_optimizer_group(tiny_models, demo_rows, tmp_path):
    """vision_tower_lr: the vision encoder trains at that rate in its own groups, everything else at learning_rate."""
    from transformers import AutoModelForImageTextToText

    from hub_tools.training.sft import main
    from hub_tools.training.vision import vision_tower_parameters

    model = AutoModelForImageTextToText.from_pretrained(tiny_models["llava_next"])
    vision = sum(p.numel() for _, p in vision_tower_parameters(model))
    total = sum(p.numel() for p in model.parameters())
    assert 0 < vision < total and all(".vision_tower." in f".{n}" for n, _ in vision_tower_parameters(model))
    out = tmp_path / "vision-lr"
    argv = _overrides(tiny_models["llava_next"], demo_rows, out, "--max_steps", "1", "--save_strategy", "no",
                      "--learning_rate", "2e-5", "--vision_tower_lr", "2e-6", "--weight_decay", "0.0",
                      "--max_length", "6144", "--long_example_policy", "truncate_text")  # fmt: skip
    summary = main(*_parse(*argv))
    groups = summary["stages"][0]["optimizer_groups"]
    assert sum(g["parameters"] for g in groups if g["lr"] == 2e-6) == vision
    assert sum(g["parameters"] for g in groups if g["lr"] == 2e-5) == total - vision
    assert {g["lr"] for g in groups} == {2e-5, 2e-6}
    card = (out / "README.md").read_text()
    assert "- Vision encoder: trained at learning rate 2e-06" in card
    assert "- Max length: 6144 tokens" in card and "long_example_policy truncate_text" in card
    with pytest.raises(ValueError, match="vision_tower_lr"):
        main(*_parse(*argv, "--freeze_vision_tower"))


@pytest.mark.slow
def test_push_every_save_pushes_checkpoints(tiny_models, demo_rows, tmp_path):
    from huggingface_hub import HfApi

    from hub_tools.training.sft import main

    api = mock.create_autospec(HfApi, instance=True)
    out = tmp_path / "ckpt"
    main(
        *_parse(*_overrides(tiny_models["qwen2_vl"], demo_rows, out, "--max_steps", "2", "--save_steps", "1",
                            "--push_to_hub", "--hub_model_id", "you/tiny", "--hub_strategy", "checkpoint")),
        hf_api=api,
    )  # fmt: skip
    targets = [c.kwargs.get("path_in_repo") for c in api.upload_folder.call_args_list]
    assert targets == ["last-checkpoint", "last-checkpoint", None]


def test_model_card_metadata_validates():
    from huggingface_hub import ModelCard, ModelCardData

    from hub_tools.publish.cards import build_model_card, is_hub_id

    card = build_model_card(
        base_model="Qwen/Qwen2-VL-2B-Instruct",
        domain="biomedicine",
        datasets=["you/biomed-visual-instructions", "/local/folder"],
        recipe_name="recipes/qwen2-vl-2b/sft/config_biomed.yaml",
        recipe_text="learning_rate: 1.0e-5\n",
        stages=[{"name": "single-stage", "rows": 10, "metrics": {"train_loss": 1.25}, "loss_first": 2.0}],
        model_id="you/qwen2-vl-2b-biomed",
    )
    reloaded = ModelCard(str(card))
    data = ModelCardData(**reloaded.data.to_dict())
    assert data.base_model == "Qwen/Qwen2-VL-2B-Instruct"
    assert data.datasets == ["you/biomed-visual-instructions"]
    assert data.library_name == "transformers" and "biomedicine" in data.tags
    assert "| train_loss | 1.25 |" in reloaded.text and "learning_rate: 1.0e-5" in reloaded.text
    assert is_hub_id("Qwen/Qwen2-VL-2B-Instruct") and not is_hub_id("./data/x") and not is_hub_id("data")


def test_cli_train_writes_demo_data_and_parses(tmp_path):
    from hub_tools.cli import build_parser

    args = build_parser().parse_args(["train", "--write-demo-data", str(tmp_path / "d"), "--demo-rows", "4"])
    assert args.func(args) == 0
    assert len((tmp_path / "d" / "train.jsonl").read_text().splitlines()) == 4
    args = build_parser().parse_args(["train", "--config", str(TINY_RECIPE), "--max_steps", "3"])
    assert args.config == [str(TINY_RECIPE), "--max_steps", "3"]


def test_hub_dataset_folder_rows_feed_collator_and_two_stage(tiny_models, demo_rows, tmp_path):
    """A dataset folder (parquet, embedded image bytes, a named config) loads with load_dataset and trains."""
    from datasets import Dataset, Features, Image, List, Value
    from transformers import AutoProcessor

    from hub_tools.training.collator import VisionSFTCollator
    from hub_tools.training.data import load_jsonl_rows, load_rows
    from hub_tools.training.sft import _split_by_kind

    rows = [dict(r) for r in load_jsonl_rows(demo_rows)]
    for row in rows:  # embedded, as build-dataset publishes them (a path outside the folder is refused)
        row["images"] = [{"bytes": Path(p).read_bytes(), "path": Path(p).name} for p in row["images"]]
    features = Features(
        {
            "id": Value("string"),
            "kind": Value("string"),
            "caption_turn": Value("int32"),
            "images": List(Image()),
            "messages": List(
                {"role": Value("string"), "content": List({"type": Value("string"), "text": Value("string")})}
            ),
        }
    )
    folder = tmp_path / "biomed-visual-instructions"
    config = "image_caption_and_synthetic_task"
    (folder / config).mkdir(parents=True)
    table = Dataset.from_list([{k: r.get(k) for k in features} for r in rows], features=features)
    table.to_parquet(str(folder / config / "train-00000-of-00001.parquet"))
    (folder / "README.md").write_text(
        f"---\nconfigs:\n- config_name: {config}\n  data_files:\n  - split: train\n    path: {config}/train-*\n---\n"
    )
    dataset = load_rows(str(folder), config, "train")
    assert len(dataset) == 16 and dataset[0]["images"][0].mode == "RGB"
    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    batch = VisionSFTCollator(processor)([dataset[i] for i in range(3)])
    assert batch["pixel_values"].shape[0] > 0 and bool((batch["labels"] != -100).any())
    stage1, stage2 = _split_by_kind(dataset)
    assert (len(stage1), len(stage2)) == (12, 12)
    assert isinstance(stage1[0]["images"][0], dict)  # image bytes kept undecoded until the collator
    batch = VisionSFTCollator(processor)([stage1[i] for i in range(2)] + [stage2[0]])
    assert _trained_text(processor, batch, 0).endswith("plate.<|im_end|>")
    bad = tmp_path / "bad"
    (bad / "data").mkdir(parents=True)
    table.remove_columns("messages").to_parquet(str(bad / "data" / "train-00000-of-00001.parquet"))
    with pytest.raises(ValueError, match="no 'messages' column"):
        load_rows(str(bad))
