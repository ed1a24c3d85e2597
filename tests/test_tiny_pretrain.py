"""Text pretraining of the tiny synthesizer on caption paraphrases (hub_tools.miniature.pretrain, world.caption_paraphrases)."""

from __future__ import annotations

import json
import random
import re

import pytest

from hub_tools.miniature import world as W
from hub_tools.miniature.pretrain import paraphrase_batch, pretrain_on_paraphrases

ALL_SCANS = W.all_combos()["scan"]


def test_paraphrases_are_deterministic_and_avoid_heldout_combinations():
    heldout = [c for c in ALL_SCANS if c != "scan:CT+brain"]
    pairs = W.caption_paraphrases(3, 40, heldout, food_share=0.0)
    assert pairs == W.caption_paraphrases(3, 40, heldout, food_share=0.0)
    assert pairs != W.caption_paraphrases(4, 40, heldout, food_share=0.0)
    assert len(pairs) == 40
    for first, second in pairs:  # the only combination left is CT of the brain
        for text in (first, second):
            assert "brain" in text and "CT" in text and not re.search(r"MRI|X-ray|lungs|kidneys", text)


def test_paraphrases_refuse_when_everything_is_held_out(tmp_path):
    from hub_tools.miniature.pretrain import pretrain_world_paraphrases

    with pytest.raises(ValueError, match="every scan combination is held out"):
        W.caption_paraphrases(0, 5, ALL_SCANS, food_share=0.5)
    assert len(W.caption_paraphrases(0, 5, ALL_SCANS, food_share=1.0)) == 5  # no scan is drawn
    with pytest.raises(FileNotFoundError, match="not a world folder"):
        pretrain_world_paraphrases(tmp_path, tmp_path / "nowhere", steps=1)


def test_food_paraphrases_keep_every_count():
    pairs = W.caption_paraphrases(0, 60, [], food_share=1.0)
    listings = [second for _, second in pairs if ":" in second and not second.startswith("This dish")]
    assert 10 < len(listings) < 50  # about half are listings
    for first, second in pairs:
        mentioned = {name for name in W.INGREDIENTS if W.INGREDIENTS[name].plural in first or name in first}
        assert mentioned, first
        for name in mentioned:  # every ingredient of the caption is in the rewrite
            assert name in second or W.INGREDIENTS[name].plural in second, (first, second)


def test_listing_puts_each_name_before_its_value():
    rng = random.Random(1)
    food = W.Food([W.Item("egg", 4), W.Item("pea", 1)])
    text = W.listing(food, rng)
    assert re.fullmatch(r"(eggs: (4|four); peas: (1|one)|peas: (1|one); eggs: (4|four))\.", text), text
    scan = W.Scan("MRI", "kidneys", "left", "small")
    parts = set(W.listing(scan, rng).rstrip(".").split("; "))
    assert parts == {"modality: MRI", "organ: kidneys", "lesion side: left", "lesion size: small"}
    assert W.listing(W.Scan("CT", "brain"), rng).rstrip(".").split("; ").count("lesion: none") == 1


def test_batch_trains_only_the_rewrite(tiny_models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_models["qwen2_vl"])
    batch = paraphrase_batch(tok, [("A plate with two eggs.", "eggs: two."), ("CT of the brain.", "organ: brain.")])
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    for row in range(2):
        trained = batch["labels"][row][batch["labels"][row] != -100]
        assert tok.decode(trained) == ["eggs: two.", "organ: brain."][row] + "<|im_end|>\n"
        assert int(batch["attention_mask"][row].sum()) == int((batch["input_ids"][row] != tok.pad_token_id).sum())
    with pytest.raises(ValueError, match="empty caption"):
        paraphrase_batch(tok, [("A plate.", "  ")])


def test_pretokenized_batches_and_length_groups(tiny_models):
    import torch
    from transformers import AutoTokenizer

    from hub_tools.miniature.pretrain import _draw_batches, batch_from_ids, encode_paraphrases

    tok = AutoTokenizer.from_pretrained(tiny_models["qwen2_vl"])
    pairs = W.caption_paraphrases(0, 200, [])
    prompts, targets = encode_paraphrases(tok, pairs)
    expected = paraphrase_batch(tok, pairs[:7])
    got = batch_from_ids(prompts[:7], targets[:7], tok.pad_token_id)
    assert all(torch.equal(expected[k], got[k]) for k in expected)  # tokenized once = tokenized per step
    lengths = [len(p) + len(t) for p, t in zip(prompts, targets)]
    assert _draw_batches(random.Random(5), range(200), lengths, 8, 1) == [random.Random(5).sample(range(200), 8)]
    grouped = _draw_batches(random.Random(5), range(200), lengths, 8, 4)
    assert len(grouped) == 4 and all(len(b) == 8 for b in grouped) and len({i for b in grouped for i in b}) == 32

    def padded_share(batches):
        return 1 - sum(lengths[i] for b in batches for i in b) / sum(8 * max(lengths[i] for i in b) for b in batches)

    rng_plain, rng_grouped = random.Random(1), random.Random(1)
    plain = [b for _ in range(20) for b in _draw_batches(rng_plain, range(200), lengths, 8, 1)]
    fewer = [b for _ in range(5) for b in _draw_batches(rng_grouped, range(200), lengths, 8, 4)]
    assert padded_share(fewer) < padded_share(plain)


@pytest.mark.slow
def test_pretraining_lowers_the_loss_and_saves_the_model(tmp_path):
    import torch
    from safetensors.torch import load_file

    from hub_tools.miniature.synthesizer import build_tiny_synthesizer

    pairs = W.caption_paraphrases(0, 300, [])
    model_dir = build_tiny_synthesizer(tmp_path / "tiny", [t for pair in pairs for t in pair], seed=0)
    before = load_file(model_dir / "model.safetensors")
    summary = pretrain_on_paraphrases(model_dir, pairs, max_steps=30, batch_size=16, log_every=5, seed=0)
    after = load_file(model_dir / "model.safetensors")
    assert summary["steps"] == 30 and len(summary["losses"]) == 6 and not summary["stopped_by_time_budget"]
    assert summary["losses"][-1] < summary["losses"][0] - 1.0
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert any("language_model" in name or "model.layers" in name for name in changed)
    json.dumps(summary)  # serialisable as written into synthesizer.json
    with pytest.raises(ValueError, match="no paraphrase pairs"):
        pretrain_on_paraphrases(model_dir, [], max_steps=1)
