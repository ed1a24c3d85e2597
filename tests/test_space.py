"""The Gradio synthesizer Space: input checks, model choice, callbacks and a gradio_client session (no browser).

The browser tests are in ``test_space_browser.py``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub_tools import demo as core
from hub_tools.synthesis.parse import EOT, INFORMATIVE_HINT, PRECISE_HINT, QA_SEPARATOR, USER_HEADER

REPO = Path(__file__).resolve().parents[1]
SPACE = REPO / "spaces" / "synthesizer"

QUESTION = "Which kidney holds the lesion?"
INFORMATIVE = "The round dark lesion sits in the left kidney, so the answer is the left kidney."
PRECISE = "Left"


def turn(hint: str, question: str, answer: str) -> str:
    """One generated Llama-3 turn: the user question (after the open header) and the assistant answer."""
    return hint + question + QA_SEPARATOR + answer + EOT


def well_formed_generation() -> str:
    """A generation the released synthesizer could write: two complete triplets, then a cut-off turn."""
    return (
        turn(PRECISE_HINT, QUESTION, PRECISE)
        + USER_HEADER
        + turn(INFORMATIVE_HINT, QUESTION, INFORMATIVE)
        + USER_HEADER
        + turn(INFORMATIVE_HINT, "What is the modality?", "It is a CT slice of the abdomen.")
        + USER_HEADER
        + turn(PRECISE_HINT, "What is the modality?", "MRI")
        + USER_HEADER
        + "Answer with a precise response.\nHow large"
    )


def fake_generate(image, caption: str, max_new_tokens: int):
    """Stand-in for the synthesizer adapter: the real parser on a well-formed generation."""
    from hub_tools.synthesis import parse_triplets

    text = well_formed_generation()
    return text, parse_triplets(text)


def downloaded(button) -> Path:
    """The file a returned ``gr.DownloadButton`` offers (its value is processed into FileData)."""
    value = button.value
    return Path(value["path"] if isinstance(value, dict) else value)


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Space folder
# ---------------------------------------------------------------------------------------------
def test_space_readme_header_and_requirements():
    from importlib.metadata import version

    import yaml

    text = (SPACE / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["sdk"] == "gradio"
    assert str(header["sdk_version"]) == version("gradio")
    assert (SPACE / header["app_file"]).is_file()
    assert header["models"] == ["AdaptLLM/visual-instruction-synthesizer", "meta-llama/Meta-Llama-3-8B"]
    assert header["suggested_hardware"] == "a100-large"
    assert header["license"] == "apache-2.0"
    for key in ("title", "emoji", "colorFrom", "colorTo"):
        assert header[key]
    assert 0 < len(header["short_description"]) <= 60
    lines = [ln.strip() for ln in (SPACE / "requirements.txt").read_text().splitlines()]
    assert [ln for ln in lines if ln and not ln.startswith("#")] == ["."]


def test_bundled_examples_are_the_sample_images(app, tmp_path):
    """The committed example PNGs equal what hub_tools.miniature.samples draws (and are rewritten when missing)."""
    from PIL import Image, ImageChops

    rows = core.ensure_examples(tmp_path, app.example_pairs())
    assert [Path(p).name.split("_")[0] for p, _ in rows] == ["biomed", "food"]
    for path, caption in rows:
        committed = SPACE / "examples" / Path(path).name
        assert committed.is_file(), committed
        with Image.open(committed) as a, Image.open(path) as b:
            assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None
        assert caption.strip()


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _png(path: Path, size=(32, 32), mode="RGB") -> Path:
    from PIL import Image

    Image.new(mode, size, 128 if mode == "L" else (10, 200, 30, 255)[: len(mode)]).save(path)
    return path


def test_check_image_accepts_and_converts(tmp_path):
    img = core.check_image(_png(tmp_path / "a.png", mode="RGBA"))
    assert img.mode == "RGB" and img.size == (32, 32)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _noise_png(path: Path, side: int) -> Path:
    from PIL import Image

    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: None, "upload an image"),
        (lambda d: d / "missing.png", "could not be found"),
        (lambda d: _write(d / "empty.png", b""), "is empty"),
        (lambda d: _write(d / "notes.txt", b"not an image"), "Unsupported file 'notes.txt'"),
        (lambda d: _png(d / "big.png", size=(300, 300)), "too large: 300x300 = 90,000 pixels; the limit is 40,000"),
        (lambda d: _noise_png(d / "bytes.png", 64), r"image file is too large \(1\d kB\); the limit is 5 kB"),
    ],
)
def test_check_image_rejects_with_a_message(tmp_path, make, expected):
    path = make(tmp_path)
    max_bytes = 5_000 if path is not None and path.name == "bytes.png" else core.MAX_IMAGE_BYTES
    with pytest.raises(core.InputError, match=expected):
        core.check_image(path, max_bytes=max_bytes, max_pixels=200 * 200)


def test_check_image_unsupported_format_and_truncated(tmp_path):
    from PIL import Image

    ppm = tmp_path / "a.ppm"
    Image.new("RGB", (8, 8)).save(ppm)
    with pytest.raises(core.InputError, match="Unsupported image format PPM"):
        core.check_image(ppm)
    good = _png(tmp_path / "full.png", size=(64, 64))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(core.InputError, match="cannot be used: truncated or corrupt"):
        core.check_image(cut)


def test_check_caption_and_settings():
    assert core.check_caption("  A CT scan. ") == "A CT scan."
    for bad in (None, "", "   \n", 3):
        with pytest.raises(core.InputError, match="enter a caption"):
            core.check_caption(bad)
    with pytest.raises(core.InputError, match="too long \\(2,001 characters\\)"):
        core.check_caption("x" * 2001)
    assert core.check_settings(2.0, 64.0, "lexical") == (2, 64, "lexical")
    with pytest.raises(core.InputError, match="between 1 and 5"):
        core.check_settings(0, 64, "LLM")
    with pytest.raises(core.InputError, match="Max new tokens"):
        core.check_settings(1, 0, "LLM")
    with pytest.raises(core.InputError, match="Unknown checker"):
        core.check_settings(1, 64, "oracle")


# ---------------------------------------------------------------------------------------------
# model choice
# ---------------------------------------------------------------------------------------------
def test_choose_models(tmp_path, tiny_models):
    gpu_online = core.choose_models({}, gpu=True)
    assert (gpu_online.synthesizer, gpu_online.checker) == (core.DEFAULT_SYNTHESIZER, core.DEFAULT_CHECKER)
    assert not gpu_online.smoke_test
    offline = core.choose_models({"HF_HUB_OFFLINE": "1", "ADAMLLM_TINY_CACHE": str(tmp_path)}, gpu=True)
    assert offline.synthesizer == str(tmp_path / "synthesizer") and offline.checker == str(tmp_path / "checker")
    assert offline.smoke_test and "offline" in offline.reason
    cpu = core.choose_models({"ADAMLLM_TINY_CACHE": str(tmp_path)}, gpu=False)
    assert cpu.smoke_test and "no GPU" in cpu.reason
    named = core.choose_models({"ADAMLLM_SYNTHESIZER": "org/synth", "ADAMLLM_CHECKER": "org/check"}, gpu=False)
    assert (named.synthesizer, named.checker, named.smoke_test) == ("org/synth", "org/check", False)
    tiny = core.choose_models({"ADAMLLM_SYNTHESIZER": str(tiny_models["llava_next"])}, gpu=True)
    assert tiny.smoke_test and tiny.checker == core.DEFAULT_CHECKER
    assert "meaningless" in core.model_banner(tiny) and "meaningless" not in core.model_banner(named)


def test_tiny_models_are_built_on_first_use_only(app, tmp_path, tiny_models, monkeypatch):
    import hub_tools.miniature.tiny_tuned

    calls = []
    monkeypatch.setattr(hub_tools.miniature.tiny_tuned, "build_all_tiny_models", lambda out: calls.append(Path(out)))
    built = tmp_path / "built" / "checker"  # an already built tuned model: stamped folder with a config
    built.mkdir(parents=True)
    (built / "tiny.json").write_text("{}")
    (built / "config.json").write_text("{}")
    app.ensure_tiny(str(tmp_path / "cache" / "synthesizer"))  # the default tiny path, not built yet
    app.ensure_tiny(str(built))  # already built
    app.ensure_tiny(str(tiny_models["llama"]))
    app.ensure_tiny("meta-llama/Meta-Llama-3-8B")  # a Hub id
    assert calls == [tmp_path / "cache"]


# ---------------------------------------------------------------------------------------------
# composition
# ---------------------------------------------------------------------------------------------
def test_compose_example_matches_the_pipeline_for_one_task():
    from hub_tools.compose import Outcome, compose_rows

    triplet = {"question": QUESTION, "informative": INFORMATIVE, "precise": PRECISE}
    for pid in ("demo-a", "demo-b", "demo-c", "demo-d"):  # both caption positions occur
        row = {"id": pid, "caption": "A CT slice.", "caption_prompt": None, "image": f"images/{pid}.png"}
        expected = compose_rows([Outcome(row, "kept", triplet)], seed=core.DEMO_SEED)["train"][0]
        assert core.compose_example(pid, "A CT slice.", [triplet]) == expected
        alone = compose_rows([Outcome(row, "caption_only")], seed=core.DEMO_SEED)["train"][0]
        assert core.compose_example(pid, "A CT slice.", []) == alone


# ---------------------------------------------------------------------------------------------
# callbacks
# ---------------------------------------------------------------------------------------------
def test_callback_renders_table_chat_and_json(app, monkeypatch):
    monkeypatch.setattr(app, "generate", fake_generate)
    image_path, caption = app.EXAMPLES[0]
    status, table, chat, raw, download = app.synthesize(image_path, caption, 2, 128, "lexical")
    assert "2 complete task triplets" in status and "1 kept" in status
    assert list(table.columns) == core.TRIPLET_HEADERS
    rows = table.values.tolist()
    assert [r[:4] for r in rows] == [
        [QUESTION, INFORMATIVE, PRECISE, "Yes"],
        ["What is the modality?", "It is a CT slice of the abdomen.", "MRI", "No"],
    ]
    assert all(v is None or v != v for r in rows for v in r[4:])  # lexical: no probabilities
    assert raw == well_formed_generation()
    example = json.loads(downloaded(download).read_text())
    assert download.visible and example["kind"] == "caption+task"
    assert example["images"] == [f"images/{example['id']}.png"]
    texts = [p["text"] for m in example["messages"] for p in m["content"] if p["type"] == "text"]
    assert caption in texts and INFORMATIVE in texts  # the informative answer ends in a cue ("so ... answer")
    assert sum(p["type"] == "image" for m in example["messages"] for p in m["content"]) == 1
    # chat view: same turns, the image part shown from the upload
    assert [m["role"] for m in chat] == [m["role"] for m in example["messages"]]
    assert chat[0]["content"][0] == {"path": image_path}
    assert [p["text"] for m in chat for p in m["content"] if "text" in p] == texts


def test_callback_probabilities_and_first_n(app, monkeypatch):
    monkeypatch.setattr(app, "generate", fake_generate)
    seen = []

    def judge(triplets, checker):
        seen.append((len(triplets), checker))
        return [{"label": "No", "probs": {"Yes": 0.2, "No": 0.7, "Open": 0.1}} for _ in triplets]

    monkeypatch.setattr(app, "judge", judge)
    image_path, caption = app.EXAMPLES[1]
    status, table, chat, _, download = app.synthesize(image_path, caption, 1, 64, "LLM")
    assert seen == [(1, "LLM")]
    assert table.values.tolist() == [[QUESTION, INFORMATIVE, PRECISE, "No", 0.2, 0.7, 0.1]]
    assert "0 kept" in status and "caption turn alone" in status
    assert json.loads(downloaded(download).read_text())["kind"] == "caption_only"
    assert [m["role"] for m in chat] == ["user", "assistant"]


def test_callback_messages_never_tracebacks(app, monkeypatch, tmp_path):
    image_path, caption = app.EXAMPLES[0]
    cases = [
        ((None, caption), "upload an image"),
        ((image_path, "   "), "enter a caption"),
        ((image_path, "y" * 5000), "caption is too long"),
        ((str(_write(tmp_path / "x.txt", b"hello")), caption), "Unsupported file"),
    ]
    for (img, cap), expected in cases:
        with pytest.warns(UserWarning, match=expected):
            status, table, chat, raw, download = app.synthesize(img, cap, 1, 64, "lexical")
        assert status.startswith("❌") and expected in status
        assert table.empty and chat == [] and raw == "" and download.visible is False

    def broken(image, caption, max_new_tokens):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(app, "generate", broken)
    with pytest.warns(UserWarning, match="run failed"):
        status, *_ = app.synthesize(image_path, caption, 1, 64, "lexical")
    assert status == "❌ The run failed: RuntimeError: CUDA out of memory"


def test_callback_leaves_no_temp_folders(app, monkeypatch, tmp_path):
    """Each request removes the ``adamllm-demo-*`` folder it writes the example into, also when a run fails."""
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(app, "generate", fake_generate)
    for image_path, caption in app.EXAMPLES * 3:
        status, *_, download = app.synthesize(image_path, caption, 2, 64, "lexical")
        assert not status.startswith("❌"), status
        assert json.loads(downloaded(download).read_text())["kind"] == "caption+task"  # still downloadable
    assert list(temp.glob("adamllm-demo-*")) == []

    def full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(app, "serve_file", full)
    image_path, caption = app.EXAMPLES[0]
    with pytest.warns(UserWarning, match="run failed"):
        status, *_ = app.synthesize(image_path, caption, 1, 64, "lexical")
    assert "No space left on device" in status
    assert list(temp.glob("adamllm-demo-*")) == []


def test_lexical_checker_setting_is_the_default_choice(tiny_models, monkeypatch):
    """ADAMLLM_CHECKER=lexical: the page defaults to the lexical checker and a run with default values works;
    "LLM" falls back to lexical with a note instead of loading a model named "lexical" from the Hub."""
    import hub_tools.filtering

    monkeypatch.setenv("ADAMLLM_SYNTHESIZER", str(tiny_models["llava_next"]))
    monkeypatch.setenv("ADAMLLM_CHECKER", "lexical")
    monkeypatch.setitem(sys.modules, core.APP_MODULE, sys.modules.get(core.APP_MODULE))  # restored afterwards

    def no_llm(*args, **kwargs):
        raise AssertionError("an LLM checker was loaded")

    monkeypatch.setattr(hub_tools.filtering, "LLMChecker", no_llm)
    lexical = core.load_app()
    monkeypatch.setattr(lexical, "generate", fake_generate)
    assert lexical.checker_in.value == "lexical"
    assert lexical.MODELS.checker == "lexical" and "no LLM checker" in core.model_banner(lexical.MODELS)
    image_path, caption = lexical.EXAMPLES[0]
    defaults = (lexical.n_tasks_in.value, lexical.max_new_tokens_in.value, lexical.checker_in.value)
    status, table, *_ = lexical.synthesize(image_path, caption, *defaults)
    assert "judged by the lexical checker (Yes)" in status and "1 kept" in status, status
    assert table.values.tolist()[0][3] == "Yes"
    status, table, *_ = lexical.synthesize(image_path, caption, 1, 64, "LLM")
    assert "judged by the lexical checker (Yes)" in status and "ADAMLLM_CHECKER=lexical" in status, status


def test_callback_real_tiny_models(app):
    """The real path: tiny LLaVA-NeXT synthesizer and tiny Llama checker, loaded once."""
    from hub_tools.synthesis import parse_triplets

    assert app.MODELS.smoke_test
    image_path, caption = app.EXAMPLES[0]
    status, table, chat, raw, download = app.synthesize(image_path, caption, 1, 48, "LLM")
    assert not status.startswith("❌"), status
    engine = core.load_synthesizer(app.MODELS.synthesizer)
    assert core.load_synthesizer(app.MODELS.synthesizer) is engine  # cached
    generation = engine.generate([(core.check_image(image_path), caption, None)])[0]
    assert core.printable_generation(generation) == raw  # greedy: the same text again
    triplets = parse_triplets(generation)
    example = json.loads(downloaded(download).read_text())
    if not triplets:
        assert core.NO_TRIPLET_MESSAGE in status and table.empty
        assert example["kind"] == "caption_only" and len(chat) == 2
    else:  # pragma: no cover - random weights practically never close a triplet
        assert len(table) == 1
    assert chat[1]["content"][0]["text"] == caption


# ---------------------------------------------------------------------------------------------
# served: `adamllm demo` + gradio_client
# ---------------------------------------------------------------------------------------------
def _wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"`adamllm demo` exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@pytest.mark.slow
def test_adamllm_demo_serves_and_gradio_client(tiny_models, tmp_path):
    from gradio_client import Client, handle_file

    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ADAMLLM_SYNTHESIZER": str(tiny_models["llava_next"]),
        "ADAMLLM_CHECKER": str(tiny_models["llama"]),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    cmd = [sys.executable, "-m", "hub_tools", "demo", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, proc)
        client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        example = str(SPACE / "examples" / "food_00_pasta.png")
        status, table, chat, raw, download = client.predict(
            handle_file(example), "A plate of pasta.", 2, 32, "LLM", api_name="/synthesize"
        )
        assert core.NO_TRIPLET_MESSAGE in status or "complete task triplet" in status
        assert table["headers"] == core.TRIPLET_HEADERS
        texts = [p.get("text") for m in chat for p in m["content"] if isinstance(p, dict)]
        assert "A plate of pasta." in texts and "Describe the image." in texts
        assert download["visible"] is True  # an update that shows the button with the file
        row = json.loads(Path(download["value"]).read_text())
        assert row["messages"][0]["content"][0] == {"type": "image"}
        status, *_ = client.predict(handle_file(example), "", 1, 32, "lexical", api_name="/synthesize")
        assert status == "❌ Please enter a caption for the image."
        notes = tmp_path / "notes.txt"
        notes.write_text("plain text, not an image")
        with pytest.raises(Exception, match="Unsupported file 'notes.txt'"):
            client.predict(handle_file(str(notes)), "A caption.", 1, 32, "lexical", api_name="/synthesize")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_adamllm_demo_caps_uploads_and_removes_its_upload_folder(tiny_models, tmp_path):
    """An upload request holds at most one image of ``MAX_IMAGE_BYTES``: a 15 MB file, or 40 files in one request,
    get 413 and a message, and never reach the disk. Uploads land in a folder of the server process, removed when
    the server stops (SIGTERM here)."""
    import httpx

    temp = tmp_path / "tmp"
    temp.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ADAMLLM_SYNTHESIZER": str(tiny_models["llava_next"]),
        "ADAMLLM_CHECKER": "lexical",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TMPDIR": str(temp),
    }
    env.pop("GRADIO_TEMP_DIR", None)
    cmd = [sys.executable, "-m", "hub_tools", "demo", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/", proc)
        upload = f"{url}/gradio_api/upload"
        big = httpx.post(upload, files={"files": ("big.png", b"\0" * (15 * 1024 * 1024), "image/png")}, timeout=60)
        assert big.status_code == 413, big.text
        assert big.text == "The upload is too large (15.0 MB); the demo takes one image of at most 10.0 MB."
        many = [("files", (f"x{i}.png", b"\0" * (1024 * 1024), "image/png")) for i in range(40)]
        assert httpx.post(upload, files=many, timeout=60).status_code == 413
        image = (SPACE / "examples" / "food_00_pasta.png").read_bytes()
        ok = httpx.post(upload, files={"files": ("pasta.png", image, "image/png")}, timeout=60)
        assert ok.status_code == 200, ok.text
        (folder,) = temp.glob("adamllm-demo-uploads-*")
        assert folder in Path(ok.json()[0]).parents and Path(ok.json()[0]).read_bytes() == image
        assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 1024 * 1024  # nothing refused kept
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    output = proc.stdout.read()
    assert not folder.exists() and not list(temp.glob("adamllm-demo-uploads-*")), output
    assert not (temp / "gradio").exists()  # gradio's default upload folder was never used
    # stdout is a pipe, not a terminal: the URL line still comes first, and the hint names our flag, not share=True
    assert output.splitlines()[0] == (
        f"adamllm demo: open http://127.0.0.1:{port}/ in a browser (Ctrl-C stops the server); "
        "--share adds a public gradio.live link"
    ), output
    assert "share=True" not in output and "adamllm demo: stopped" in output, output


def test_demo_command_arguments():
    from hub_tools.cli import build_parser

    args = build_parser().parse_args(["demo", "--host", "0.0.0.0", "--port", "9000", "--share"])
    assert (args.host, args.port, args.share) == ("0.0.0.0", 9000, True)
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.share) == (None, None, False)  # resolved by server_address
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--share", "maybe"])
