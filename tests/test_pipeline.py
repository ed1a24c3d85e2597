"""``adamllm pipeline``: synthesize -> filter -> compose end to end, offline, with resume and a summary."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import pytest

from hub_tools.cli import build_parser, main
from hub_tools.commands.pipeline import pipeline_kwargs
from hub_tools.pipeline import format_summary, length_bucket, run_pipeline, summarize
from hub_tools.synthesis.parse import leading_word

HEAD = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
USER = "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
QUESTIONS = (
    "What is the main finding?",
    "Which structure is shown?",
    "How many items are visible?",
    "Is there an abnormality?",
    "Describe the image in detail.",
)


def scripted_generation(caption: str) -> str:
    """A released-format generation with one triplet whose consistency depends on the caption."""
    k = zlib.crc32(caption.encode()) % 5
    words = [w.strip(".,;:") for w in caption.split() if len(w.strip(".,;:")) > 3]
    question = QUESTIONS[k]
    informative = f"Looking at the image: {caption}"
    precise = words[0] if k in (0, 1, 2) and words else "zebra crossing"  # contained -> Yes, else No / Open
    return (
        f"Answer with a precise response.\n{question}{HEAD}{precise}{USER}"
        f"Answer with an informative response.\n{question}{HEAD}{informative}<|eot_id|>"
    )


class ScriptedEngine:
    """A synthesis engine stand-in producing :func:`scripted_generation` outputs."""

    from hub_tools.synthesis import LLAMA3 as turn_format

    def generate(self, batch):
        return [scripted_generation(caption) for _, caption, _ in batch]


@pytest.fixture
def pairs(sample_pairs, tmp_path) -> Path:
    """The sample pairs plus two bad records (missing image, empty caption)."""
    root = tmp_path / "pairs"
    shutil.copytree(Path(sample_pairs).parent / "images", root / "images")
    records = json.loads(Path(sample_pairs).read_text())
    records.insert(3, {"messages": records[0]["messages"], "images": ["images/missing.png"]})
    records.append(
        {
            "messages": [{"role": "user", "content": "<image>Describe."}, {"role": "assistant", "content": " "}],
            "images": records[0]["images"],
        }
    )
    (root / "pairs.json").write_text(json.dumps(records))
    return root / "pairs.json"


def _args(pairs: Path, out: Path, *extra: str):
    return build_parser().parse_args(["pipeline", "--pairs", str(pairs), "--output", str(out), *extra])


def _n_records(pairs: Path) -> int:
    return len(json.loads(pairs.read_text()))


def _check_adds_up(summary: dict, n: int) -> None:
    assert summary["pairs_in"] == n
    assert summary["kept"] + summary["caption_only"] + summary["no_task"] + summary["rejected"] == n
    assert summary["synthesized"] + summary["rejected"] == n
    assert sum(summary["question_types"].values()) == summary["kept"]
    assert sum(summary["precise_length"].values()) == summary["kept"]


def test_question_type_helpers():
    assert leading_word("Answer with a precise response.\nWhat is shown?") == "what"
    assert leading_word("How many eggs are there?") == "how many"
    assert leading_word("Is the lesion benign?") == "is"
    assert leading_word("Describe the image.") == "describe"
    assert [length_bucket(a) for a in ("Yes", "left kidney", "a small round lesion", "w " * 12)] == [
        "1 word",
        "2-3 words",
        "4-10 words",
        "11+ words",
    ]


def test_pipeline_tiny_synthesizer_lexical(pairs, tmp_path, tiny_models, capsys):
    """The real tiny LLaVA-NeXT synthesizer (random weights) + lexical checker, through the CLI."""
    out = tmp_path / "run"
    code = main(
        [
            "pipeline",
            "--pairs",
            str(pairs),
            "--output",
            str(out),
            "--synthesizer",
            str(tiny_models["llava_next"]),
            "--max-new-tokens",
            "24",
            "--batch-size",
            "8",
            "--checker",
            "lexical",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "pairs in" in printed and "kept tasks" in printed and "question types" in printed
    n = _n_records(pairs)
    summary = summarize(out)
    _check_adds_up(summary, n)
    assert summary["rejected"] == 2
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pairs_in"] == n == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    rows = [json.loads(line) for line in (out / "compose" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == n - 2 - stats["no_task"]  # one conversation per image with a complete triplet


def test_pipeline_scripted_synthesis_lexical_and_resume(pairs, tmp_path):
    out = tmp_path / "run"
    summary = run_pipeline(
        **pipeline_kwargs(_args(pairs, out, "--synthesizer", "scripted", "--checker", "lexical")),
        engine=ScriptedEngine(),
    )
    n = _n_records(pairs)
    _check_adds_up(summary, n)
    assert summary["triplets"] == summary["synthesized"] == n - 2
    v = summary["verdicts"]
    assert v["Yes"] == summary["kept"] > 0 and v["No"] > 0 and v["Open"] > 0
    assert sum(v.values()) == summary["triplets"]
    assert summary["distinct_question_types"] >= 2
    rows = [json.loads(line) for line in (out / "compose" / "train.jsonl").read_text().splitlines()]
    assert sum(r["kind"] == "caption+task" for r in rows) == summary["kept"]
    assert sum(r["kind"] == "caption_only" for r in rows) == summary["caption_only"]
    text = format_summary(summary)
    assert f"kept tasks      {summary['kept']}" in text
    # resume: a second run finds every stage done and changes nothing
    before = {p: p.read_bytes() for p in (out / "compose").glob("*.jsonl")}
    again = run_pipeline(
        **pipeline_kwargs(_args(pairs, out, "--synthesizer", "scripted", "--checker", "lexical")),
        engine=ScriptedEngine(),
    )
    assert again == summary
    assert {p: p.read_bytes() for p in (out / "compose").glob("*.jsonl")} == before
    assert len(list((out / "filter").glob("*.jsonl"))) == 1  # no new filter shard


def test_pipeline_resumes_an_interrupted_filter(pairs, tmp_path):
    out = tmp_path / "run"
    args = _args(pairs, out, "--synthesizer", "scripted", "--checker", "lexical")
    full = run_pipeline(**pipeline_kwargs(args), engine=ScriptedEngine())
    # simulate a filter stage killed mid-way: keep 5 rows in a .partial with a torn tail
    shard = next((out / "filter").glob("*.jsonl"))
    lines = shard.read_text().splitlines(keepends=True)
    shard.unlink()
    (out / "filter" / "shard-0-0.jsonl.partial").write_text("".join(lines[:5]) + lines[5][:10])
    (out / "compose" / "train.jsonl").unlink()
    resumed = run_pipeline(**pipeline_kwargs(args), engine=ScriptedEngine())
    assert resumed == full
    ids = [json.loads(x)["id"] for p in (out / "filter").glob("*.jsonl") for x in p.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == full["synthesized"]


def test_pipeline_with_tiny_llama_checker(pairs, tmp_path, tiny_models):
    out = tmp_path / "run"
    args = _args(
        pairs,
        out,
        "--synthesizer",
        "scripted",
        "--checker",
        str(tiny_models["llama"]),
        "--checker-batch-size",
        "4",
        "--limit",
        "8",
        "--mode",
        "two-stage",
    )
    summary = run_pipeline(**pipeline_kwargs(args), engine=ScriptedEngine())
    _check_adds_up(summary, 8)
    assert sum(summary["verdicts"].values()) == summary["triplets"] > 0
    rows = [json.loads(x) for p in (out / "filter").glob("*.jsonl") for x in p.read_text().splitlines()]
    assert all(r["checker"] == str(tiny_models["llama"]) and r["decision"] == "released" for r in rows)
    assert all(abs(sum(v["probs"].values()) - 1) < 1e-5 for r in rows for v in r["verdicts"])
    assert all(isinstance(v["generated"], str) for r in rows for v in r["verdicts"])
    labels = [v["label"] for r in rows for v in r["verdicts"]]
    assert summary["verdicts"] == {lab: labels.count(lab) for lab in ("Yes", "No", "Open", "Other")}
    assert summary["kept"] == labels.count("Yes")  # one triplet judged per pair: kept == label "Yes"
    v = summary["verdicts"]
    assert f"Yes {v['Yes']}  No {v['No']}  Open {v['Open']}  Other {v['Other']}" in format_summary(summary)
    assert (out / "compose" / "caption.jsonl").is_file() and (out / "compose" / "task.jsonl").is_file()


def test_pipeline_checker_decision_and_prompt_options(pairs, tmp_path, tiny_models):
    llama = str(tiny_models["llama"])
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(
        "Judge.\n\nQuestion: {Q}\nInformative answer: {informative_A}\nPrecise answer: {precise_A}\nVerdict:"
    )
    out = tmp_path / "run"
    args = _args(pairs, out, "--synthesizer", "scripted", "--checker", llama, "--limit", "4",
                 "--checker-decision", "label-logits", "--checker-prompt", str(prompt))  # fmt: skip
    summary = run_pipeline(**pipeline_kwargs(args), engine=ScriptedEngine())
    _check_adds_up(summary, 4)
    rows = [json.loads(x) for p in (out / "filter").glob("*.jsonl") for x in p.read_text().splitlines()]
    assert {r["decision"] for r in rows} == {"label-logits"} and summary["verdicts"]["Other"] == 0
    manifest = json.loads((out / "manifest.json").read_text())["filter"]
    assert manifest["checker_prompt"] == str(prompt) and manifest["decision"] == "label-logits"
    # a template without a placeholder is refused in one line before anything runs
    bad = tmp_path / "bad.txt"
    bad.write_text("Question: {Q}\nPrecise answer: {precise_A}\nVerdict:")
    out2 = tmp_path / "run2"
    code = main(["pipeline", "--pairs", str(pairs), "--output", str(out2), "--synthesizer", "scripted",
                 "--checker", llama, "--checker-prompt", str(bad)])  # fmt: skip
    assert code == 2 and not (out2 / "synthesis").exists()
