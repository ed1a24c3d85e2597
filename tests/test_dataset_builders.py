"""The visual-instruction dataset builder: run directory -> Hub dataset folder (parquet + card)."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORDS = ("What", "Which", "Is", "How", "Where")


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> bytes:
    """A small RGB PNG of one colour."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def color_of(i: int) -> tuple[int, int, int]:
    """The fixture colour of pair ``i`` (so tests can check that the right image came back)."""
    return (i * 37 % 256, i * 91 % 256, i * 13 % 256)


def make_run_dir(
    root: Path,
    n: int = 14,
    seed: int = 0,
    reject_every: int = 7,
    image_variants: int | None = None,
    compose: bool = True,
) -> dict:
    """Write a finished run directory that follows docs/run_dir.md exactly; return the expected counts.

    Pair ``i`` is rejected when ``i % reject_every == 3``; synthesized pairs get 0-2 triplets; a pair is
    kept when the checker says Yes to ``triplets[0]``. Kept pairs become single-stage caption+task
    rows (caption first or last, seeded), the others caption-only rows. ``image_variants`` hard-links
    a few pre-encoded PNGs (fast, for the scale test); by default every pair has its own colour.
    """
    rng = random.Random(seed)
    root = Path(root)
    for sub in ("images", "synthesis", "filter", "compose"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    variants = []
    for k in range(image_variants or 0):  # a few encoded PNGs, hard-linked as images/<id>.png (fast, no data copies)
        variants.append(root.parent / f"{root.name}-variant-{k}.png")
        variants[-1].write_bytes(png_bytes(color_of(k)))
    counts = {"pairs_in": 0, "kept": 0, "caption_only": 0, "rejected": 0, "synthesized": 0, "triplets": 0}
    verdict_counts = {"Yes": 0, "No": 0, "Open": 0}
    expected = {"kept_ids": [], "caption_only_ids": [], "rejected_ids": [], "words": {}, "captions": {}}
    with (
        open(root / "synthesis" / "shard-0-0.jsonl", "w") as syn,
        open(root / "filter" / "shard-0-0.jsonl", "w") as fil,
        open(root / "compose" / "train.jsonl", "w") as com,
    ):
        for i in range(n):
            pid = f"pair-{i:06d}"
            counts["pairs_in"] += 1
            source = {"reader": "sharegpt", "path": "pairs.json", "index": i}
            if i % reject_every == 3:
                counts["rejected"] += 1
                expected["rejected_ids"].append(pid)
                row = {"id": pid, "status": "rejected", "reason": f"unreadable image 'img{i}.png': broken",
                       "caption": "x", "caption_prompt": None, "image": None, "source": source,
                       "generation": None, "triplets": []}  # fmt: skip
                syn.write(json.dumps(row) + "\n")
                continue
            image = f"images/{pid}.png"
            if variants:
                os.link(variants[i % len(variants)], root / image)
            else:
                (root / image).write_bytes(png_bytes(color_of(i), (8 + i % 5, 6 + i % 3)))
            caption = f"Caption {i}: a scan showing finding number {i}."
            prompt = (None, "Describe the image.", "What does this picture show?")[i % 3]
            n_trip = i % 3
            triplets = [
                {"question": f"{WORDS[(i + k) % len(WORDS)]} is shown in region {k}?",
                 "informative": f"The region {k} shows structure {i}. It looks dense.", "precise": f"structure {i}"}
                for k in range(n_trip)
            ]  # fmt: skip
            counts["synthesized"] += 1
            counts["triplets"] += n_trip
            syn.write(json.dumps({"id": pid, "status": "synthesized", "reason": None, "caption": caption,
                                  "caption_prompt": prompt, "image": image, "source": source,
                                  "generation": "raw<|eot_id|>", "triplets": triplets}) + "\n")  # fmt: skip
            labels = [("Yes", "No", "Open")[(i + k) % 3] if k else ("Yes" if i % 2 else "No") for k in range(n_trip)]
            for label in labels:
                verdict_counts[label] += 1
            fil.write(
                json.dumps(
                    {"id": pid, "checker": "lexical", "verdicts": [{"label": lb, "probs": None} for lb in labels]}
                )
                + "\n"
            )
            user_caption = {"role": "user", "content": [{"type": "text", "text": prompt or "Describe the image."}]}
            answer_caption = {"role": "assistant", "content": [{"type": "text", "text": caption}]}
            expected["captions"][pid] = caption
            if labels and labels[0] == "Yes":
                t = triplets[0]
                task = [
                    {"role": "user", "content": [{"type": "text", "text": f"Question: {t['question']}"}]},
                    {"role": "assistant", "content": [{"type": "text", "text": f"{t['informative']}\nSo the answer is: {t['precise']}"}]},
                ]  # fmt: skip
                turns = (
                    [user_caption, answer_caption, *task]
                    if rng.random() < 0.5
                    else [*task, user_caption, answer_caption]
                )
                kind = "caption+task"
                counts["kept"] += 1
                expected["kept_ids"].append(pid)
                word = t["question"].split()[0].lower()
                expected["words"][word] = expected["words"].get(word, 0) + 1
            else:
                turns = [user_caption, answer_caption]
                kind = "caption_only"
                counts["caption_only"] += 1
                expected["caption_only_ids"].append(pid)
            turns = json.loads(json.dumps(turns))
            turns[0]["content"].insert(0, {"type": "image"})
            com.write(json.dumps({"id": pid, "kind": kind, "images": [image], "messages": turns}) + "\n")
    stats = {**counts, "verdicts": verdict_counts}
    (root / "stats.json").write_text(json.dumps(stats))
    manifest = {
        "synthesize": {"model": "AdaptLLM/visual-instruction-synthesizer", "max_new_tokens": 512, "seed": 42},
        "filter": {"checker": "lexical"},
        "compose": {"mode": "single-stage", "seed": 1234, "blank_image_ratio": 0.0},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    expected["stats"] = stats
    if not compose:  # leave composition to hub_tools.compose (the real stage)
        shutil.rmtree(root / "compose")
    return expected


@pytest.fixture
def run_dir(tmp_path):
    expected = make_run_dir(tmp_path / "run")
    return tmp_path / "run", expected


def build(run, out, **kw):
    from hub_tools.publish.dataset import build_visual_instructions

    kw.setdefault("progress", False)
    return build_visual_instructions(run, out, **kw)


def test_build_loads_offline_with_images_after_run_dir_is_gone(run_dir, tmp_path):
    from datasets import load_dataset
    from PIL import Image

    run, expected = run_dir
    out = tmp_path / "out"
    result = build(run, out)
    stats = expected["stats"]
    assert result.rows == {
        "image_caption_and_synthetic_task": stats["kept"] + stats["caption_only"],
        "synthetic_visual_tasks": stats["kept"],
        "image_caption_pairs": stats["pairs_in"] - stats["rejected"],
    }
    # the bytes are embedded: the run directory (and its images) can go
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shutil.rmtree(run)
    shutil.rmtree(out)
    for config, n in result.rows.items():
        ds = load_dataset(str(copy), config, split="train")
        assert len(ds) == n
        assert set(ds.column_names) == {"id", "kind", "caption_turn", "images", "messages"}
        for row in ds:
            i = int(row["id"].split("-")[1])
            (img,) = row["images"]
            assert isinstance(img, Image.Image)
            assert img.convert("RGB").getpixel((0, 0)) == color_of(i)
            placeholders = [p for m in row["messages"] for p in m["content"] if p["type"] == "image"]
            assert len(placeholders) == 1
            assert row["messages"][0]["role"] == "user"
            assert row["messages"][0]["content"][0]["type"] == "image"
    default = load_dataset(str(copy), split="train")  # the default config is the training set
    assert len(default) == result.rows["image_caption_and_synthetic_task"]


def test_config_contents(run_dir, tmp_path):
    from datasets import load_dataset

    run, expected = run_dir
    out = tmp_path / "out"
    build(run, out)
    tasks = load_dataset(str(out), "synthetic_visual_tasks", split="train")
    assert sorted(tasks["id"]) == sorted(expected["kept_ids"])
    for row in tasks:
        texts = [p["text"] for m in row["messages"] for p in m["content"] if p["type"] == "text"]
        assert expected["captions"][row["id"]] not in texts, "the caption turn must be stripped from task rows"
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["kind"] == "task" and row["caption_turn"] is None
        assert row["messages"][0]["content"][1]["text"].startswith("Question: ")
    pairs = load_dataset(str(out), "image_caption_pairs", split="train")
    assert sorted(pairs["id"]) == sorted(expected["kept_ids"] + expected["caption_only_ids"])
    for row in pairs:
        assert row["messages"][1]["content"][0]["text"] == expected["captions"][row["id"]]
        assert row["messages"][0]["content"][1]["text"] in ("Describe the image.", "What does this picture show?")
    default = load_dataset(str(out), "image_caption_and_synthetic_task", split="train")
    by_id = {r["id"]: r for r in default}
    for pid in expected["kept_ids"]:
        assert len(by_id[pid]["messages"]) == 4
    for pid in expected["caption_only_ids"]:
        assert len(by_id[pid]["messages"]) == 2


def test_rows_match_the_compose_rows_exactly(run_dir, tmp_path):
    """The default config is the compose rows, unchanged apart from the embedded images."""
    from datasets import load_dataset

    run, _ = run_dir
    out = tmp_path / "out"
    build(run, out)
    ds = load_dataset(str(out), split="train")
    composed = [json.loads(line) for line in (run / "compose" / "train.jsonl").read_text().splitlines()]
    assert ds["id"] == [c["id"] for c in composed]
    assert ds["kind"] == [c["kind"] for c in composed]
    for row, c in zip(ds, composed):
        want = [
            {"role": m["role"], "content": [{"type": p["type"], "text": p.get("text")} for p in m["content"]]}
            for m in c["messages"]
        ]
        assert row["messages"] == want


@pytest.mark.parametrize("mode", ["single-stage", "two-stage"])
def test_build_from_the_real_compose_stage(tmp_path, mode):
    """Run dirs composed by hub_tools.compose build, with the splits and counts the mode implies."""
    from datasets import load_dataset

    from hub_tools.compose import compose_run
    from hub_tools.training.data import split_two_stage

    run = tmp_path / "run"
    make_run_dir(run, n=20, compose=False)
    compose_run(run, mode=mode, seed=7)
    result = build(run, tmp_path / "out")
    stats = json.loads((run / "stats.json").read_text())  # as the compose stage counted (no_task included)
    accepted = stats["pairs_in"] - stats["rejected"]
    with_task = accepted - stats["no_task"]  # images with no complete triplet are dropped, as released
    assert stats["no_task"] > 0 and stats["kept"] > 0
    assert result.rows["synthetic_visual_tasks"] == stats["kept"]
    assert result.rows["image_caption_pairs"] == accepted  # the caption config keeps every accepted pair
    out = str(tmp_path / "out")
    if mode == "single-stage":
        default = load_dataset(out, "image_caption_and_synthetic_task", split="train")
        assert len(default) == with_task
        assert sorted(default["kind"]) == sorted(
            ["caption+task"] * stats["kept"] + ["caption_only"] * stats["caption_only"]
        )
        # hub_tools.training.sft's two-stage split works on the published rows (caption_turn tells the caption turn)
        stage1, stage2 = split_two_stage(default)
        assert len(stage1) == with_task and len(stage2) == stats["kept"]
        tasks = {r["id"]: r["messages"] for r in load_dataset(out, "synthetic_visual_tasks", split="train")}
        for row in stage2:
            want = [{"role": m["role"], "content": [{k: v for k, v in p.items() if v is not None} for p in m["content"]]}
                    for m in tasks[row["id"]]]  # fmt: skip
            assert row["messages"] == want
    else:
        caption = load_dataset(out, "image_caption_and_synthetic_task", split="caption")
        task = load_dataset(out, "image_caption_and_synthetic_task", split="task")
        assert len(caption) == with_task and set(caption["kind"]) == {"caption_only"}
        assert len(task) == stats["kept"] and set(task["kind"]) == {"task"}


def test_a_run_without_kept_tasks_builds_an_empty_task_config(tmp_path):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    from hub_tools.compose import compose_run

    run = tmp_path / "run"
    make_run_dir(run, n=8, compose=False)
    path = run / "filter" / "shard-0-0.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["verdicts"] = [{"label": "No", "probs": None} for _ in row["verdicts"]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    compose_run(run)
    result = build(run, tmp_path / "out")
    assert result.rows["synthetic_visual_tasks"] == 0
    assert not (tmp_path / "out" / "synthetic_visual_tasks").exists()
    card = DatasetCard.load(tmp_path / "out" / "README.md")
    assert [c["config_name"] for c in card.data.configs] == ["image_caption_and_synthetic_task", "image_caption_pairs"]
    with pytest.raises(ValueError, match="synthetic_visual_tasks"):
        load_dataset(str(tmp_path / "out"), "synthetic_visual_tasks", split="train")
    stats = json.loads((run / "stats.json").read_text())
    default = load_dataset(str(tmp_path / "out"), split="train")  # caption-only rows of images with a triplet
    assert len(default) == result.rows["image_caption_pairs"] - stats["no_task"] == stats["caption_only"] > 0
    assert "| (no kept tasks) | 0 | - |" in (tmp_path / "out" / "README.md").read_text()


def test_rows_feed_trl_vision_formatting(run_dir, tmp_path):
    """The default config goes through TRL's multimodal message preparation as it is."""
    from datasets import load_dataset
    from trl.data_utils import prepare_multimodal_messages

    run, _ = run_dir
    out = tmp_path / "out"
    build(run, out)
    ds = load_dataset(str(out), split="train")
    for row in ds:
        prepared = prepare_multimodal_messages(row["messages"], images=row["images"])
        images = [p for m in prepared for p in m["content"] if p["type"] == "image"]
        assert len(images) == 1 and images[0].get("image") is not None


def test_rows_collate_for_the_sft_recipe_and_trl(run_dir, tmp_path, tiny_models):
    """A batch of the default config goes through hub_tools.training.sft's collator and TRL's vision collator as loaded."""
    from datasets import load_dataset
    from transformers import AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from hub_tools.training.collator import VisionSFTCollator

    run, expected = run_dir
    build(run, tmp_path / "out")
    ds = load_dataset(str(tmp_path / "out"), split="train")
    rows = [ds[i] for i in range(4)]
    processor = AutoProcessor.from_pretrained(tiny_models["qwen2_vl"])
    batch = VisionSFTCollator(processor)(rows)
    tokenizer = processor.tokenizer
    for i, row in enumerate(rows):
        trained = tokenizer.decode(batch["input_ids"][i][batch["labels"][i] != -100])
        assert expected["captions"][row["id"]] in trained
    trl_batch = DataCollatorForVisionLanguageModeling(processor)(rows)
    assert trl_batch["input_ids"].shape[0] == 4 and "pixel_values" in trl_batch


def test_card_round_trip_and_sections(run_dir, tmp_path):
    from huggingface_hub import DatasetCard, DatasetCardData

    run, expected = run_dir
    out = tmp_path / "out"
    build(run, out, tags=["medical"])
    card = DatasetCard.load(out / "README.md")
    assert isinstance(card.data, DatasetCardData)
    data = card.data.to_dict()
    configs = {c["config_name"]: c for c in data["configs"]}
    assert set(configs) == {"image_caption_pairs", "synthetic_visual_tasks", "image_caption_and_synthetic_task"}
    assert configs["image_caption_and_synthetic_task"]["default"] is True
    assert sum(bool(c.get("default")) for c in configs.values()) == 1
    for name, c in configs.items():
        assert c["data_files"] == [{"split": "train", "path": f"{name}/train-*.parquet"}]
    assert data["license"] == "other" and data["language"] == ["en"]  # the user's choice; text inherits model terms
    assert data["size_categories"] == ["n<1K"]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    assert infos["synthetic_visual_tasks"]["splits"][0]["num_examples"] == expected["stats"]["kept"]
    assert infos["image_caption_pairs"]["features"][0] == {"name": "id", "dtype": "string"}
    assert "image-text-to-text" in data["task_categories"]
    assert "medical" in data["tags"]
    # the card survives a save / load round trip unchanged
    card.save(tmp_path / "README2.md")
    assert DatasetCard.load(tmp_path / "README2.md").data.to_dict() == data
    text = card.text
    stats = expected["stats"]
    assert "AdaptLLM/visual-instruction-synthesizer" in text
    assert "lexical" in text
    assert "`synthesize.seed` = `42`" in text and "`compose.seed` = `1234`" in text
    assert f"| image-caption pairs in | {stats['pairs_in']} |" in text
    assert f"| rejected (bad input) | {stats['rejected']} |" in text
    assert f"| kept (caption + task) | {stats['kept']} |" in text
    assert '"blank_image_ratio": 0.0' in text  # the pipeline config is in the card
    assert '"max_new_tokens": 512' in text
    assert "- unreadable image: 2" in text
    assert 'load_dataset("' in text
    for word, n in expected["words"].items():
        assert f"| {word} | {n} |" in text


def test_shards_are_size_bounded(run_dir, tmp_path):
    import pyarrow.parquet as pq
    from datasets import load_dataset

    run, expected = run_dir
    out = tmp_path / "out"
    result = build(run, out, max_shard_bytes=600)
    shards = result.shards["image_caption_pairs"]
    assert len(shards) >= 3
    n = len(shards)
    assert [p.name for p in shards] == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in shards) == result.rows["image_caption_pairs"]
    assert not list(out.rglob("*.partial"))
    ds = load_dataset(str(out), "image_caption_pairs", split="train")
    assert len(ds) == result.rows["image_caption_pairs"]


def test_leading_word():
    from hub_tools.synthesis.parse import leading_word  # one rule for the card and the pipeline summary

    assert leading_word("What is shown?") == "what"
    assert leading_word("Answer with a precise response.\nWhich organ is it?") == "which"
    assert leading_word("<image>\n  is this normal?") == "is"
    assert leading_word("123?") == "(other)"
    assert leading_word("answer with an informative response How big is it?") == "how big"


def test_reason_kind():
    from hub_tools.data import reason_kind

    assert reason_kind("unreadable image 'a/b.png': OSError: broken") == "unreadable image"
    assert reason_kind("image too large: 9000x9000 = 81000000 pixels > cap") == "image too large"
    assert reason_kind(None) == "unknown"


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("partial", "not finished"),
        ("missing_image", "image file not found"),
        ("stats", "inconsistent"),
        ("escape", "escapes"),
        ("bad_json", "not valid JSON"),
    ],
)
def test_broken_run_dirs_fail_clearly_and_leave_nothing(run_dir, tmp_path, breakage, message):
    from hub_tools.publish.dataset import BuildError

    run, expected = run_dir
    if breakage == "partial":
        (run / "compose" / "train.jsonl").rename(run / "compose" / "train.jsonl.partial")
    elif breakage == "missing_image":
        (run / "images" / f"{expected['kept_ids'][0]}.png").unlink()
    elif breakage == "stats":
        stats = json.loads((run / "stats.json").read_text())
        stats["kept"] += 1
        stats["pairs_in"] += 1
        (run / "stats.json").write_text(json.dumps(stats))
    elif breakage == "escape":
        path = run / "compose" / "train.jsonl"
        path.write_text(path.read_text().replace('"images/pair-000000.png"', '"../../etc/passwd"', 1))
    elif breakage == "bad_json":
        with open(run / "filter" / "shard-0-0.jsonl", "a") as fh:
            fh.write('{"id": "broken", \n')
    out = tmp_path / "out"
    with pytest.raises(BuildError, match=message):
        build(run, out)
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_refuses_non_empty_output_without_overwrite(run_dir, tmp_path):
    from hub_tools.publish.dataset import BuildError

    run, _ = run_dir
    out = tmp_path / "out"
    build(run, out, max_shard_bytes=600)
    with pytest.raises(BuildError, match="--overwrite"):
        build(run, out)
    result = build(run, out, overwrite=True)
    assert [p.name for p in result.shards["image_caption_pairs"]] == ["train-00000-of-00001.parquet"]
    assert sorted(p.name for p in (out / "image_caption_pairs").iterdir()) == ["train-00000-of-00001.parquet"]


def test_rebuilding_in_place_is_not_hidden_by_the_datasets_cache(tmp_path):
    """load_dataset caches a local folder by its name; the card's dataset_info sizes change the key."""
    from datasets import load_dataset

    make_run_dir(tmp_path / "run_a", n=10)
    make_run_dir(tmp_path / "run_b", n=30)
    out = tmp_path / "out"
    build(tmp_path / "run_a", out)
    first = load_dataset(str(out), "image_caption_pairs", split="train")
    build(tmp_path / "run_b", out, overwrite=True)
    second = load_dataset(str(out), "image_caption_pairs", split="train")
    assert len(second) == 30 - 30 // 7 - (30 % 7 > 3)
    assert len(first) != len(second)


def test_script_and_cli_build_the_same_folder(run_dir, tmp_path):
    from hub_tools.cli import main

    run, _ = run_dir
    proc = subprocess.run(
        [sys.executable, str(REPO / "dataset_scripts" / "build_visual_instructions.py"), str(run), "--output",
         str(tmp_path / "a"), "--no-progress"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "image_caption_and_synthetic_task" in proc.stdout
    assert main(["build-dataset", str(run), "--output", str(tmp_path / "b"), "--no-progress"]) == 0
    for config in ("image_caption_pairs", "synthetic_visual_tasks", "image_caption_and_synthetic_task"):
        a = sorted((tmp_path / "a" / config).iterdir())
        b = sorted((tmp_path / "b" / config).iterdir())
        assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_cli_reports_a_broken_run_dir(tmp_path, capsys):
    from hub_tools.cli import main

    assert main(["build-dataset", str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 1
    assert "run directory not found" in capsys.readouterr().err


SCALE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    from hub_tools.publish.dataset import build_visual_instructions
    start = time.perf_counter()
    result = build_visual_instructions(sys.argv[1], sys.argv[2], max_shard_bytes=int(sys.argv[3]), progress=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    shards = {k: len(v) for k, v in result.shards.items()}
    print(json.dumps({"rows": result.rows, "peak_rss": peak, "shards": shards, "seconds": seconds}))
    """
)


def scale_build(tmp_path: Path, n: int, max_shard_bytes: int = 200_000) -> tuple[dict, dict]:
    """``n`` generated pairs through the builder in a subprocess: ``(expected, report)`` (rows, peak RSS, shards)."""
    run, out = tmp_path / f"run-{n}", tmp_path / f"out-{n}"
    try:
        expected = make_run_dir(run, n=n, reject_every=50, image_variants=16)
        proc = subprocess.run(
            [sys.executable, "-c", SCALE_SCRIPT, str(run), str(out), str(max_shard_bytes)],
            capture_output=True, text=True, timeout=600, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
    finally:  # many small files: do not leave them to pytest's temp-dir retention
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "writing image_caption_pairs" in proc.stderr  # the progress bar
    return expected, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_rows_stream_with_bounded_memory(tmp_path):
    """The builder's peak RSS does not grow with the rows: 2,000 vs 16,000 pairs (8x) differ by under 20 MiB (7 MiB measured).
    The 200,000-pair scale run is ``benchmarks/bench_dataset_scale.py`` (figures in benchmarks/RESULTS.md)."""
    peaks = {}
    for n in (2_000, 16_000):
        expected, report = scale_build(tmp_path, n)
        stats = expected["stats"]
        assert report["rows"]["image_caption_pairs"] == n - stats["rejected"]
        assert report["rows"]["synthetic_visual_tasks"] == stats["kept"]
        assert report["rows"]["image_caption_and_synthetic_task"] == stats["kept"] + stats["caption_only"]
        assert report["shards"]["image_caption_pairs"] > 1
        peaks[n] = report["peak_rss"]
    assert peaks[16_000] - peaks[2_000] < 20 * 1024**2, peaks
