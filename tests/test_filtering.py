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
    PromptError,
    PromptTemplate,
    filter_run,
    item_text,
    label_token_ids,
    lexical_verdict,
    normalise,
    prefix_text,
    released_verdict,
)
from hub_tools.filtering.prompt import EXAMPLES, INSTRUCTION

REPO = Path(__file__).resolve().parents[1]
VERDICTS = (*LABELS, "Other")


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
    assert out == [
        {"label": "Yes", "generated": None, "probs": None},
        {"label": "No", "generated": None, "probs": None},
    ]
    assert LexicalChecker.decision == "lexical"


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
    assert text.endswith("\nVerdict:") and len(text) > 25000  # values as given, as released
    clipped = item_text(Item("Q?", "long " * 5000, "p"), clip=True)
    assert clipped.endswith("\nVerdict:") and len(clipped) < 6000  # the clip option cuts the fields


def test_default_template_inserts_values_raw():
    """The default prompt inserts the values as given (the release's format call); clipping is the option."""
    tpl = PromptTemplate.default()
    item = Item(" Q  {x}?\n", "long\n\n" * 5000, "p ")
    assert tpl.prefix == prefix_text() + "Question: "  # everything before the first placeholder
    raw = tpl.render(item)
    assert raw == prefix_text() + f"Question: {item.question}\nInformative answer: {item.informative}\n" + (
        f"Precise answer: {item.precise}\nVerdict:"
    )
    assert raw == prefix_text() + item_text(item)
    assert PromptTemplate.default("P\n\n").render(item) == "P\n\n" + item_text(item)
    clipped = PromptTemplate.default(clip=True).render(item)
    assert clipped == tpl.clipped().render(item) == prefix_text() + item_text(item, clip=True)
    assert "Question: Q {x}?\n" in clipped and "long\n\n" not in clipped and len(clipped) < len(raw)


def test_template_substitutes_literally(tmp_path):
    path = tmp_path / "prompt.txt"
    path.write_text("Judge.\n\nQ: {Q}\nI: {informative_A}\nP: {precise_A}\nAgain {Q}\nLabel:\n")
    tpl = PromptTemplate.from_file(path)
    assert tpl.source == str(path) and tpl.prefix == "Judge.\n\nQ: "
    item = Item("What is {x} or {precise_A}?", "A \\1 {}  {0}", "{Q}")
    assert tpl.render(item) == (
        "Judge.\n\nQ: What is {x} or {precise_A}?\nI: A \\1 {}  {0}\nP: {Q}\nAgain What is {x} or {precise_A}?\nLabel:"
    )  # one final newline dropped; values not re-expanded, not whitespace-normalised


@pytest.mark.parametrize("missing", ["{Q}", "{informative_A}", "{precise_A}"])
def test_template_missing_placeholder_is_refused(tmp_path, missing):
    path = tmp_path / "bad.txt"
    path.write_text("Q: {Q}\nI: {informative_A}\nP: {precise_A}\nLabel:".replace(missing, "{other}"))
    with pytest.raises(PromptError) as err:
        PromptTemplate.from_file(path)
    assert str(err.value) == f"checker prompt {path}: missing placeholder {missing}"


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


@pytest.fixture(scope="module")
def logits_checker(checker):
    """The same model and tokenizer under ``decision="label-logits"``."""
    return LLMChecker(
        checker.name, model=checker.model, tokenizer=checker.tokenizer, device="cpu", decision="label-logits"
    )


def _assert_same_verdicts(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a["label"] == b["label"] and a["generated"] == b["generated"]
        assert a.get("reason") == b.get("reason")
        if b["probs"] is None:
            assert a["probs"] is None
            continue
        for label in LABELS:
            assert a["probs"][label] == pytest.approx(b["probs"][label], abs=1e-4)
        assert sum(a["probs"].values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("generated", "label"),
    [
        (" Yes", "Yes"),
        ("yes", "Yes"),
        (" YES\n", "Yes"),
        ("Yes,", "Other"),
        (" The", "Other"),
        ("Yes No", "Other"),
        ("", "Other"),
        ("No", "No"),
        (" no", "No"),
        (" Open", "Open"),
    ],
)
def test_released_decision_rule(generated, label):
    assert released_verdict(generated) == label
    assert (label == "Yes") == (generated.strip().lower() == "yes")  # kept iff the released keep rule holds


def test_shared_prefix_equals_naive(checker, logits_checker):
    for judge in (checker, logits_checker):
        naive = [judge.judge([it], shared_prefix=False)[0] for it in MIXED_ITEMS]  # whole prompt, one at a time
        shared = []
        for start in range(0, len(MIXED_ITEMS), 4):  # mixed lengths in each batch -> padding
            shared += judge.judge(MIXED_ITEMS[start : start + 4], shared_prefix=True)
        naive_batched = judge.judge(MIXED_ITEMS, shared_prefix=False)
        _assert_same_verdicts(shared, naive)
        _assert_same_verdicts(naive_batched, naive)
    released = checker.judge(MIXED_ITEMS)
    assert all(v["label"] in VERDICTS and isinstance(v["generated"], str) for v in released)
    assert all(v["generated"] is None and v["label"] in LABELS for v in logits_checker.judge(MIXED_ITEMS))
    # the diagnostic probabilities are the same under both decisions
    _assert_same_verdicts(
        [{**v, "label": None, "generated": None} for v in released],
        [{**v, "label": None} for v in logits_checker.judge(MIXED_ITEMS)],
    )
    # Not vacuous: the tiny random model's label logits differ between items far more than the
    # shared-vs-naive gap allowed here, so a wrong cache, mask or position would show.
    import torch

    naive_logits = torch.cat([checker.label_logits([it], shared_prefix=False) for it in MIXED_ITEMS])
    shared_logits = checker.label_logits(MIXED_ITEMS, shared_prefix=True)
    assert torch.allclose(shared_logits, naive_logits, atol=1e-5)
    assert (naive_logits.max(0).values - naive_logits.min(0).values).max() > 100 * 1e-5
    assert len({v["generated"] for v in released}) > 1  # the generated text depends on the item


def test_generation_matches_transformers_generate(checker):
    """The released decision's text equals HF greedy ``generate`` (2 new tokens, EOS stops) on the plain prompt."""
    import torch

    for item in MIXED_ITEMS[:4]:
        ids = torch.tensor([checker.prompt_ids([item])[0]])
        with torch.inference_mode():
            out = checker.model.generate(
                ids,
                max_new_tokens=2,
                do_sample=False,
                eos_token_id=sorted(checker.eos_ids),
                pad_token_id=checker.pad_id,
            )
        want = checker.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        got = checker.judge([item, MIXED_ITEMS[-1]])[0]
        assert got["generated"] == want and got["label"] == released_verdict(want)
        with torch.inference_mode():
            logits = checker.model(input_ids=ids).logits[0, -1, checker.label_ids]
        assert torch.allclose(checker.label_logits([item, MIXED_ITEMS[0]], shared_prefix=True)[0], logits, atol=1e-4)


def test_prefix_cache_is_not_modified_by_batches(checker):
    before = [k.clone() for k, _ in checker._prefix_cache()]
    checker.judge(MIXED_ITEMS[:3])
    checker.judge(MIXED_ITEMS[3:])
    after = [k for k, _ in checker._prefix_cache()]
    assert all(a.shape == b.shape and (a == b).all() for a, b in zip(before, after))


def test_user_template_shared_equals_naive(checker, tmp_path):
    """A template whose prefix ends in a space (``"Question: "``): the boundary token merges with the item."""
    path = tmp_path / "prompt.txt"
    examples = "".join(
        f"Question: {q}\nInformative answer: {i}\nPrecise answer: {p}\nConsistent: {lab}\n\n"
        for q, i, p, lab in EXAMPLES
    )
    path.write_text(f"{INSTRUCTION}\n\n{examples}Question: {{Q}}\nInformative answer: {{informative_A}}\n"
                    "Precise answer: {precise_A}\nConsistent:\n")  # fmt: skip
    tpl = PromptTemplate.from_file(path)
    judge = LLMChecker(checker.name, model=checker.model, tokenizer=checker.tokenizer, device="cpu", template=tpl)
    assert judge.prefix_text.endswith("Question: ")
    full = judge.prompt_ids([MIXED_ITEMS[0]])[0]
    assert full == checker.tokenizer(tpl.render(MIXED_ITEMS[0]))["input_ids"]  # tokenized whole, as released
    assert full[: len(judge.prefix_ids)] != judge.prefix_ids  # the trailing space merges into the question
    naive = [judge.judge([it], shared_prefix=False)[0] for it in MIXED_ITEMS]
    _assert_same_verdicts(judge.judge(MIXED_ITEMS[:4]) + judge.judge(MIXED_ITEMS[4:]), naive)


def test_prompt_over_the_context_is_recorded_not_run(checker, tmp_path):
    tpl = PromptTemplate("Q: {Q}\nI: {informative_A}\nP: {precise_A}\nLabel:", "inline")  # no clipping
    judge = LLMChecker(checker.name, model=checker.model, tokenizer=checker.tokenizer, device="cpu", template=tpl)
    long = Item("How many?", "word " * 9000, "3")
    out = judge.judge([MIXED_ITEMS[0], long, MIXED_ITEMS[1]])
    assert len(judge.prompt_ids([long])[0]) > 8192
    assert out[1] == {"label": "Other", "generated": None, "probs": None, "reason": "prompt exceeds 8192 tokens"}
    # the default prompt no longer clips the answer to fit: the same item is recorded, not run, there too
    assert checker.judge([long])[0]["reason"] == "prompt exceeds 8192 tokens"
    _assert_same_verdicts([out[0], out[2]], judge.judge([MIXED_ITEMS[0], MIXED_ITEMS[1]], shared_prefix=False))
    # a prompt exactly at the limit may still generate one token (the second would not fit)
    n = len(judge.prompt_ids([MIXED_ITEMS[0]])[0])
    tight = LLMChecker(
        checker.name, model=checker.model, tokenizer=checker.tokenizer, device="cpu", template=tpl, max_context=n
    )
    one_token = LLMChecker(
        checker.name, model=checker.model, tokenizer=checker.tokenizer, device="cpu", template=tpl, max_new_tokens=1
    )
    assert tight.judge([MIXED_ITEMS[0]]) == one_token.judge([MIXED_ITEMS[0]])
    assert tight.judge([MIXED_ITEMS[0]])[0]["generated"] != out[0]["generated"]  # really cut (not vacuous)


class ScriptedLogits:
    """Wraps a causal LM so that greedy decoding yields ``first`` and then ``then`` (token ids), whatever the prompt.

    The boost depends only on the last input token of each row, so the cached (shared-prefix) and the
    naive path see the same script.
    """

    def __init__(self, model, first: int, then: int):
        self.inner, self.first, self.then = model, first, then
        self.config, self.generation_config = model.config, model.generation_config

    def eval(self):
        return self

    def __call__(self, input_ids, **kwargs):
        out = self.inner(input_ids=input_ids, **kwargs)
        after_first = input_ids[:, -1] == self.first
        out.logits[after_first, -1, self.then] += 1000.0
        out.logits[~after_first, -1, self.first] += 1000.0
        return out


def _token(tokenizer, text: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, (text, ids)
    return ids[0]


@pytest.mark.parametrize(
    ("generated", "label"),
    [
        (" Yes", "Yes"),
        (" yes", "Yes"),
        ("yes", "Yes"),
        (" yes\n", "Yes"),
        (" Yes,", "Other"),
        (" The answer", "Other"),
        ("No", "No"),
        (" Open", "Open"),
    ],
)
def test_released_decision_through_the_model(checker, generated, label):
    """Greedy output scripted to ``generated`` (1 token + end-of-text, or 2 tokens): label and text, both paths."""
    tok = checker.tokenizer
    script = tok(generated, add_special_tokens=False)["input_ids"]
    script = script + [tok.convert_tokens_to_ids("<|end_of_text|>")] if len(script) == 1 else script
    assert len(script) == 2 and script[0] != script[1]
    judge = LLMChecker(checker.name, model=ScriptedLogits(checker.model, *script), tokenizer=tok, device="cpu")
    for shared in (True, False):
        out = judge.judge(MIXED_ITEMS[:3], shared_prefix=shared)
        assert [(v["label"], v["generated"]) for v in out] == [(label, generated)] * 3


@pytest.fixture(scope="module")
def never_yes_model(tiny_models):
    """The tiny Llama with an ``lm_head`` bias: greedy output is always `` The``; `` Yes`` leads the three labels."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_models["llama"])
    model = AutoModelForCausalLM.from_pretrained(tiny_models["llama"], dtype=torch.float32).eval()
    old = model.lm_head
    head = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    with torch.no_grad():
        head.weight.copy_(old.weight)
        head.bias.zero_()
        head.bias[_token(tok, " The")] = 100.0
        head.bias[label_token_ids(tok)[0]] = 50.0
    model.lm_head = head
    return model, tok


def test_never_yes_checker_keeps_nothing_under_the_released_rule(tmp_path, never_yes_model, tiny_models):
    model, tok = never_yes_model
    name = str(tiny_models["llama"])
    released = LLMChecker(name, model=model, tokenizer=tok, device="cpu")
    logits = LLMChecker(name, model=model, tokenizer=tok, device="cpu", decision="label-logits")
    assert all(v["label"] == "Other" and v["generated"] == " The The" for v in released.judge(MIXED_ITEMS))
    assert all(v["label"] == "Yes" for v in logits.judge(MIXED_ITEMS))  # the 3-way argmax still picks a label
    run, _ = _make_run(tmp_path / "released")
    filter_run(run, released, batch_size=4, progress=False)
    stats = json.loads((run / "stats.json").read_text())
    rows = _filter_rows(run)
    assert stats["kept"] == 0 and stats["caption_only"] > 0
    assert {r["decision"] for r in rows} == {"released"}
    assert all(v["label"] == "Other" for r in rows for v in r["verdicts"])
    assert stats["verdicts"]["Other"] == stats["caption_only"]
    run2, _ = _make_run(tmp_path / "logits")
    filter_run(run2, logits, batch_size=4, progress=False)
    stats2 = json.loads((run2 / "stats.json").read_text())
    assert stats2["kept"] == stats["caption_only"] and stats2["caption_only"] == 0
    assert {r["decision"] for r in _filter_rows(run2)} == {"label-logits"}
    assert json.loads((run2 / "manifest.json").read_text())["filter"]["decision"] == "label-logits"
    from hub_tools.errors import ConfigMismatch

    with pytest.raises(ConfigMismatch, match="decision: run has 'label-logits', this command has 'released'"):
        filter_run(run2, released, progress=False)  # no mixing of decisions in one run


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
        assert row["checker"] == "lexical" and row["decision"] == "lexical"
        assert len(row["verdicts"]) == min(1, len(src["triplets"]))
        assert all(v["generated"] is None and v["probs"] is None for v in row["verdicts"])
    stats = json.loads((run / "stats.json").read_text())
    assert stats == result["stats"]
    assert stats["pairs_in"] == 12 == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    assert stats["kept"] == 2 and stats["caption_only"] == 4 and stats["no_task"] == 3 and stats["rejected"] == 3
    assert stats["verdicts"] == {"Yes": 2, "No": 4, "Open": 0, "Other": 0}
    manifest = json.loads((run / "manifest.json").read_text())["filter"]
    assert manifest["checker"] == "lexical" and manifest["decision"] == "lexical"
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
    from hub_tools.errors import ConfigMismatch

    with pytest.raises(ConfigMismatch, match="already holds a filter run with different settings"):
        filter_run(run, checker, progress=False)
    filter_run(run, checker, progress=False, overwrite=True)  # --overwrite starts the verdicts over
    assert {r["checker"] for r in _filter_rows(run)} == {checker.name}
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
        assert row["decision"] == "released"
        for v, t in zip(row["verdicts"], src["triplets"]):
            assert v["label"] in VERDICTS and sum(v["probs"].values()) == pytest.approx(1.0, abs=1e-5)
            solo = checker.judge([Item(t["question"], t["informative"], t["precise"])], shared_prefix=False)[0]
            assert v["label"] == solo["label"] and v["generated"] == solo["generated"]
            assert v["probs"]["Yes"] == pytest.approx(solo["probs"]["Yes"], abs=1e-4)
    manifest = json.loads((run / "manifest.json").read_text())["filter"]
    assert manifest["decision"] == "released" and manifest["checker_prompt"] == "default"
    assert manifest["clip_fields"] is False  # values inserted as given by default
    stats = json.loads((run / "stats.json").read_text())
    first = [by_id[r["id"]]["verdicts"][0]["label"] for r in rows if r["status"] == "synthesized" and r["triplets"]]
    assert stats["kept"] == first.count("Yes")  # kept == label "Yes"


def test_filter_resumes_rows_without_a_decision_as_label_logits(tmp_path, checker, logits_checker):
    """Rows from before decisions were recorded: an LLM checker's rows count as label-logits."""
    run, _ = _make_run(tmp_path)
    (run / "filter").mkdir()
    old = {"id": "p0", "checker": checker.name, "verdicts": [{"label": "No", "probs": None}]}
    (run / "filter" / "shard-0-0.jsonl").write_text(json.dumps(old) + "\n")
    from hub_tools.errors import ConfigMismatch

    with pytest.raises(ConfigMismatch, match="decision: run has 'label-logits'"):
        filter_run(run, checker, progress=False)
    assert filter_run(run, logits_checker, progress=False)["already_done"] == 1


def _cli(*args: str):
    import subprocess
    import sys

    return subprocess.run(
        [str(Path(sys.executable).parent / "adamllm"), *args], capture_output=True, text=True, timeout=300
    )


def test_cli_refuses_a_prompt_without_a_placeholder(tmp_path, tiny_models):
    run, _ = _make_run(tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_text("Question: {Q}\nInformative answer: {informative_A}\nPrecise answer: {precise}\nVerdict:")
    proc = _cli("filter", str(run), "--checker", str(tiny_models["llama"]), "--checker-prompt", str(bad))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"adamllm filter: error: checker prompt {bad}: missing placeholder {{precise_A}}"]
    assert not (run / "filter").exists()


def test_cli_filter_with_a_prompt_and_decision(tmp_path, tiny_models):
    from hub_tools.cli import main

    run, _ = _make_run(tmp_path)
    good = tmp_path / "prompt.txt"
    good.write_text(
        "Judge.\n\nQuestion: {Q}\nInformative answer: {informative_A}\nPrecise answer: {precise_A}\nVerdict:"
    )
    llama = str(tiny_models["llama"])
    args = ["filter", str(run), "--checker", llama, "--checker-prompt", str(good), "--decision", "label-logits"]
    assert main(args) == 0
    rows = _filter_rows(run)
    assert {r["decision"] for r in rows} == {"label-logits"}
    assert all(v["label"] in LABELS and v["generated"] is None for r in rows for v in r["verdicts"])
    manifest = json.loads((run / "manifest.json").read_text())["filter"]
    assert manifest["checker_prompt"] == str(good) and manifest["decision"] == "label-logits"
    assert main(["filter", str(run), "--checker", "lexical", "--checker-prompt", str(good)]) == 2


def test_cli_clip_fields_is_recorded_and_needs_an_llm_checker(tmp_path, tiny_models):
    run, _ = _make_run(tmp_path)
    proc = _cli("filter", str(run), "--checker", "lexical", "--clip-fields")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "adamllm filter: error: --clip-fields needs an LLM checker; the lexical checker uses no prompt"
    ]
    proc = _cli("filter", str(run), "--checker", str(tiny_models["llama"]), "--clip-fields", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((run / "manifest.json").read_text())["filter"]
    assert manifest["checker_prompt"] == "default" and manifest["clip_fields"] is True
