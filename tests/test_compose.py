"""Composition: answer-cue rules, templates, single/two-stage rows, exports, datasets + TRL collator."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hub_tools.compose import compose_rows, compose_run, compose_task, example_rng, has_cue, last_sentence
from hub_tools.compose.cot_templates import COT_POOL
from hub_tools.compose.qa_templates import QA_POOL
from hub_tools.rundir import collect_outcomes


# ---------------------------------------------------------------------------------------------
# helpers: a run directory built directly from the docs/run_dir.md contract
# ---------------------------------------------------------------------------------------------
def synth_row(pid, triplets=(), status="synthesized", caption=None, prompt=None):
    """A synthesis row as docs/run_dir.md describes it."""
    return {
        "id": pid,
        "status": status,
        "reason": "image is a zero-byte file" if status == "rejected" else None,
        "caption": caption if caption is not None else f"Caption of {pid}.",
        "caption_prompt": prompt,
        "image": None if status == "rejected" else f"images/{pid}.png",
        "source": {"reader": "sharegpt", "path": "pairs.json", "index": 0},
        "generation": None,
        "triplets": [{"question": q, "informative": i, "precise": p} for q, i, p in triplets],
    }


def write_run(run_dir: Path, synth_rows, labels: dict[str, list[str]], images: bool = True) -> Path:
    """Write synthesis + filter shards (and small images) for ``synth_rows``; ``labels[id]`` = verdict labels."""
    from PIL import Image

    (run_dir / "synthesis").mkdir(parents=True)
    (run_dir / "filter").mkdir()
    (run_dir / "images").mkdir()
    with open(run_dir / "synthesis" / "shard-0-0.jsonl", "w") as fh:
        for row in synth_rows:
            fh.write(json.dumps(row) + "\n")
            if images and row["status"] != "rejected":
                color = tuple(random.Random(row["id"]).randrange(256) for _ in range(3))
                Image.new("RGB", (40, 32), color).save(run_dir / row["image"])
    with open(run_dir / "filter" / "shard-0-0.jsonl", "w") as fh:
        for row in synth_rows:
            if row["status"] == "rejected":
                continue
            verdicts = [{"label": lab, "probs": None} for lab in labels.get(row["id"], [])]
            fh.write(json.dumps({"id": row["id"], "checker": "lexical", "verdicts": verdicts}) + "\n")
    return run_dir


def mixed_rows(n: int = 30):
    """``n`` pairs: kept (all three cue branches), No / Open verdicts, no triplets, rejected."""
    rows, labels = [], {}
    for k in range(n):
        pid = f"pair-{k:03d}"
        kind = k % 6
        if kind == 5:
            rows.append(synth_row(pid, status="rejected"))
            continue
        if kind == 4:
            rows.append(synth_row(pid, prompt="What is in this picture?" if k % 2 else None))
            continue
        q = f"Question {k}: which organ is shown?"
        if kind == 0:  # cue in the informative's last sentence
            inf, prec = f"The scan shows the liver {k}. Therefore it is the liver.", f"liver {k}"
        elif kind == 1:  # cue only in the precise answer
            inf, prec = f"The scan shows the liver {k}.", f"So the answer is liver {k}."
        else:  # no cue: chain of thought
            inf, prec = f"The scan shows a large organ {k} in the upper right abdomen.", f"Liver {k}"
        rows.append(synth_row(pid, [(q, inf, prec), ("Second?", "second informative", "second")]))
        labels[pid] = ["Yes", "No"] if kind != 3 else [random.Random(k).choice(["No", "Open"]), "Yes"]
    return rows, labels


# ---------------------------------------------------------------------------------------------
# answer-cue rules: the released rule (default), quirks included, and the `words` variant
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("informative", "precise", "branch"),
    [
        ("A dark area is seen. So the organ is the liver.", "Liver", "informative"),  # "so " in the last piece
        ("The organ is the liver. Therefore, it is the liver.", "Liver", "cot"),  # "therefore," has no space
        ("Thus, the liver.", "Liver", "cot"),  # "thus," likewise
        ("The lesion is also round.", "Round", "informative"),  # "also " contains "so "
        ("Finally the liver.", "Liver", "cot"),  # "finally" is not "final "
        ("The final diagnosis is a cyst.", "Cyst", "informative"),  # "final "
        ("It could be a cyst.", "Cyst", "informative"),  # "could be "
        ("So we look closely. The liver is enlarged.", "Liver", "cot"),  # cue only in an earlier piece
        ("Look closely.So the liver.", "Liver", "informative"),  # no ". " split: one piece
        ("The liver is enlarged.", "The final answer is liver.", "concat"),  # cue in the precise answer
        ("The liver is enlarged.", "Result is liver", "concat"),  # upper case is lowered first
        ("The liver is enlarged.", "Liver, so", "cot"),  # "so" with no trailing space
        ("The liver is enlarged.", "Liver", "cot"),
        ("The result: liver. It is big.", "Liver", "cot"),  # "result:" has no space after the word
    ],
)
def test_released_answer_branch(informative, precise, branch):
    from hub_tools.compose import answer_branch

    assert answer_branch(informative, precise) == branch
    assert answer_branch(informative, precise, rule="released") == branch


def test_released_answer_branch_strips_the_informative_answer_itself():
    """Called alone on unstripped text, answer_branch is the released rule: the informative answer is stripped
    before the split on ". " (else a trailing ". " leaves an empty last piece); the precise answer is used as given."""
    from hub_tools.compose import answer_branch

    assert answer_branch("The result is clear. So red. ", "Red") == "informative"
    assert answer_branch("  The result is clear. So red.\n", "Red") == "informative"
    assert answer_branch("It is red. ", "Red, so ") == "concat"
    assert answer_branch("It is red. ", "Red, so") == "cot"  # "so" without its space is no cue


@pytest.mark.parametrize(
    ("informative", "precise", "released", "words"),
    [
        ("The organ is the liver. Therefore, it is the liver.", "Liver", "cot", "informative"),
        ("The lesion is also round.", "Round", "informative", "cot"),
        ("Finally the liver.", "Liver", "cot", "informative"),
        ("The liver is enlarged.", "Liver, so", "cot", "concat"),
    ],
)
def test_released_and_words_rules_disagree_where_the_issue_says(informative, precise, released, words):
    from hub_tools.compose import answer_branch

    assert answer_branch(informative, precise, "released") == released
    assert answer_branch(informative, precise, "words") == words


def test_unknown_cue_rule_is_refused():
    from hub_tools.compose import answer_branch

    with pytest.raises(ValueError, match="unknown cue rule"):
        answer_branch("a", "b", rule="nope")


def test_words_rule_helpers():
    assert last_sentence("First one. Second one! Third?") == "Third?"
    assert last_sentence("No terminal punctuation") == "No terminal punctuation"
    assert has_cue("Thus, it is benign.") and has_cue("It could be a cyst.") and has_cue("The final dish.")
    assert not has_cue("It is also round.")  # whole words: "so" inside "also" is no cue
    assert not has_cue("The resultant image is dark.")


def test_branch_informative_alone():
    turn = compose_task("Which organ?", "A dark area is seen. So the organ is the liver.", "Liver", random.Random(0))
    assert turn.branch == "informative"
    assert turn.template == random.Random(0).randrange(len(QA_POOL))
    assert (turn.user, turn.assistant) == QA_POOL[turn.template].render(
        question="Which organ?", answer="A dark area is seen. So the organ is the liver."
    )


def test_branch_concatenation():
    turn = compose_task("Which organ?", "The liver is enlarged.", "The final answer is liver.", random.Random(0))
    assert turn.branch == "concat"
    expected = QA_POOL[turn.template].render(
        question="Which organ?", answer="The liver is enlarged. The final answer is liver."
    )
    assert (turn.user, turn.assistant) == expected


def test_branch_chain_of_thought():
    rng = random.Random(3)
    turn = compose_task("Which organ?", "The liver is enlarged.", "Liver", rng)
    assert turn.branch == "cot"
    expected = COT_POOL[turn.template].render(
        question="Which organ?", reasoning="The liver is enlarged.", answer="Liver"
    )
    assert (turn.user, turn.assistant) == expected


def test_compose_task_inserts_the_triplet_as_given():
    """As released, the instruction and answers go into the template unchanged (no strip, no hint cleaning)."""
    question, informative, precise = " Which organ?\n", "The liver is enlarged. ", " Liver"
    turn = compose_task(question, informative, precise, random.Random(3))
    assert turn.branch == "cot"
    expected = COT_POOL[turn.template].render(question=question, reasoning=informative, answer=precise)
    assert (turn.user, turn.assistant) == expected


def test_words_rule_reproduces_the_earlier_branches():
    turn = compose_task(
        "Q?", "The organ is the liver. Therefore, it is the liver.", "Liver", random.Random(0), "words"
    )
    assert turn.branch == "informative"


def test_templates_vary_across_examples_and_include_inverted_ones():
    turns = [compose_task("Q?", "Because of X.", "Y", random.Random(f"0-{i}")) for i in range(400)]
    assert len({t.template for t in turns}) > 60
    assert any(COT_POOL[t.template].inverted for t in turns)


def test_every_template_shape_is_drawn_and_composes_its_fields():
    """Across examples, compose_task draws every shape of both pools; each turn shows the triplet's parts
    the shape gives and asks for (question-only and answer-dropping leave the answer out)."""
    from hub_tools.compose.templates import SHAPES

    q, inf, prec = "Which organ is enlarged?", "The organ in the upper right is large.", "Liver"
    seen = {}
    for i in range(3000):
        for informative in (inf, inf + " So it is the liver."):  # the cot and the informative-alone branches
            turn = compose_task(q, informative, prec, random.Random(f"0-{i}"))
            pool = COT_POOL if turn.branch == "cot" else QA_POOL
            seen.setdefault(pool[turn.template].shape, (turn, informative))
    assert set(seen) == set(SHAPES)
    for shape, (turn, informative) in seen.items():
        _, given, produced = SHAPES[shape]
        answer = prec if turn.branch == "cot" else informative
        values = {"question": q, "answer": answer} | ({"reasoning": informative} if turn.branch == "cot" else {})
        for name, value in values.items():
            assert (value in turn.user) == (name in given), (shape, name)
            assert (value in turn.assistant) == (name in produced), (shape, name)


# ---------------------------------------------------------------------------------------------
# whole-run composition
# ---------------------------------------------------------------------------------------------
def _read(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_single_stage_rows_and_stats(tmp_path):
    rows, labels = mixed_rows(30)
    run = write_run(tmp_path / "run", rows, labels)
    result = compose_run(run, seed=7)
    out = _read(run / "compose" / "train.jsonl")
    stats = json.loads((run / "stats.json").read_text())
    assert stats["pairs_in"] == 30 == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    assert stats["rejected"] == 5 and stats["no_task"] == 5 and stats["caption_only"] == 5
    kept_ids = {r["id"] for r in rows if labels.get(r["id"], [None])[0] == "Yes"}
    assert stats["kept"] == len(kept_ids) == 15
    judged = [lab for labs in labels.values() for lab in labs]
    assert stats["verdicts"] == {lab: judged.count(lab) for lab in ("Yes", "No", "Open", "Other")}
    assert result["splits"] == {"train": 20}
    by_id = {r["id"]: r for r in out}
    assert len(by_id) == len(out) == 20  # one conversation per image with a complete triplet
    orders = set()
    for src in rows:
        if src["status"] == "rejected" or not src["triplets"]:  # rejected, or no_task: dropped as released
            assert src["id"] not in by_id
            continue
        row = by_id[src["id"]]
        assert row["images"] == [f"images/{src['id']}.png"]
        msgs = row["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant"] * (len(msgs) // 2)
        # the image exactly once, first in the first user turn
        parts = [p for m in msgs for p in m["content"]]
        assert sum(p["type"] == "image" for p in parts) == 1 and msgs[0]["content"][0] == {"type": "image"}
        texts = [" ".join(p["text"] for p in m["content"] if p["type"] == "text") for m in msgs]
        assert src["caption"] in texts[1::2]
        prompt = src["caption_prompt"] or "Describe the image."
        assert prompt in texts[0::2]
        if src["id"] in kept_ids:
            assert row["kind"] == "caption+task" and len(msgs) == 4
            orders.add(texts[1] == src["caption"])
            assert texts[2 * row["caption_turn"] + 1] == src["caption"]
            t = src["triplets"][0]
            # the task turn is the first triplet composed with the example's generator (after the caption
            # order draw); what it shows of the triplet depends on the drawn template's shape
            rng = example_rng(7, src["id"])
            rng.random()
            turn = compose_task(t["question"], t["informative"], t["precise"], rng)
            task = 2 * (1 - row["caption_turn"])
            assert texts[task : task + 2] == [turn.user, turn.assistant]
            assert "second informative" not in " ".join(texts)  # only triplets[0] is used
        else:
            assert row["kind"] == "caption_only" and len(msgs) == 2 and row["caption_turn"] == 0
    assert orders == {True, False}  # caption first and caption last both occur


def test_keep_captions_without_task_restores_caption_rows(tmp_path):
    rows, labels = mixed_rows(30)
    run = write_run(tmp_path / "run", rows, labels)
    result = compose_run(run, seed=7, keep_captions_without_task=True)
    stats = json.loads((run / "stats.json").read_text())
    assert (stats["kept"], stats["caption_only"], stats["no_task"], stats["rejected"]) == (15, 10, 0, 5)
    assert result["splits"] == {"train": 25}
    out = {r["id"]: r for r in _read(run / "compose" / "train.jsonl")}
    for src in rows:
        if src["status"] != "rejected" and not src["triplets"]:
            assert out[src["id"]]["kind"] == "caption_only"


def test_cue_rule_words_through_the_cli(tmp_path):
    import subprocess
    import sys

    rows = [synth_row("p0", [("Which organ?", "It is the liver. Therefore, the liver.", "Liver")])]
    run = write_run(tmp_path / "run", rows, {"p0": ["Yes"]})
    branches = {}
    for rule in ("released", "words"):
        cmd = [sys.executable, "-m", "hub_tools", "compose", str(run), "--cue-rule", rule]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        row = _read(run / "compose" / "train.jsonl")[0]
        task = row["messages"][2:] if row["caption_turn"] == 0 else row["messages"][:2]
        branches[rule] = task[1]["content"][-1]["text"]
        assert json.loads((run / "manifest.json").read_text())["compose"]["cue_rule"] == rule
    assert branches["words"].endswith("It is the liver. Therefore, the liver.")  # informative alone
    assert "Liver" in branches["released"].replace("It is the liver. Therefore, the liver.", "")  # a CoT answer


def test_deterministic_for_a_seed_and_order_independent(tmp_path):
    rows, labels = mixed_rows(24)
    run = write_run(tmp_path / "run", rows, labels)
    compose_run(run, seed=1)
    first = (run / "compose" / "train.jsonl").read_text()
    compose_run(run, seed=1)
    assert (run / "compose" / "train.jsonl").read_text() == first
    compose_run(run, seed=2)
    assert (run / "compose" / "train.jsonl").read_text() != first
    outcomes, _ = collect_outcomes(run)
    shuffled = outcomes[:]
    random.Random(0).shuffle(shuffled)
    a = {r["id"]: r for r in compose_rows(outcomes, seed=1)["train"]}
    b = {r["id"]: r for r in compose_rows(shuffled, seed=1)["train"]}
    assert a == b
    assert [r["id"] for r in compose_rows(outcomes, seed=1)["train"]] == [
        json.loads(x)["id"] for x in first.splitlines()
    ]


def test_two_stage_and_synthetic_only(tmp_path):
    rows, labels = mixed_rows(18)
    run = write_run(tmp_path / "run", rows, labels)
    result = compose_run(run, mode="two-stage")
    assert result["splits"] == {"caption": 12, "task": 9}
    caps, tasks = _read(run / "compose" / "caption.jsonl"), _read(run / "compose" / "task.jsonl")
    assert all(len(r["messages"]) == 2 and r["kind"] == "caption_only" for r in caps)
    assert all(len(r["messages"]) == 2 and r["kind"] == "task" for r in tasks)
    assert all(r["messages"][0]["content"][0] == {"type": "image"} for r in caps + tasks)
    assert len({r["id"] for r in tasks}) == 9
    result = compose_run(run, synthetic_only=True)
    assert result["splits"] == {"train": 9}
    rows_out = _read(run / "compose" / "train.jsonl")
    captions = {r["caption"] for r in rows}
    for r in rows_out:
        assert r["kind"] == "task" and len(r["messages"]) == 2
        assert r["messages"][1]["content"][0]["text"] not in captions
    assert compose_run(run, mode="two-stage", synthetic_only=True)["splits"] == {"task": 9}


def test_missing_verdicts_are_an_error(tmp_path):
    rows, labels = mixed_rows(6)
    run = write_run(tmp_path / "run", rows, labels)
    lines = (run / "filter" / "shard-0-0.jsonl").read_text().splitlines()
    (run / "filter" / "shard-0-0.jsonl").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match="no consistency verdict"):
        compose_run(run)


def test_llamafactory_export(tmp_path):
    rows, labels = mixed_rows(12)
    run = write_run(tmp_path / "run", rows, labels)
    compose_run(run, export="llamafactory")
    out = run / "compose" / "llamafactory"
    info = json.loads((out / "dataset_info.json").read_text())
    entry = info["adamllm_train"]
    assert entry["formatting"] == "sharegpt" and entry["file_name"] == "train.json"
    assert entry["columns"] == {"messages": "messages", "images": "images"}
    assert entry["tags"] == {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
    }
    data = json.loads((out / "train.json").read_text())
    assert len(data) == 8
    for ex in data:
        msgs = ex["messages"]
        assert all(isinstance(m["content"], str) for m in msgs)
        assert msgs[0]["role"] == "user" and msgs[0]["content"].startswith("<image>\n")  # as released
        assert not msgs[0]["content"].startswith("<image>\n\n") and msgs[0]["content"][len("<image>\n") :].strip()
        assert sum(m["content"].count("<image>") for m in msgs) == len(ex["images"]) == 1
        # LLaMA-Factory joins media_dir (default: dataset_dir) with the path
        assert (out / ex["images"][0]).resolve().is_file()


def test_rows_load_with_datasets(tmp_path):
    from datasets import Dataset, load_dataset

    rows, labels = mixed_rows(12)
    run = write_run(tmp_path / "run", rows, labels)
    compose_run(run)
    path = run / "compose" / "train.jsonl"
    ds = load_dataset("json", data_files=str(path), split="train")
    assert len(ds) == 8 and set(ds.column_names) == {"id", "kind", "caption_turn", "images", "messages"}
    assert ds[0]["messages"][0]["content"][0]["type"] == "image"
    assert len(Dataset.from_list(_read(path))) == 8


def test_rows_pass_trl_vision_collator(tmp_path, tiny_models):
    from PIL import Image
    from transformers import AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    rows, labels = mixed_rows(12)
    run = write_run(tmp_path / "run", rows, labels)
    compose_run(run)
    examples = _read(run / "compose" / "train.jsonl")[:4]
    assert {e["kind"] for e in examples} == {"caption+task", "caption_only"}
    for e in examples:
        e["images"] = [Image.open(run / p).convert("RGB") for p in e["images"]]
        del e["id"], e["kind"], e["caption_turn"]
    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    collator = DataCollatorForVisionLanguageModeling(processor, assistant_only_loss=True)
    batch = collator(examples)
    assert batch["input_ids"].shape == batch["labels"].shape
    assert batch["pixel_values"].shape[0] > 0 and batch["image_grid_thw"].shape[0] == 4
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # every example has its image tokens; no image token is trained
    assert ((batch["input_ids"] == image_token).sum(-1) > 0).all()
    assert not (batch["labels"] == image_token).any()
    assert ((batch["labels"] != -100).sum(-1) > 0).all()


def test_a_second_compose_replaces_the_first(tmp_path):
    """Both README compose lines in one run dir: the second mode's output replaces the first's, so it builds."""
    import subprocess
    import sys

    from hub_tools.publish.dataset import build_visual_instructions

    rows, labels = mixed_rows(12)
    run = write_run(tmp_path / "run", rows, labels)
    for argv in (["--mode", "single-stage"], ["--mode", "two-stage", "--export", "llamafactory"], []):
        res = subprocess.run(
            [sys.executable, "-m", "hub_tools", "compose", str(run), *argv], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr
        if argv[1:2] == ["two-stage"]:
            assert sorted(p.name for p in (run / "compose").glob("*.jsonl")) == ["caption.jsonl", "task.jsonl"]
            assert (run / "compose" / "llamafactory").is_dir()
    assert sorted(p.name for p in (run / "compose").glob("*")) == ["train.jsonl"]
    build_visual_instructions(run, tmp_path / "out", progress=False)
