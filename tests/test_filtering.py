"""Consistency filter: lexical heuristic, few-shot prompt, LLM checker (shared prefix == naive), resumable runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub_tools.filtering import (
    LABELS,
    Item,
    LexicalChecker,
    LLMChecker,
    filter_run,
    item_text,
    label_token_ids,
    lexical_verdict,
    normalise,
    prefix_text,
)
from hub_tools.filtering.prompt import EXAMPLES, INSTRUCTION


# ---------------------------------------------------------------------------------------------
# lexical checker
# ---------------------------------------------------------------------------------------------
def test_normalise():
    assert normalise("The Three red-apples, an egg!") == ["3", "red", "apples", "egg"]


@pytest.mark.parametrize(
    ("question", "informative", "precise", "label"),
    [
        ("Which lung?", "An opacity in the right lower lobe.", "Right.", "Yes"),
        ("How many eggs?", "There are three eggs in the pan.", "3", "Yes"),
        ("How many eggs?", "There are three eggs in the pan.", "Four", "No"),
        ("Describe the image.", "A bowl of salad with tomatoes.", "Salad bowl with corn", "Open"),
        ("Write a caption for this picture.", "A plate of pasta.", "Pasta dinner tonight", "Open"),
        ("What colour is the sauce?", "The sauce is red.", "...", "No"),
    ],
)
def test_lexical_rules(question, informative, precise, label):
    assert lexical_verdict(Item(question, informative, precise)) == label


def test_lexical_checker_interface():
    out = LexicalChecker().judge([Item("Which lung?", "The right lung.", "right"), Item("Q?", "x", "y")])
    assert out == [{"label": "Yes", "probs": None}, {"label": "No", "probs": None}]


# ---------------------------------------------------------------------------------------------
# prompt
# ---------------------------------------------------------------------------------------------
def test_prompt_shape():
    assert len(EXAMPLES) == 6
    assert sorted(e[3] for e in EXAMPLES) == sorted(LABELS * 2)
    prefix = prefix_text()
    assert prefix.startswith(INSTRUCTION) and prefix.endswith("\n\n")
    for q, inf, prec, label in EXAMPLES:
        assert item_text(Item(q, inf, prec)) + f" {label}" in prefix
    text = item_text(Item("Q?", "long " * 5000, "p"))
    assert text.endswith("\nVerdict:") and len(text) < 6000  # fields are clipped


def test_label_tokens_distinct(tiny_models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_models["llama"])
    ids = label_token_ids(tok)
    assert len(set(ids)) == 3
    for label, i in zip(LABELS, ids):
        assert tok(" " + label, add_special_tokens=False)["input_ids"][0] == i


# ---------------------------------------------------------------------------------------------
# LLM checker
# ---------------------------------------------------------------------------------------------
MIXED_ITEMS = [
    Item("Which lung?", "An opacity in the right lower lobe.", "Right"),
    Item("How many eggs are in the pan?", "There are three eggs frying in a black pan. " * 4, "Three"),
    Item("Describe the image.", "A bowl.", "A bowl"),
    Item("What colour is the sauce?", "The sauce is red and thick, with basil on top. " * 9, "Green"),
    Item("Is there a fracture?", "No.", "No"),
    Item("What modality is used for this scan of the abdomen?", "It is an axial CT scan.", "CT"),
    Item("Q?", "A.", "B"),
]


@pytest.fixture(scope="module")
def checker(tiny_models):
    return LLMChecker(str(tiny_models["llama"]), device="cpu")


def test_shared_prefix_equals_naive(checker):
    naive = [checker.judge([it], shared_prefix=False)[0] for it in MIXED_ITEMS]  # whole prompt, one at a time
    shared = []
    for start in range(0, len(MIXED_ITEMS), 4):  # mixed lengths in each batch -> padding
        shared += checker.judge(MIXED_ITEMS[start : start + 4], shared_prefix=True)
    naive_batched = checker.judge(MIXED_ITEMS, shared_prefix=False)
    for a, b, c in zip(shared, naive, naive_batched):
        assert a["label"] == b["label"] == c["label"]
        for label in LABELS:
            assert a["probs"][label] == pytest.approx(b["probs"][label], abs=1e-4)
            assert c["probs"][label] == pytest.approx(b["probs"][label], abs=1e-4)
        assert sum(a["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    # Not vacuous: the tiny random model's label logits differ between items far more than the
    # shared-vs-naive gap allowed here, so a wrong cache, mask or position would show.
    import torch

    naive_logits = torch.cat([checker.label_logits([it], shared_prefix=False) for it in MIXED_ITEMS])
    shared_logits = checker.label_logits(MIXED_ITEMS, shared_prefix=True)
    assert torch.allclose(shared_logits, naive_logits, atol=1e-5)
    assert (naive_logits.max(0).values - naive_logits.min(0).values).max() > 100 * 1e-5


def test_shared_prefix_matches_plain_forward(checker):
    """The naive path itself equals a plain unpadded forward of prefix + suffix tokens."""
    import torch

    item = MIXED_ITEMS[1]
    ids = torch.tensor([checker.prefix_ids + checker.suffix_ids(item)])
    with torch.inference_mode():
        logits = checker.model(input_ids=ids).logits[0, -1, checker.label_ids]
    got = checker.label_logits([item, MIXED_ITEMS[0]], shared_prefix=True)[0]
    assert torch.allclose(got, logits, atol=1e-4)


def test_prefix_cache_is_not_modified_by_batches(checker):
    before = [k.clone() for k, _ in checker._prefix_cache()]
    checker.judge(MIXED_ITEMS[:3])
    checker.judge(MIXED_ITEMS[3:])
    after = [k for k, _ in checker._prefix_cache()]
    assert all(a.shape == b.shape and (a == b).all() for a, b in zip(before, after))


# ---------------------------------------------------------------------------------------------
# filter runs
# ---------------------------------------------------------------------------------------------
def _synth(pid, triplets, status="synthesized"):
    return {
        "id": pid,
        "status": status,
        "reason": "bad image" if status == "rejected" else None,
        "caption": "A caption.",
        "caption_prompt": None,
        "image": None if status == "rejected" else f"images/{pid}.png",
        "source": {},
        "generation": None,
        "triplets": [{"question": q, "informative": i, "precise": p} for q, i, p in triplets],
    }


def _make_run(tmp_path: Path, n: int = 12) -> tuple[Path, list[dict]]:
    rows = []
    for k in range(n):
        if k % 4 == 3:
            rows.append(_synth(f"p{k}", [], status="rejected"))
        elif k % 4 == 2:
            rows.append(_synth(f"p{k}", []))
        else:
            good = k % 8 == 0
            rows.append(
                _synth(
                    f"p{k}",
                    [
                        (f"How many cells {k}?", f"There are {k} cells.", str(k) if good else "many"),
                        ("Describe the image.", "A slide.", "slide"),
                    ],
                )
            )
    run = tmp_path / "run"
    (run / "synthesis").mkdir(parents=True)
    (run / "synthesis" / "shard-0-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run, rows


def _filter_rows(run: Path) -> list[dict]:
    rows = []
    for path in sorted((run / "filter").iterdir()):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def test_filter_run_lexical_and_stats(tmp_path):
    run, rows = _make_run(tmp_path)
    result = filter_run(run, LexicalChecker(), batch_size=3, progress=False)
    out = _filter_rows(run)
    synthesized = [r for r in rows if r["status"] == "synthesized"]
    assert [r["id"] for r in out] == [r["id"] for r in synthesized]
    assert not list((run / "filter").glob("*.partial"))
    for src, row in zip(synthesized, out):
        assert row["checker"] == "lexical"
        assert len(row["verdicts"]) == min(1, len(src["triplets"]))
    stats = json.loads((run / "stats.json").read_text())
    assert stats == result["stats"]
    assert stats["pairs_in"] == 12 == stats["kept"] + stats["caption_only"] + stats["rejected"]
    assert stats["kept"] == 2 and stats["rejected"] == 3 and stats["verdicts"] == {"Yes": 2, "No": 4, "Open": 0}
    assert json.loads((run / "manifest.json").read_text())["filter"]["checker"] == "lexical"
    # all triplets
    run2, _ = _make_run(tmp_path / "b")
    filter_run(run2, LexicalChecker(), all_triplets=True, progress=False)
    out2 = _filter_rows(run2)
    assert [len(r["verdicts"]) for r in out2] == [len(s["triplets"]) for s in synthesized]
    assert all(r["verdicts"][1]["label"] == "Yes" for r in out2 if len(r["verdicts"]) == 2)


def test_filter_resumes_after_a_torn_shard(tmp_path):
    run, rows = _make_run(tmp_path)
    (run / "filter").mkdir()
    done = {"id": "p0", "checker": "lexical", "verdicts": [{"label": "Open", "probs": None}]}  # marker verdict
    (run / "filter" / "shard-0-0.jsonl.partial").write_text(json.dumps(done) + "\n" + '{"id": "p1", "chec')
    result = filter_run(run, LexicalChecker(), progress=False)
    out = _filter_rows(run)
    ids = [r["id"] for r in out]
    assert sorted(ids) == sorted(r["id"] for r in rows if r["status"] == "synthesized")
    assert len(ids) == len(set(ids))
    assert out[0] == done  # not re-judged
    assert result["already_done"] == 1 and result["pairs"] == len(ids) - 1
    assert not list((run / "filter").glob("*.partial"))
    assert filter_run(run, LexicalChecker(), progress=False)["pairs"] == 0  # nothing left


def test_filter_refuses_mixed_checkers_and_unfinished_synthesis(tmp_path, checker):
    run, _ = _make_run(tmp_path)
    filter_run(run, LexicalChecker(), progress=False)
    with pytest.raises(ValueError, match="another checker|already holds"):
        filter_run(run, checker, progress=False)
    run2, _ = _make_run(tmp_path / "b")
    (run2 / "synthesis" / "shard-0-1.jsonl.partial").write_text("")
    with pytest.raises(ValueError, match="unfinished"):
        filter_run(run2, LexicalChecker(), progress=False)


def test_filter_run_with_llm_checker(tmp_path, checker):
    run, rows = _make_run(tmp_path)
    filter_run(run, checker, batch_size=4, all_triplets=True, progress=False)
    out = _filter_rows(run)
    assert len(out) == sum(r["status"] == "synthesized" for r in rows)
    by_id = {r["id"]: r for r in out}
    for src in rows:
        if src["status"] != "synthesized":
            continue
        row = by_id[src["id"]]
        assert row["checker"] == checker.name and len(row["verdicts"]) == len(src["triplets"])
        for v, t in zip(row["verdicts"], src["triplets"]):
            assert v["label"] in LABELS and sum(v["probs"].values()) == pytest.approx(1.0, abs=1e-5)
            solo = checker.judge([Item(t["question"], t["informative"], t["precise"])], shared_prefix=False)[0]
            assert v["label"] == solo["label"]
            assert v["probs"]["Yes"] == pytest.approx(solo["probs"]["Yes"], abs=1e-4)
