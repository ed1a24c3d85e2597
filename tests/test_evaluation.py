"""Evaluation: tasks, harness (tiny Qwen2-VL, scripted answers), resume, reports and the CLI.

The benchmark folders are built here in the Hub schema (image, input, label, answer_type / A-D
columns / label lists) in the layouts ``--benchmark-dir`` accepts: ``test.parquet``, the Hub's
parquet conversion (``test/0000.parquet``), JSON Lines with relative image paths, and a
``save_to_disk`` folder under the Hub repo's folder name.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hub_tools.evaluation import harness, report, tasks, vocab

# ---------------------------------------------------------------------------------------------
# A tiny benchmark in the Hub schema. Each row: (input, label, extra columns, scripted answer).
# Inputs carry the task name so a scripted model can answer from the prompt alone.
# ---------------------------------------------------------------------------------------------
MED = {
    "SLAKE": [
        ("SLAKE: Is there a lesion in the left lung?", "yes", "CLOSED", "Yes, there is."),
        ("SLAKE: Which organ is shown?", "liver", "OPEN", "The liver."),
        ("SLAKE: Is this image normal?", "no", "CLOSED", "Looks fine to me."),
        ("SLAKE: Where is the mass?", "left lung", "OPEN", "In the left kidney."),
        ("SLAKE: How many nodules are visible?", "2", "OPEN", "Two nodules."),
    ],
    "VQA_RAD": [
        ("VQA_RAD: Is the heart enlarged?", "no", "CLOSED", "no"),
        ("VQA_RAD: What modality is this?", "CT", "OPEN", "CT"),
        ("VQA_RAD: Is there free air?", "yes", "CLOSED", "yes"),
    ],
    "PathVQA": [
        ("PathVQA: What stain is used?", "hematoxylin and eosin", "OPEN", "hematoxylin and eosin"),
        ("PathVQA: Are the nuclei enlarged?", "yes", "CLOSED", "yes"),
        ("PathVQA: What tissue is shown?", "liver", "OPEN", "liver"),
    ],
}
# Expected scores of the scripted answers (hand-computed from the metric contracts).
MED_EXPECTED = {
    "SLAKE": {"open_recall": (1 + 0.5 + 1) / 3, "closed_accuracy": 0.5, "num_open": 3, "num_closed": 2},
    "VQA_RAD": {"open_recall": 1.0, "closed_accuracy": 1.0, "num_open": 1, "num_closed": 2},
    "PathVQA": {"open_recall": 1.0, "closed_accuracy": 1.0, "num_open": 2, "num_closed": 1},
}
PMC_OPTIONS = [
    {"A": "CT", "B": "MRI", "C": "X-ray", "D": "Ultrasound"},
    {"A": "Lung", "B": "Liver", "C": "Heart", "D": "Brain"},
    {"A": "Benign", "B": "Malignant", "C": "kidney", "D": "Normal"},
    {"A": "Left", "B": "Right", "C": "Both", "D": "Neither"},
]
PMC = [  # input, label, scripted answer
    ("PMC-VQA: Question: Which modality?\nThe choices are:\n(A) CT\n(B) MRI\n(C) X-ray\n(D) Ultrasound", "A", "(A)"),
    ("PMC-VQA: Question: Which organ?\nThe choices are:\n(A) Lung\n(B) Liver\n(C) Heart\n(D) Brain", "B", "It is (C)."),
    ("PMC-VQA: Question: What is it?\nThe choices are:\n(A) Benign\n(B) Malignant\n(C) kidney\n(D) Normal", "C", "it shows the kidney"),
    ("PMC-VQA: Question: Which side?\nThe choices are:\n(A) Left\n(B) Right\n(C) Both\n(D) Neither", "D", "I cannot tell."),
]  # fmt: skip
FOOD101 = [
    ("Food101: What dish is this?", "sushi", "This is sushi."),
    ("Food101: Name the dish.", "hot_dog", "A hot dog with mustard."),
    ("Food101: Classify the food.", "ramen", "(5)"),
    ("Food101: Which of the 101 dishes?", "waffles", "no idea"),
]
FOODSEG = [
    ("FoodSeg103: List the ingredients.", ["rice", "egg"], "rice and egg"),
    ("FoodSeg103: Which ingredients are visible?", ["steak", "sauce", "broccoli"], "steak with broccoli"),
    ("FoodSeg103: Ingredients?", ["bread"], "pizza"),
]
NUTRITION_VOCAB = ["olive oil", "olive", "rice", "chicken", "broccoli", "salt", "soy sauce", "carrot"]
NUTRITION = [
    ("Nutrition5K: What ingredients are in this dish?", ["rice", "chicken"], "rice and chicken"),
    ("Nutrition5K: List the ingredients.", ["olive oil", "salt"], "olive oil"),
    ("Nutrition5K: Ingredients please.", ["carrot"], ""),
]
RECIPE = [
    ("Recipe1M: Write the recipe for this dish.", "Boil the pasta. Add the sauce. Serve warm.", "same"),
    ("Recipe1M: How is this made?", "Mix flour and eggs, then bake for 20 minutes.", ""),
]


def _food101_expected() -> float:
    """Scripted Food101 answers: right, right, wrong key "(5)", and a seeded fallback for item 3."""
    keys = [str(i) for i in range(101)]
    waffles = str(vocab.FOOD101_CLASSES.index("waffles"))
    fallback = float(random.Random(3).choice(keys) == waffles)
    return (1 + 1 + 0 + fallback) / 4


def _pmc_expected() -> float:
    fallback = float(random.Random(3).choice(["A", "B", "C", "D"]) == "D")
    return (1 + 0 + 1 + fallback) / 4


EXPECTED = {
    **{name: dict(values) for name, values in MED_EXPECTED.items()},
    "PMC-VQA": {"accuracy": _pmc_expected()},
    "Food101": {"accuracy": _food101_expected()},
    "FoodSeg103": {"f1": (1 + 0.8 + 0) / 3},
    "Nutrition5K": {"recall": (1 + 0.5 + 0) / 3},
    "Recipe1M": {"rouge_l": 0.5},
}
SIZES = {"SLAKE": 5, "VQA_RAD": 3, "PathVQA": 3, "PMC-VQA": 4, "Recipe1M": 2, "Food101": 4, "FoodSeg103": 3}
SIZES["Nutrition5K"] = 3


def _answers() -> dict[str, str]:
    answers = {text: answer for rows in MED.values() for text, _, _, answer in rows}
    answers.update({text: answer for text, _, answer in PMC + FOOD101 + FOODSEG + NUTRITION})
    answers.update({text: (label if answer == "same" else answer) for text, label, answer in RECIPE})
    return answers


def _image(seed: int):
    from PIL import Image

    return Image.new("RGB", (56, 42), ((37 * seed) % 256, (91 * seed) % 256, (13 * seed) % 256))


def _dataset(columns: dict):
    import datasets

    return datasets.Dataset.from_dict(columns).cast_column("image", datasets.Image())


def _write_jsonl(folder: Path, rows: list[dict]) -> None:
    (folder / "images").mkdir(parents=True)
    with open(folder / "test.jsonl", "w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            name = f"images/{i}.png"
            _image(100 + i + len(str(folder))).save(folder / name)
            fh.write(json.dumps({"image": name, **row}) + "\n")


def build_benchmark(root: Path) -> Path:
    """Write the eight tasks in the Hub schema, in the different layouts a local folder may use."""
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in MED.items():
        columns = {
            "image": [_image(i) for i in range(len(rows))],
            "input": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "answer_type": [r[2] for r in rows],
        }
        if name == "SLAKE":  # plain test.parquet
            (root / name).mkdir()
            _dataset(columns).to_parquet(str(root / name / "test.parquet"))
        elif name == "VQA_RAD":  # the Hub's parquet conversion layout
            (root / name / "test").mkdir(parents=True)
            _dataset(columns).to_parquet(str(root / name / "test" / "0000.parquet"))
        else:  # save_to_disk under the Hub repo's folder name
            _dataset(columns).save_to_disk(str(root / "pathvqa"))
    columns = {"image": [_image(i) for i in range(4)], "input": [r[0] for r in PMC], "label": [r[1] for r in PMC]}
    for key in "ABCD":
        columns[key] = [options[key] for options in PMC_OPTIONS]
    (root / "PMC-VQA").mkdir()
    _dataset(columns).to_parquet(str(root / "PMC-VQA" / "test.parquet"))
    (root / "Recipe1M").mkdir()
    _dataset(
        {"image": [_image(7), _image(8)], "input": [r[0] for r in RECIPE], "label": [r[1] for r in RECIPE]}
    ).to_parquet(str(root / "Recipe1M" / "test.parquet"))
    _write_jsonl(root / "Food101", [{"input": t, "label": label} for t, label, _ in FOOD101])
    (root / "FoodSeg103").mkdir()
    _dataset(
        {"image": [_image(i) for i in range(3)], "input": [r[0] for r in FOODSEG], "label": [r[1] for r in FOODSEG]}
    ).to_parquet(str(root / "FoodSeg103" / "test.parquet"))
    _write_jsonl(root / "Nutrition5K", [{"input": t, "label": label} for t, label, _ in NUTRITION])
    # The vocabulary file sits at the root, as in the Hub repo; it must be read, never executed.
    source = f"raise SystemExit('must not run')\nall_ingredients = {NUTRITION_VOCAB!r}\n"
    (root / vocab.NUTRITION5K_FILE).write_text(source)
    return root


@pytest.fixture(scope="session")
def bench(tmp_path_factory) -> Path:
    """The tiny benchmark folder (all eight tasks)."""
    return build_benchmark(tmp_path_factory.mktemp("bench") / "benchmarks")


class ScriptedVLM:
    """Stands in for ChatVLM: answers from a table, records every generate() call."""

    calls: list[tuple[list[str], int]] = []

    def __init__(self, model_id, *args, **kwargs):
        self.answers = _answers()

    def generate(self, images, texts, max_new_tokens):
        assert len(images) == len(texts) and all(im.mode == "RGB" for im in images)
        ScriptedVLM.calls.append((list(texts), max_new_tokens))
        return [self.answers[t] for t in texts]


def _results(scores: dict) -> dict:
    return {name: entry["results"] for name, entry in scores["tasks"].items()}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
def test_task_registry_groups_budgets_and_names():
    names = [t.name for t in tasks.resolve_tasks("biomed")]
    assert names == ["SLAKE", "VQA_RAD", "PathVQA", "PMC-VQA"]
    assert [t.name for t in tasks.resolve_tasks("food")] == ["Recipe1M", "Food101", "FoodSeg103", "Nutrition5K"]
    assert [t.name for t in tasks.resolve_tasks("pmc_vqa, vqa-rad,SLAKE,slake")] == ["PMC-VQA", "VQA_RAD", "SLAKE"]
    budgets = {t.name: t.max_new_tokens for t in tasks.resolve_tasks("biomed,food")}
    assert budgets == {n: 256 if n in ("Food101", "FoodSeg103", "Nutrition5K") else 1024 for n in budgets}
    assert {t.name: t.repo for t in tasks.resolve_tasks("biomed,food")}["Food101"] == "AdaptLLM/food-VQA-benchmark"
    assert tasks.TASKS["PathVQA"].repo == "AdaptLLM/biomed-VQA-benchmark"
    with pytest.raises(ValueError, match="unknown task or group 'MMMU'"):
        tasks.resolve_tasks("biomed,MMMU")


def test_vocabularies_bundled_and_parsed_without_executing():
    assert len(vocab.FOOD101_CLASSES) == 101 and len(set(vocab.FOOD101_CLASSES)) == 101
    names, source = vocab.load_vocabulary(vocab.FOODSEG103_MAP_FILE, None, Path("/nonexistent"))
    assert source == "bundled" and len(names) == 102
    assert "background" not in names and "other ingredients" not in names
    assert vocab.food101_names_from_map({"apple_pie": 1, "waffles": 0}) == ["waffles", "apple pie"]
    with pytest.raises(ValueError, match="without gaps"):
        vocab.food101_names_from_map({"apple_pie": 0, "waffles": 2})
    assert vocab.foodseg103_names_from_map({"0": "background", "1": "candy", "103": "other ingredients"}) == ["candy"]
    source = "import os\nos.system('exit 1')\nall_ingredients = ['salt', 'rice']\n"
    assert vocab.nutrition5k_names_from_source(source) == ["salt", "rice"]
    with pytest.raises(ValueError, match="all_ingredients"):
        vocab.nutrition5k_names_from_source("x = 1\n")


def test_splits_load_in_every_layout_and_map_rows_to_metric_inputs(bench):
    for task in tasks.resolve_tasks("biomed,food"):
        split = tasks.load_split(task, bench)
        assert len(split) == SIZES[task.name], task.name
    slake = tasks.load_split(tasks.TASKS["SLAKE"], bench, limit=2)
    assert [i.metric_args for i in slake.items] == [{"answer_types": "CLOSED"}, {"answer_types": "OPEN"}]
    assert slake.image(1).mode == "RGB"
    pmc = tasks.load_split(tasks.TASKS["PMC-VQA"], bench)
    assert pmc.items[1].metric_args["options"] == PMC_OPTIONS[1] and pmc.items[1].reference == "B"
    food = tasks.load_split(tasks.TASKS["Food101"], bench)
    assert food.vocabulary_source == "bundled" and len(food.options) == 101
    assert food.items[1].label == "hot_dog" and food.options[food.items[1].reference] == "hot dog"
    assert food.image(0).size == (56, 42)  # relative path resolved inside the task folder
    nutrition = tasks.load_split(tasks.TASKS["Nutrition5K"], bench)
    assert nutrition.shared_kwargs == {"vocabulary": NUTRITION_VOCAB}
    assert nutrition.vocabulary_source.endswith(vocab.NUTRITION5K_FILE)
    seg = tasks.load_split(tasks.TASKS["FoodSeg103"], bench)
    assert seg.items[1].reference == ["steak", "sauce", "broccoli"] and len(seg.shared_kwargs["vocabulary"]) == 102


def test_malformed_benchmarks_are_refused_with_the_row_named(tmp_path):
    root = tmp_path / "bad"
    (root / "SLAKE").mkdir(parents=True)
    rows = {"image": [_image(0), _image(1)], "input": ["q0", "q1"], "label": ["yes", "no"]}
    _dataset({**rows, "answer_type": ["CLOSED", "MAYBE"]}).to_parquet(str(root / "SLAKE" / "test.parquet"))
    with pytest.raises(ValueError, match=r"SLAKE .* row 1: `answer_type` must be OPEN or CLOSED"):
        tasks.load_split(tasks.TASKS["SLAKE"], root)
    (root / "FoodSeg103").mkdir()
    _dataset({**rows, "label": [["rice"], ["unicorn steak"]]}).to_parquet(str(root / "FoodSeg103" / "t.parquet"))
    with pytest.raises(ValueError, match=r"row 1: label name\(s\) \['unicorn steak'\] not in the vocabulary"):
        tasks.load_split(tasks.TASKS["FoodSeg103"], root)
    (root / "PMC-VQA").mkdir()
    _dataset(rows).to_parquet(str(root / "PMC-VQA" / "test.parquet"))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['A', 'B', 'C', 'D'\]"):
        tasks.load_split(tasks.TASKS["PMC-VQA"], root)
    with pytest.raises(FileNotFoundError, match="no folder for task Food101"):
        tasks.load_split(tasks.TASKS["Food101"], root)


def test_scores_follow_the_metric_contracts_with_scripted_answers(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "ChatVLM", ScriptedVLM)
    ScriptedVLM.calls = []
    out = tmp_path / "run"
    scores = harness.evaluate_model("scripted", "biomed,food", out, batch_size=2, benchmark_dir=bench, progress=False)
    results = _results(scores)
    for name, expected in EXPECTED.items():
        for key, value in expected.items():
            # ROUGE-L F of the `rouge` package carries its 1e-8 smoothing (identical texts: 0.99999999).
            tolerance = 1e-8 if key == "rouge_l" else 1e-12
            assert results[name][key] == pytest.approx(value, abs=tolerance), (name, key)
    # Budgets: 256 new tokens for Food101 / FoodSeg103 / Nutrition5K, 1024 otherwise.
    budgets = {text.split(":")[0]: n for texts, n in ScriptedVLM.calls for text in texts}
    assert budgets == {n: 256 if n in ("Food101", "FoodSeg103", "Nutrition5K") else 1024 for n in SIZES}
    assert all(len(texts) <= 2 for texts, _ in ScriptedVLM.calls)
    # Per-item scores add up to the task score wherever the task has one score.
    for name, expected in EXPECTED.items():
        records = _lines(out / "predictions" / f"{name}.jsonl")
        assert sorted(r["id"] for r in records) == list(range(SIZES[name]))
        assert all(0.0 <= r["score"] <= 1.0 for r in records)
        if name not in MED:
            (key,) = expected
            assert sum(r["score"] for r in records) / len(records) == pytest.approx(results[name][key], abs=1e-12)
    food = {r["id"]: r for r in _lines(out / "predictions" / "Food101.jsonl")}
    assert food[3]["random_fallback"] is True and food[0]["random_fallback"] is False
    slake = {r["id"]: r for r in _lines(out / "predictions" / "SLAKE.jsonl")}
    assert slake[3]["score"] == 0.5 and slake[3]["answer_type"] == "OPEN"
    assert scores["tasks"]["Nutrition5K"]["vocabulary_source"].endswith(vocab.NUTRITION5K_FILE)
    table = (out / "scores.md").read_text()
    assert "| SLAKE | OPEN recall | 83.33 | 3 |" in table and "| FoodSeg103 | F1 | 60.00 | 3 |" in table


def test_tiny_qwen2_vl_end_to_end_resume_and_batching(bench, tiny_models, tmp_path, monkeypatch):
    model = str(tiny_models["qwen2_vl"])
    out = tmp_path / "qwen"
    kwargs = {"benchmark_dir": bench, "max_new_tokens": 4, "progress": False}
    first = harness.evaluate_model(model, "biomed,food", out, batch_size=3, **kwargs)
    assert set(first["tasks"]) == set(SIZES)
    for name, entry in first["tasks"].items():
        assert entry["num_items"] == SIZES[name] and entry["num_errors"] == 0
        for key in entry["primary"]:
            assert 0.0 <= entry["results"][key] <= 1.0
    assert json.loads((out / "scores.json").read_text()) == first
    table_rows = [line for line in (out / "scores.md").read_text().splitlines() if line.startswith("| ")]
    assert len(table_rows) == 1 + 11  # header, then 3 x 2 medical rows + 5 others
    original = {n: {r["id"]: r for r in _lines(out / "predictions" / f"{n}.jsonl")} for n in SIZES}
    assert all(isinstance(r["prediction"], str) for rs in original.values() for r in rs.values())

    # Batching with left padding changes nothing: one-by-one answers are the same.
    single = harness.evaluate_model(model, "SLAKE", tmp_path / "single", batch_size=1, **kwargs)
    assert _results(single)["SLAKE"] == _results(first)["SLAKE"]
    assert {r["id"]: r for r in _lines(tmp_path / "single" / "predictions" / "SLAKE.jsonl")} == original["SLAKE"]

    # Resume: drop some lines and leave a torn last line (a killed run), then rerun.
    slake_path = out / "predictions" / "SLAKE.jsonl"
    slake_path.write_text("".join(json.dumps(r) + "\n" for r in list(original["SLAKE"].values())[:2]))
    food_path = out / "predictions" / "Food101.jsonl"
    food_path.write_text(food_path.read_text().splitlines()[0] + "\n" + '{"id": 2, "inp')
    again = harness.evaluate_model(model, "biomed,food", out, batch_size=3, **kwargs)
    assert _results(again) == _results(first)
    for name in ("SLAKE", "Food101"):
        lines = _lines(out / "predictions" / f"{name}.jsonl")
        assert {r["id"]: r for r in lines} == original[name] and len(lines) == SIZES[name]

    # A finished run is not redone: the model is not even loaded.
    def no_model(*args, **kw):
        raise AssertionError("model loaded although every item is done")

    monkeypatch.setattr(harness, "ChatVLM", no_model)
    assert _results(harness.evaluate_model(model, "biomed,food", out, batch_size=3, **kwargs)) == _results(first)
    monkeypatch.undo()

    # A crash after the first batch keeps what was written; the rerun completes with the same scores.
    crashed = tmp_path / "crashed"
    real_generate = harness.ChatVLM.generate
    calls = []

    def crash_on_second(self, images, texts, max_new_tokens):
        calls.append(len(texts))
        if len(calls) == 2:
            raise RuntimeError("simulated kill")
        return real_generate(self, images, texts, max_new_tokens)

    monkeypatch.setattr(harness.ChatVLM, "generate", crash_on_second)
    with pytest.raises(RuntimeError, match="simulated kill"):
        harness.evaluate_model(model, "SLAKE", crashed, batch_size=3, **kwargs)
    assert len(_lines(crashed / "predictions" / "SLAKE.jsonl")) == 3 and not (crashed / "scores.json").exists()
    monkeypatch.undo()
    resumed = harness.evaluate_model(model, "SLAKE", crashed, batch_size=3, **kwargs)
    assert _results(resumed)["SLAKE"] == _results(first)["SLAKE"]
    assert {r["id"]: r for r in _lines(crashed / "predictions" / "SLAKE.jsonl")} == original["SLAKE"]


RELEASED_LLAVA = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful language and vision "
    "assistant. You are able to understand the visual content that the user provides, and assist the user with "
    "a variety of tasks using natural language.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n<image>\n{question}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)


def _expected_llava_ids(tok, question: str) -> list[int]:
    """The released prompt's ids piece by piece (one image token): special tokens by id, text encoded alone."""
    s, t = tok.convert_tokens_to_ids, (lambda text: tok(text, add_special_tokens=False)["input_ids"])
    system = (
        "\n\nYou are a helpful language and vision assistant. You are able to understand the visual content "
        "that the user provides, and assist the user with a variety of tasks using natural language."
    )
    ids = [tok.bos_token_id, s("<|begin_of_text|>")]  # the tokenizer's BOS, then the prompt's: two, as released
    ids += [s("<|start_header_id|>"), *t("system"), s("<|end_header_id|>"), *t(system), s("<|eot_id|>")]
    ids += [s("<|start_header_id|>"), *t("user"), s("<|end_header_id|>"), *t("\n\n"), s("<image>")]
    ids += [*t("\n" + question), s("<|eot_id|>")]
    ids += [s("<|start_header_id|>"), *t("assistant"), s("<|end_header_id|>"), *t("\n\n")]
    return ids


def test_llava_next_gets_the_released_prompt_token_for_token(tiny_models, monkeypatch):
    from PIL import Image

    vlm = harness.ChatVLM(str(tiny_models["llava_next"]), device="cpu")
    assert vlm.prompt_style == "llava_llama_3"
    questions = ["PMC-VQA: Question: Which organ?\n(A) Lung\n(B) Liver", "Is this normal?"]
    images = [Image.new("RGB", (64, 40), (120, 30, 200)), Image.new("RGB", (30, 90), (10, 200, 40))]
    assert vlm.prompt(questions[1]) == RELEASED_LLAVA.format(question=questions[1])

    fed = []
    real_generate = vlm.model.generate

    def recording_generate(**kwargs):
        fed.append(kwargs)
        return real_generate(**kwargs)

    monkeypatch.setattr(vlm.model, "generate", recording_generate)
    vlm.generate(images, questions, max_new_tokens=2)
    tok = vlm.tokenizer
    image_id = tok.convert_tokens_to_ids("<image>")
    for row, (image, question) in enumerate(zip(images, questions)):
        mask = fed[0]["attention_mask"][row].bool()
        ids = fed[0]["input_ids"][row][mask].tolist()
        assert fed[0]["input_ids"][row][~mask].tolist() == [tok.pad_token_id] * int((~mask).sum())
        assert not mask[-1:].logical_not().any()  # left padding
        # the tokenization of the exact released string, the image token expanded as the processor does
        exact = vlm.processor(text=[RELEASED_LLAVA.format(question=question)], images=[image], return_tensors="pt")
        assert ids == exact["input_ids"][0].tolist()
        n_image = ids.count(image_id)
        first = ids.index(image_id)
        assert n_image > 1 and ids[first : first + n_image] == [image_id] * n_image
        assert ids[: first + 1] + ids[first + n_image :] == _expected_llava_ids(tok, question)

    # answers are returned as decoded, not stripped
    monkeypatch.setattr(tok, "batch_decode", lambda ids, **kw: [" (B) Liver\n"] * len(ids))
    assert vlm.generate(images, questions, max_new_tokens=1) == [" (B) Liver\n"] * 2


def test_prompt_format_chat_and_other_models_use_the_chat_template(tiny_models):
    question = "What modality is this?"
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    for name, fmt in (("llava_next", "chat"), ("qwen2_vl", "released")):
        vlm = harness.ChatVLM(str(tiny_models[name]), device="cpu", prompt_format=fmt)
        assert vlm.prompt_style == "chat_template", name
        expected = vlm.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert vlm.prompt(question) == expected
        assert "You are a helpful language and vision assistant" not in expected
    with pytest.raises(ValueError, match="unknown prompt format 'llava'"):
        harness.ChatVLM(str(tiny_models["llava_next"]), device="cpu", prompt_format="llava")


def test_llava_next_runs_through_the_same_harness(bench, tiny_models, tmp_path):
    scores = harness.evaluate_model(
        str(tiny_models["llava_next"]),
        "PMC-VQA",
        tmp_path / "llava",
        limit=2,
        batch_size=2,
        benchmark_dir=bench,
        max_new_tokens=3,
        progress=False,
    )
    entry = scores["tasks"]["PMC-VQA"]
    assert entry["num_items"] == 2 and 0.0 <= entry["results"]["accuracy"] <= 1.0
    assert json.loads((tmp_path / "llava" / "run.json").read_text())["prompt_format"] == "released"


def test_predictions_reach_the_metric_as_generated(bench, tmp_path, monkeypatch):
    """Whitespace around an answer is neither stripped before the metric nor in the stored line."""

    class Padded(ScriptedVLM):
        def generate(self, images, texts, max_new_tokens):
            return [f" {answer}\n" for answer in super().generate(images, texts, max_new_tokens)]

    seen = []
    real_load = harness.load_metric

    class Recording:
        def __init__(self, metric):
            self.metric = metric

        def compute(self, predictions, **kwargs):
            seen.extend(predictions)
            return self.metric.compute(predictions=predictions, **kwargs)

    monkeypatch.setattr(harness, "ChatVLM", Padded)
    monkeypatch.setattr(harness, "load_metric", lambda name: Recording(real_load(name)))
    scores = harness.evaluate_model("scripted", "VQA_RAD", tmp_path / "run", benchmark_dir=bench, progress=False)
    padded = [f" {answer}\n" for _, _, _, answer in MED["VQA_RAD"]]
    assert seen[-3:] == padded  # the task score: the whole split in dataset order
    assert sorted(seen[:3]) == sorted(padded)  # the per-item scores
    assert [r["prediction"] for r in _lines(tmp_path / "run" / "predictions" / "VQA_RAD.jsonl")] == padded
    assert _results(scores)["VQA_RAD"] == MED_EXPECTED["VQA_RAD"]  # the metric's own normalisation


def test_runs_refuse_mixing_models_or_datasets(bench, tmp_path, monkeypatch):
    from hub_tools.errors import ConfigMismatch

    monkeypatch.setattr(harness, "ChatVLM", ScriptedVLM)
    out = tmp_path / "run"
    harness.evaluate_model("scripted", "VQA_RAD", out, benchmark_dir=bench, progress=False)
    refused = "already holds an evaluation run with different settings"
    with pytest.raises(
        ConfigMismatch, match=f"{refused} \\(model: run has 'scripted', this command has 'other-model'"
    ):
        harness.evaluate_model("other-model", "VQA_RAD", out, benchmark_dir=bench, progress=False)
    with pytest.raises(
        ConfigMismatch, match="prompt_format: run has 'released', this command has 'chat'.*--overwrite"
    ):
        harness.evaluate_model("scripted", "VQA_RAD", out, benchmark_dir=bench, progress=False, prompt_format="chat")
    with pytest.raises(ValueError, match="unknown prompt format"):
        harness.evaluate_model("scripted", "VQA_RAD", tmp_path / "x", benchmark_dir=bench, prompt_format="raw")
    old = tmp_path / "old"  # written before prompt_format existed: chat templates for every model
    (old / "run.json").parent.mkdir()
    (old / "run.json").write_text(json.dumps({"model": "scripted", "min_pixels": 50176, "max_pixels": 1003520}))
    with pytest.raises(ConfigMismatch, match="prompt_format: run has 'chat', this command has 'released'"):
        harness.evaluate_model("scripted", "VQA_RAD", old, benchmark_dir=bench, progress=False)
    harness.evaluate_model("scripted", "VQA_RAD", old, benchmark_dir=bench, progress=False, prompt_format="chat")
    path = out / "predictions" / "VQA_RAD.jsonl"
    records = _lines(path)
    records[1]["input"] = "a question from another dataset version"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(ValueError, match="item 1 does not match the benchmark row"):
        harness.evaluate_model("scripted", "VQA_RAD", out, benchmark_dir=bench, progress=False)
    path.write_text('{"id": 0, "prediction": "x"}\nnot json\n{"id": 2, "prediction": "y"}\n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        harness.read_predictions(path)


def test_unreadable_images_are_scored_as_wrong_not_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "ChatVLM", ScriptedVLM)
    root = tmp_path / "bench"
    _write_jsonl(root / "Recipe1M", [{"input": t, "label": label} for t, label, _ in RECIPE])
    (root / "Recipe1M" / "images" / "0.png").write_bytes(b"")  # a zero-byte image
    scores = harness.evaluate_model("scripted", "Recipe1M", tmp_path / "run", benchmark_dir=root, progress=False)
    entry = scores["tasks"]["Recipe1M"]
    assert entry["num_items"] == 2 and entry["num_errors"] == 1 and entry["results"]["rouge_l"] == 0.0
    records = {r["id"]: r for r in _lines(tmp_path / "run" / "predictions" / "Recipe1M.jsonl")}
    assert records[0]["prediction"] == "" and "zero-byte" in records[0]["error"] and records[0]["score"] == 0.0


def test_metric_options_reach_the_metric_and_are_recorded(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "ChatVLM", ScriptedVLM)
    options = {"medical_vqa": {"mode": "llava_med"}}
    scores = harness.evaluate_model(
        "scripted", "VQA_RAD", tmp_path / "a", benchmark_dir=bench, metric_options=options, progress=False
    )
    assert scores["tasks"]["VQA_RAD"]["metric_options"] == {"mode": "llava_med"}
    with pytest.raises(ValueError, match="mode"):
        harness.evaluate_model(
            "scripted",
            "VQA_RAD",
            tmp_path / "b",
            benchmark_dir=bench,
            metric_options={"medical_vqa": {"mode": "no-such-mode"}},
            progress=False,
        )


def test_metrics_dir_finds_the_repository_modules(monkeypatch, tmp_path):
    assert harness.metrics_dir() == Path(__file__).resolve().parents[1] / "metrics"
    for name in ("medical_vqa", "multiple_choice", "multilabel", "rouge_l"):
        assert harness.load_metric(name).name
    other = tmp_path / "m"
    (other / "x").mkdir(parents=True)
    (other / "x" / "x.py").write_text("")
    monkeypatch.setenv(harness.METRICS_ENV, str(other))
    assert harness.metrics_dir() == other


def _fake_run(folder: Path, model: str, values: dict[str, dict[str, float]]) -> Path:
    folder.mkdir(parents=True)
    entries = {}
    for name, results in values.items():
        primary = list(tasks.TASKS[name].primary)
        entries[name] = {"primary": primary, "results": results, "num_items": 10, "metric": tasks.TASKS[name].metric}
    (folder / "scores.json").write_text(json.dumps({"model": model, "tasks": entries}))
    return folder


def test_compare_prints_deltas_and_writes_a_png(tmp_path, capsys):
    from hub_tools.cli import main

    base = _fake_run(
        tmp_path / "base",
        "Qwen/Qwen2-VL-2B-Instruct",
        {"SLAKE": {"open_recall": 0.5, "closed_accuracy": 0.6}, "PMC-VQA": {"accuracy": 0.4}},
    )
    adapted = _fake_run(
        tmp_path / "adapted",
        "me/biomed-Qwen2-VL-2B",
        {"SLAKE": {"open_recall": 0.55, "closed_accuracy": 0.58}, "Food101": {"accuracy": 0.7}},
    )
    png = tmp_path / "chart" / "compare.png"
    rows = report.compare(base, adapted, png, echo=False)
    by_key = {(r["task"], r["metric"]): r for r in rows}
    assert by_key[("SLAKE", "open_recall")]["delta"] == pytest.approx(5.0)
    assert by_key[("SLAKE", "closed_accuracy")]["delta"] == pytest.approx(-2.0)
    assert by_key[("PMC-VQA", "accuracy")]["b"] is None and by_key[("Food101", "accuracy")]["a"] is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cli_png = tmp_path / "cli.png"
    assert main(["compare", str(base), str(adapted), "--output", str(cli_png)]) == 0
    printed = capsys.readouterr().out
    assert (
        "| SLAKE | OPEN recall | 50.00 | 55.00 | +5.00 |" in printed
        and "| PMC-VQA | accuracy | 40.00 | — | — |" in printed
    )
    assert cli_png.stat().st_size > 1000
    assert main(["compare", str(base), str(tmp_path / "missing")]) == 1  # a missing input: a runtime failure


def test_cli_evaluate_biomed_on_a_local_folder(bench, tiny_models, tmp_path, capsys):
    from hub_tools.cli import main

    out = tmp_path / "cli"
    argv = ["evaluate", "--model", str(tiny_models["qwen2_vl"]), "--tasks", "biomed", "--output", str(out)]
    argv += ["--benchmark-dir", str(bench), "--limit", "2", "--batch-size", "2", "--max-new-tokens", "2"]
    assert main(argv + ["--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| PMC-VQA | accuracy |" in printed and (out / "scores.md").is_file()
    scores = json.loads((out / "scores.json").read_text())
    assert sorted(scores["tasks"]) == ["PMC-VQA", "PathVQA", "SLAKE", "VQA_RAD"]
    assert all(entry["num_items"] == 2 for entry in scores["tasks"].values())
    assert json.loads((out / "run.json").read_text())["prompt_format"] == "released"
    chat = ["evaluate", "--model", str(tiny_models["llava_next"]), "--tasks", "VQA_RAD", "--output"]
    chat += [str(tmp_path / "chat"), "--benchmark-dir", str(bench), "--limit", "1", "--max-new-tokens", "1"]
    assert main(chat + ["--prompt-format", "chat", "--no-progress"]) == 0
    assert json.loads((tmp_path / "chat" / "run.json").read_text())["prompt_format"] == "chat"
    capsys.readouterr()
    bad = ["evaluate", "--model", "m", "--tasks", "biomed,nope", "--output", str(tmp_path / "bad")]
    assert main(bad) == 2 and "unknown task or group 'nope'" in capsys.readouterr().err


def test_overwrite_starts_an_evaluation_over_and_keeps_other_files(bench, tmp_path, monkeypatch):
    """``overwrite`` (``adamllm evaluate --overwrite``) removes the earlier run's outputs, and only those."""
    monkeypatch.setattr(harness, "ChatVLM", ScriptedVLM)
    out = tmp_path / "run"
    harness.evaluate_model("scripted", "VQA_RAD", out, benchmark_dir=bench, progress=False)
    (out / "notes.txt").write_text("mine")
    harness.evaluate_model(
        "scripted", "VQA_RAD", out, benchmark_dir=bench, progress=False, prompt_format="chat", overwrite=True
    )
    assert json.loads((out / "run.json").read_text())["prompt_format"] == "chat"
    assert (out / "notes.txt").read_text() == "mine"
    assert len(_lines(out / "predictions" / "VQA_RAD.jsonl")) == len(MED["VQA_RAD"])
