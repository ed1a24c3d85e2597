"""Synthesizer tuning: seed-data join, blank share, split, the loss mask, a short training run, measuring."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from hub_tools.miniature import synthesizer as TS
from hub_tools.miniature import threads as TH
from hub_tools.miniature import time_budget as TB
from hub_tools.miniature import world as W
from hub_tools.synthesis.parse import INFORMATIVE_HINT, LLAMA3, PRECISE_HINT, parse_triplets
from hub_tools.training import synthesizer as T

SMALL = {"seed_images": 60, "partial_seed_images": 6, "pairs": 8, "benchmark_per_task": 4}


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    return W.build_world(tmp_path_factory.mktemp("world"), **SMALL)


@pytest.fixture(scope="module")
def seed_data(small_world, tmp_path_factory) -> tuple[Path, dict]:
    files = W.world_files(small_world)
    out = tmp_path_factory.mktemp("seed_data")
    stats = T.build_seed_data(
        files["caption_set"], files["precise_set"], files["informative_set"], out, seed=3, blank_size=56
    )
    return out, stats


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- seed data ------------------------------------------------------------------------------------
def test_join_keeps_images_in_all_three_sets(seed_data):
    out, stats = seed_data
    assert stats["joined"] == SMALL["seed_images"]
    # the world writes 6 partial images: 2 lack the informative set, 2 the precise set, 2 both
    assert stats["dropped"] == {
        "image not in the informative set(s)": 2,
        "image not in the precise and informative set(s)": 2,
        "image not in the precise set(s)": 2,
    }
    rows = _rows(out / "train.jsonl") + _rows(out / "validation.jsonl")
    assert len(rows) == stats["train"] + stats["validation"] == SMALL["seed_images"]
    assert len({r["id"] for r in rows}) == len(rows)


def test_rows_are_caption_turn_then_hinted_turns(seed_data, small_world):
    out, _ = seed_data
    captions = {
        e["image"].rsplit("/", 1)[1]: e["conversations"][1]["value"]
        for e in json.loads((small_world / "seed" / "ALLaVA-Caption-VFLAN-4V.json").read_text())
    }
    orders = Counter()
    for row in _rows(out / "train.jsonl"):
        m = row["messages"]
        assert m[0] == {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "Describe the image."}],
        }
        assert m[1]["content"][0]["text"] == captions[row["id"] + ".png"]
        questions = [x["content"][0]["text"] for x in m[2::2]]
        assert all(q.startswith((PRECISE_HINT, INFORMATIVE_HINT)) for q in questions)
        assert [x["role"] for x in m] == ["user", "assistant"] * (len(m) // 2)
        # every question is asked under both hints -> one triplet per question
        bare = Counter(q.split("\n", 1)[1] for q in questions)
        assert set(bare.values()) == {2}
        orders[questions[0].startswith(PRECISE_HINT)] += 1
        root = out if row["blank"] else Path(json.loads((out / "seed_stats.json").read_text())["image_root"])
        assert len(row["images"]) == 1 and (root / row["images"][0]).is_file()
        assert not Path(row["images"][0]).is_absolute() and ".." not in Path(row["images"][0]).parts
    assert orders[True] > 0 and orders[False] > 0  # the shuffle puts either hint first


def test_blank_share_and_split_per_task(seed_data):
    out, stats = seed_data
    rows = _rows(out / "train.jsonl") + _rows(out / "validation.jsonl")
    blank = [r for r in rows if r["blank"]]
    assert len(blank) == stats["blank"]
    # released: per task, the rows in their seeded shuffle; position p is blank when random.Random(p) picks it
    # with weights (10, 90), so the same positions are blank in every task (not exactly 10%)
    released = [random.Random(p).choices([True, False], weights=(10, 90), k=1)[0] for p in range(len(rows))]
    expected = set()
    for task in {r["task_name"] for r in rows}:
        order = sorted((r for r in rows if r["task_name"] == task), key=lambda r: r["id"] + ".png")
        random.Random(f"3|split|{task}").shuffle(order)
        expected |= {r["id"] for p, r in enumerate(order) if released[p]}
    assert {r["id"] for r in blank} == expected  # the first blank position is 31: small tasks have none
    assert all(r["images"] == ["blank.png"] for r in blank)
    assert all(r["images"] != ["blank.png"] for r in rows if not r["blank"])
    per_task = Counter(r["task_name"] for r in rows)
    val = Counter(r["task_name"] for r in _rows(out / "validation.jsonl"))
    for task, n in per_task.items():
        assert val[task] == math.ceil(0.1 * n) == stats["per_task"][task]["validation"]  # released: rounded up
    assert stats["validation"] > 0


def _raw_seed_sets(folder: Path, tasks: dict[str, int]) -> tuple[Path, Path, Path]:
    """Caption / precise / informative sets for ``tasks`` (name -> number of images), images written too."""
    from PIL import Image

    (folder / "images_191task_1k").mkdir(parents=True)
    captions, precise, informative = [], [], []
    for task, n in tasks.items():
        for i in range(n):
            name = f"{task}_{i:03d}.png"
            Image.new("RGB", (8, 8)).save(folder / "images_191task_1k" / name)
            turn = [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": f"It is {i}."}]
            captions.append({"id": name, "image": name, "conversations": turn})
            precise.append({"id": name, "image": name, "task_name": task, "conversations": turn})
            informative.append({"id": name, "image": name, "conversations": turn})
    paths = tuple(folder / f for f in ("cap.json", "meta.json", "inst.json"))
    for path, data in zip(paths, (captions, precise, informative)):
        path.write_text(json.dumps(data))
    return paths


def test_blank_positions_are_the_same_in_every_task(tmp_path):
    """As released: position p of a task's shuffled list is blank iff random.Random(p) draws it (weights 10/90)."""
    sets = _raw_seed_sets(tmp_path, {"alpha": 80, "beta": 50})
    stats = T.build_seed_data(*sets, tmp_path / "out", seed=7, blank_size=8)
    rows = _rows(tmp_path / "out" / "train.jsonl") + _rows(tmp_path / "out" / "validation.jsonl")
    released = {p for p in range(80) if random.Random(p).choices([True, False], weights=(10, 90), k=1)[0]}
    for task, n in (("alpha", 80), ("beta", 50)):
        order = sorted((r for r in rows if r["task_name"] == task), key=lambda r: r["id"])
        random.Random(f"7|split|{task}").shuffle(order)  # the task's seeded shuffle
        assert {p for p, r in enumerate(order) if r["blank"]} == {p for p in released if p < n}
    assert stats["blank"] == sum(r["blank"] for r in rows) == len(released) + len({p for p in released if p < 50})
    assert T.is_blank_position(31, 0.1) and not T.is_blank_position(30, 0.1)


def test_blank_image_is_the_released_size_by_default(small_world, tmp_path):
    from PIL import Image

    files = W.world_files(small_world)
    T.build_seed_data(files["caption_set"], files["precise_set"], files["informative_set"], tmp_path, seed=3)
    with Image.open(tmp_path / "blank.png") as image:
        assert image.size == (237, 150) and image.convert("RGB").getextrema() == ((255, 255),) * 3


def _resolved_rows(folder: Path) -> list[dict]:
    rows = T.load_seed_split(folder, "train").to_list()
    for row in rows:  # the blank image lives in each seed-data folder
        row["images"] = [Path(p).name if row["blank"] else p for p in row["images"]]
    return rows


def test_seed_data_is_deterministic(small_world, seed_data, tmp_path):
    files = W.world_files(small_world)
    args = (files["caption_set"], files["precise_set"], files["informative_set"])
    T.build_seed_data(*args, tmp_path / "a", seed=3, blank_size=56)
    T.build_seed_data(*args, tmp_path / "b", seed=4, blank_size=56)
    first = _resolved_rows(seed_data[0])
    assert _resolved_rows(tmp_path / "a") == first
    assert _resolved_rows(tmp_path / "b") != first


def test_raw_layout_details(tmp_path):
    """Markers before or after the question, duplicates and malformed entries are handled and counted."""
    from PIL import Image

    (tmp_path / "images_191task_1k").mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (28, 28)).save(tmp_path / "images_191task_1k" / name)

    def conv(q, a):
        return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]

    captions = [
        {
            "id": "c1",
            "image": "allava_vflan/images/images_191task_1k/a.png",
            "conversations": conv("<image>\nHi", "A."),
        },
        {"id": "c2", "image": "x/a.png", "conversations": conv("<image>\nHi", "duplicate")},
        {"id": "c3", "image": "b.png", "conversations": conv("<image>\nHi", "B.")},
        {"id": "bad", "conversations": []},
    ]
    precise = [
        {
            "id": "p1",
            "task_name": "t1",
            "image": "images_191task_1k/a.png",
            "conversations": conv("Q1?\n<image>", "1"),
        },
        {"id": "p2", "task_name": "t2", "image": "a.png", "conversations": conv("<image>\nQ2?", "2")},
        {"id": "p3", "image": "b.png", "conversations": conv("<image>\nQ?", "x")},  # no task_name
    ]
    informative = [{"id": "i1", "image": "a.png", "conversations": conv("<image>\nQ1?", "One, so 1.")}]
    for name, data in (("cap.json", captions), ("meta.json", precise), ("inst.json", informative)):
        (tmp_path / name).write_text(json.dumps(data))
    stats = T.build_seed_data(tmp_path / "cap.json", tmp_path / "meta.json", tmp_path / "inst.json", tmp_path / "out")
    assert stats["joined"] == 1
    assert stats["dropped"]["duplicate caption (first kept)"] == 1
    assert stats["dropped"]["caption entry malformed"] == 1
    assert stats["dropped"]["precise entry malformed"] == 1
    assert stats["dropped"]["image not in the precise and informative set(s)"] == 1
    # released: the validation share is rounded up (one image of one task -> validation)
    assert _rows(tmp_path / "out" / "train.jsonl") == []
    (row,) = _rows(tmp_path / "out" / "validation.jsonl")
    assert row["task_name"] == "t2"  # released: the last source's task name
    texts = sorted(m["content"][0]["text"] for m in row["messages"][2::2])
    assert texts == sorted([PRECISE_HINT + "Q1?", PRECISE_HINT + "Q2?", INFORMATIVE_HINT + "Q1?"])
    assert row["messages"][1]["content"][0]["text"] == "A."


# -- rendering and the loss mask ------------------------------------------------------------------
def _load(model_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(str(model_dir))


def _qa_rows(seed_data, n=3):
    rows = T.load_seed_split(seed_data[0], "train")
    return [rows[i] for i in range(n)]


@pytest.mark.parametrize("model", ["qwen2_vl", "llava_next"])
def test_loss_starts_after_the_caption_turn_end(tiny_models, seed_data, model):
    """As released: masked up to the caption turn's end-of-turn token; the first task turn's user header on."""
    import torch

    processor = _load(tiny_models[model])
    collator = T.SynthesizerCollator(processor)
    assert collator.prompt_format == ("chat" if model == "qwen2_vl" else "released")
    rows = _qa_rows(seed_data)
    batch = collator(rows)
    tok = processor.tokenizer
    assert batch["labels"].shape == batch["input_ids"].shape
    if "mm_token_type_ids" in batch:
        assert batch["mm_token_type_ids"].shape == batch["input_ids"].shape
    for i, row in enumerate(rows):
        _, images, text, spans = collator.render(row)
        prompt = text[: spans[0][0]]
        enc = processor(text=[prompt], images=images, add_special_tokens=False, return_tensors="pt")
        n_prompt = enc["input_ids"].shape[1]
        length = int(batch["attention_mask"][i].sum())
        ids, labels = batch["input_ids"][i], batch["labels"][i]
        assert torch.equal(ids[:n_prompt], enc["input_ids"][0])  # the masked part is a token prefix
        assert (labels[:n_prompt] == -100).all()  # system, image tokens, caption turn: masked
        assert torch.equal(labels[n_prompt:length], ids[n_prompt:length])  # everything after: trained
        assert (labels[length:] == -100).all()  # padding
        caption = row["messages"][1]["content"][0]["text"]
        assert prompt.endswith(caption + collator.turn_format.turn_end)  # masked through the caption's turn end
        trained = tok.decode(ids[n_prompt:length], skip_special_tokens=False)
        first_question = row["messages"][2]["content"][0]["text"]
        header = "<|start_header_id|>user<|end_header_id|>\n\n" if model == "llava_next" else "\n<|im_start|>user\n"
        assert trained.startswith(header + first_question)  # the first task turn's header and question: trained
        assert trained.endswith(collator.end_token)
    if model == "llava_next":  # the release tokenizes with its BOS in front of the prompt's own
        bos = tok.bos_token_id
        first = int((batch["attention_mask"][0] == 1).nonzero()[0])
        assert batch["input_ids"][0][first : first + 2].tolist() == [bos, bos]


@pytest.mark.parametrize("model", ["qwen2_vl", "llava_next"])
def test_trained_text_parses_back_into_the_seed_triplets(tiny_models, seed_data, model):
    from hub_tools.synthesis.prompts import chat_turn_format

    processor = _load(tiny_models[model])
    collator = T.SynthesizerCollator(processor)
    fmt = LLAMA3 if collator.prompt_format == "released" else chat_turn_format(processor)
    for row in _qa_rows(seed_data, 5):
        _, _, text, spans = collator.render(row)
        trained = text[spans[0][0] :].lstrip()
        assert trained.startswith(fmt.user_open)  # the prompt's open user header is trained too
        generated = trained[len(fmt.user_open) :]  # what the synthesizer writes after its prompt
        assert generated.endswith(collator.end_token)
        triplets = parse_triplets(generated[: -len(collator.end_token)], turn_format=fmt)
        questions = {m["content"][0]["text"].split("\n", 1)[1] for m in row["messages"][2::2]}
        assert {t.question for t in triplets} == questions


@pytest.mark.parametrize("model", ["qwen2_vl", "llava_next"])
def test_row_cache_gives_the_same_batches(tiny_models, seed_data, model):
    import torch

    from hub_tools.training import collator as C

    processor = _load(tiny_models[model])
    plain, cached = T.SynthesizerCollator(processor), T.SynthesizerCollator(processor, cache_rows=True)
    rows = _qa_rows(seed_data, 6)
    for batch in (rows, rows[::-1], rows[:3] + rows[:1], rows[2:3]):  # rows seen again, other partners, alone
        expected, got = plain(batch), cached(batch)
        assert set(expected) == set(got)
        for key, value in expected.items():
            assert torch.equal(value, got[key]), key
    assert len(cached._row_cache) == 6  # each distinct row collated once
    sft = C.VisionSFTCollator(processor, cache_rows=True)  # the SFT recipe's collator has the same option
    assert sft.cache_rows and not C.VisionSFTCollator(processor).cache_rows


def test_chat_rendering_matches_the_chat_template(tiny_models, seed_data):
    processor = _load(tiny_models["qwen2_vl"])
    collator = T.SynthesizerCollator(processor)
    from hub_tools.training.data import normalize_messages

    for row in _qa_rows(seed_data):
        template = processor.apply_chat_template(normalize_messages(row["messages"]), tokenize=False)
        _, _, text, _ = collator.render(row)
        assert text == template + collator.end_token


def test_image_max_side_caps_the_synthesizer_images(tiny_models, seed_data):
    """The synthesizer-tuning collator honours image_max_side, as the SFT recipe's does (fewer image tokens)."""
    from PIL import Image

    processor = _load(tiny_models["qwen2_vl"])
    row = dict(_qa_rows(seed_data, 1)[0], images=[Image.new("RGB", (224, 112), "green")])
    image_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    full = T.SynthesizerCollator(processor)([row])
    capped = T.SynthesizerCollator(processor, image_max_side=56)([row])
    _, images, _, _ = T.SynthesizerCollator(processor, image_max_side=56).render(row)
    assert images[0].size == (56, 28)
    assert 0 < int((capped["input_ids"] == image_id).sum()) < int((full["input_ids"] == image_id).sum())


def test_end_token_is_not_the_turn_end(tiny_models):
    qwen = _load(tiny_models["qwen2_vl"])
    llava = _load(tiny_models["llava_next"])
    from hub_tools.synthesis.prompts import chat_turn_format

    assert T.end_of_sequence_token(qwen.tokenizer, chat_turn_format(qwen)) == "<|endoftext|>"
    assert T.end_of_sequence_token(llava.tokenizer, LLAMA3) == "<|end_of_text|>"


def test_bad_rows_are_refused(tiny_models):
    processor = _load(tiny_models["qwen2_vl"])
    collator = T.SynthesizerCollator(processor)
    caption_only = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe the image."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A plate."}]},
    ]
    with pytest.raises(ValueError, match="at least one task turn"):
        T.task_turns(caption_only)
    with pytest.raises(ValueError, match="exactly one image"):
        collator.render({"images": [], "messages": caption_only})


# -- strictness and grounding ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "informative", "precise", "strict"),
    [
        ("How many peas are there?", "I count two peas. So the answer is 2.", "2", True),
        ("What organ is shown", "The brain.", "brain", True),  # interrogative start
        ("Describe the plate.", "A plate with peas.", "peas", False),  # not a question
        ("How many peas?", "Two peas.<|im_end|>", "2", False),  # turn marker
        ("How many peas?", "Answer with a precise response. 2", "2", False),  # hint repeated
        ("How many peas?", "2", "2.", False),  # answers do not differ
        ("How many peas?", "", "2", False),
    ],
)
def test_is_strict_triplet(question, informative, precise, strict):
    triplet = {"question": question, "informative": informative, "precise": precise}
    assert TS.is_strict_triplet(triplet) is strict


def test_score_generation_judges_against_the_parameters(tiny_models):
    from hub_tools.synthesis.prompts import chat_turn_format

    fmt = chat_turn_format(_load(tiny_models["qwen2_vl"]))
    params = W.params_to_dict(W.Food([W.Item("tomato", 3), W.Item("pea", 1)]))

    def generation(turns):
        return fmt.user_open.join(q + fmt.user_end + fmt.assistant_open + a + fmt.assistant_end for q, a in turns)

    q = "How many tomatoes are on the plate?"
    good = generation(
        [(PRECISE_HINT + q, "3"), (INFORMATIVE_HINT + q, "I see three red tomatoes. So the answer is 3.")]
    )
    assert TS.score_generation(good, params, fmt) == {
        "triplets": [{"question": q, "informative": "I see three red tomatoes. So the answer is 3.", "precise": "3"}],
        "strict": [True],
        "grounded": [True],
        "question_types": ["number"],
    }
    wrong = generation([(PRECISE_HINT + q, "2"), (INFORMATIVE_HINT + q, "There are two tomatoes.")])
    assert TS.score_generation(wrong, params, fmt)["grounded"] == [False]
    odd = generation(
        [(PRECISE_HINT + "Is this a nice plate?", "Yes"), (INFORMATIVE_HINT + "Is this a nice plate?", "Yes, it is.")]
    )
    assert TS.score_generation(odd, params, fmt)["question_types"] == ["unknown"]
    assert TS.score_generation("no turns at all", params, fmt)["triplets"] == []


# -- training ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(small_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("tuned")
    path = TS.tune_tiny_synthesizer(
        small_world,
        out,
        seed=0,
        max_minutes=2.0,
        max_steps=14,
        warmup_steps=2,
        logging_steps=1,
        per_device_train_batch_size=4,
        pretrain_steps=8,
        pretrain_pairs=200,
    )
    return path


@pytest.mark.slow
def test_short_training_lowers_the_loss(trained):
    summary = json.loads((trained / "synthesizer.json").read_text())
    losses = summary["logged_losses"]
    assert summary["steps"] == 14 and len(losses) == 14
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5
    assert summary["end_of_sequence_token"] == "<|endoftext|>" and summary["prompt_format"] == "chat"
    assert summary["eval_loss"] is not None
    pretrain = summary["text_pretraining"]
    assert pretrain["steps"] == 8 and pretrain["pairs"] == 200 and not pretrain["stopped_by_time_budget"]
    assert json.loads((trained.parent / "init" / "pretrain.json").read_text()) == pretrain
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (trained / name).is_file()


@pytest.mark.slow
def test_measure_synthesizer_reports_shares(trained, small_world):
    report = TS.measure_synthesizer(trained, small_world / "heldout_pairs.json", max_new_tokens=24, samples=2)
    assert report["pairs"] == round(SMALL["pairs"] * 0.5)
    for key in ("strict_share", "grounded_share", "first_grounded_share", "triplet_grounded_share"):
        assert 0.0 <= report[key] <= 1.0
    assert report["with_grounded"] <= report["with_strict"] <= report["with_triplet"] <= report["pairs"]
    assert len(report["samples"]) == 2 and isinstance(report["samples"][0]["generation"], str)
    by_type = report["by_question_type"]
    assert sum(v.get("triplets", 0) for v in by_type.values()) == report["triplets"]
    assert sum(v.get("grounded", 0) for v in by_type.values()) == report["grounded_triplets"]


def test_time_budget_schedule_decays_with_time():
    cb = TB.time_budget_callback(minutes=1.0, warmup_steps=4)
    assert cb.lr_factor(0) == pytest.approx(0.25)
    assert cb.lr_factor(10) == pytest.approx(1.0)  # not started: full rate after warmup
    cb.start = cb.start or 0.0
    import time

    cb.start = time.monotonic() - 30  # half the budget spent
    assert cb.lr_factor(10) == pytest.approx(0.5, abs=0.02)
    cb.start = time.monotonic() - 61
    assert cb.lr_factor(10) == pytest.approx(0.0, abs=1e-6) and cb.elapsed_share() == 1.0


def test_time_progress_bar_counts_seconds_of_the_budget():
    import time
    from types import SimpleNamespace

    cb = TB.time_progress_callback(minutes=1.0)
    state = SimpleNamespace(is_world_process_zero=True, global_step=0)
    cb.on_train_begin(None, state, None)
    assert cb.bar.total == 60 and cb.bar.n == 0
    cb.on_log(None, state, None, logs={"loss": 1.25})
    cb.start = time.monotonic() - 30.4  # half the budget spent
    state.global_step = 7
    cb.on_step_end(None, state, None)
    assert cb.bar.n == 30 and cb.bar.postfix == "step=7, loss=1.250"
    cb.start = time.monotonic() - 90  # past the budget: the bar stays full
    cb.on_step_end(None, state, None)
    assert cb.bar.n == 60
    cb.on_train_end(None, state, None)
    assert cb.bar is None


def test_time_budgeted_training_shows_the_time_bar(small_world, tmp_path, monkeypatch):
    made = []
    real = TB.time_progress_callback

    def recording(minutes):
        made.append(real(minutes))
        return made[-1]

    monkeypatch.setattr(TB, "time_progress_callback", recording)
    out = TS.tune_tiny_synthesizer(small_world, tmp_path, seed=0, max_minutes=0.05, threads=1)
    summary = json.loads((out / "synthesizer.json").read_text())
    assert summary["stopped_by_time_budget"] and summary["max_steps"] == TB.TIMED_MAX_STEPS
    assert len(made) == 1 and made[0].start > 0 and made[0].bar is None  # started, then closed
    made.clear()
    TS.tune_tiny_synthesizer(small_world, tmp_path / "steps", seed=0, max_minutes=1.0, threads=1, max_steps=2)
    assert made == []  # a step budget keeps the trainer's own step bar


def test_command_line_recipe_runs(small_world, tmp_path):
    """``python -m hub_tools.miniature.synthesizer --config tiny_cpu.yaml`` (a few steps, the recipe's settings)."""
    import yaml

    recipe = yaml.safe_load((Path(__file__).parents[1] / "recipes" / "synthesizer" / "tiny_cpu.yaml").read_text())
    recipe.update({"world_dir": str(small_world), "output_dir": str(tmp_path / "out"), "max_steps": 2})
    recipe.update({"max_minutes": None, "logging_steps": 1, "per_device_train_batch_size": 2})
    recipe["text_pretrain_steps"] = 3
    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump(recipe))
    assert TS.main(["--config", str(config)]) == 0
    summary = json.loads((tmp_path / "out" / "synthesizer.json").read_text())
    assert summary["steps"] == 2 and summary["prompt_format"] == "chat"
    assert (tmp_path / "out" / "seed_data" / "train.jsonl").is_file() and (tmp_path / "out" / "init").is_dir()
    assert json.loads((tmp_path / "out" / "init" / "pretrain.json").read_text())["steps"] == 3


def test_set_max_pixels(tiny_models):
    processor = _load(tiny_models["qwen2_vl"])
    from PIL import Image

    T.set_max_pixels(processor, 56 * 56)
    enc = processor(text=["<|vision_start|><|image_pad|><|vision_end|>x"], images=[Image.new("RGB", (112, 112))])
    assert list(enc["image_grid_thw"][0]) == [1, 4, 4]  # 112x112 shrunk to 56x56: 4x4 patches of 14 px
    with pytest.raises(ValueError, match="Qwen2-VL-style"):
        T.set_max_pixels(_load(tiny_models["llava_next"]), 56 * 56)


def test_vision_encoder_trains_at_a_lower_rate(tiny_models, seed_data, tmp_path):
    from transformers import AutoModelForImageTextToText
    from trl import SFTConfig

    model = AutoModelForImageTextToText.from_pretrained(str(tiny_models["qwen2_vl"]))
    processor = _load(tiny_models["qwen2_vl"])
    names = set(T.vision_parameter_names(model))
    assert names and all(".visual." in n and ".merger." not in n for n in names)
    args = SFTConfig(
        output_dir=str(tmp_path), learning_rate=1e-3, bf16=False, use_cpu=True, report_to="none", activation_checkpointing=False,
        remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True},
    )  # fmt: skip
    trainer = T._trainer_class(vision_lr_ratio=0.1)(
        model=model,
        args=args,
        train_dataset=T.load_seed_split(seed_data[0], "train"),
        processing_class=processor,
        data_collator=T.SynthesizerCollator(processor),
    )
    optimizer = trainer.create_optimizer()
    by_param = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    for name, param in model.named_parameters():
        assert by_param[id(param)] == pytest.approx(1e-4 if name in names else 1e-3), name
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_time_budget_warmup_stable_decay():
    import time

    cb = TB.time_budget_callback(minutes=1.0, decay_share=0.25)
    cb.start = time.monotonic() - 30  # half the budget: still in the stable phase
    assert cb.lr_factor(100) == pytest.approx(1.0)
    cb.start = time.monotonic() - 52.5  # half-way through the decay phase
    assert cb.lr_factor(100) == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="decay_share"):
        TB.time_budget_callback(minutes=1.0, decay_share=0.0)


def _run_tuner(monkeypatch, step_seconds, steps=40, start_threads=2, busy_from=None):
    import types

    import torch

    clock = [0.0]
    monkeypatch.setattr(TH.time, "perf_counter", lambda: clock[0])
    torch.set_num_threads(start_threads)
    tuner = TH.thread_tuner_callback(candidates=(1, 2), probe_steps=3, every=20)
    state = types.SimpleNamespace(global_step=0)
    used = []
    for step in range(steps):
        state.global_step = step
        tuner.on_step_begin(None, state, None)
        used.append(torch.get_num_threads())
        seconds = step_seconds[torch.get_num_threads()]
        if busy_from is not None and step >= busy_from and torch.get_num_threads() == 2:
            seconds *= 10  # another process took a core: two threads crawl
        clock[0] += seconds
        state.global_step = step + 1
        tuner.on_step_end(None, state, None)
    return tuner, used


def test_thread_tuner_picks_the_faster_thread_count(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        tuner, used = _run_tuner(monkeypatch, {1: 1.0, 2: 1.5})  # one thread faster, but not 3x
        assert tuner.best == 1 and tuner.history[0] == (6, 1)
        assert used[:6] == [2, 2, 2, 1, 1, 1] and set(used[6:20]) == {1}
        tuner, used = _run_tuner(monkeypatch, {1: 1.0, 2: 0.6})  # two threads faster: kept
        assert tuner.best == 2 and set(used[6:20]) == {2}
        # two threads 10x slower (a busy machine): the probe of two threads stops after one step
        tuner, used = _run_tuner(monkeypatch, {1: 1.0, 2: 10.0}, start_threads=1)
        assert tuner.best == 1 and used[:5] == [1, 1, 1, 2, 1] and used.count(2) == 2  # one step per round
        # the machine gets busy at step 10: the slowdown starts a new round at once, not at step 20
        tuner, used = _run_tuner(monkeypatch, {1: 1.0, 2: 0.6}, busy_from=10)
        assert used[6:10] == [2, 2, 2, 2] and tuner.history[1][0] < 20 and tuner.best == 1
        assert used[tuner.history[1][0] :].count(2) <= 1  # later rounds spend one step on two threads
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("recipe", ["llava_next_llama3_8b", "qwen2_vl_2b", "tiny_cpu"])
def test_recipes_parse(recipe):
    from trl import ModelConfig, SFTConfig, TrlParser

    path = Path(__file__).parents[1] / "recipes" / "synthesizer" / f"{recipe}.yaml"
    arguments = TS.TinySynthesizerArguments if recipe == "tiny_cpu" else T.SynthesizerArguments
    parser = TrlParser((arguments, SFTConfig, ModelConfig))
    # bf16 is switched off only so the GPU recipes validate on this CPU machine
    script, args, model = parser.parse_args_and_config(args=["--config", str(path), "--bf16", "false"])
    assert model.model_name_or_path and script.prompt_format in ("released", "chat")
    assert args.learning_rate > 0 and args.max_length
