"""``scripts/check_readme.py`` (``make test-readme``): which README blocks it runs, how it makes a blocking command
return, and what fails a block. The full run is ``make test-readme`` (minutes; not part of the suite)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_readme", REPO / "scripts" / "check_readme.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_readme"] = module
    spec.loader.exec_module(module)
    return module


SAMPLE = """# title

## One

```bash
echo one
```

```python
print("not a shell block")
```

## Two

```sh
# readme-check: skip (needs a GPU and the Hub)
accelerate launch train.py
```

```bash
transformers serve folder --port 8101 &
adamllm demo --port 7860   # serves until stopped
curl http://127.0.0.1:8101/health
kill %1
```
"""


def test_blocks_headings_and_skip_markers(check):
    blocks = check.extract_blocks(SAMPLE)
    assert [(b.number, b.heading, b.skip) for b in blocks] == [
        (1, "## One", None),
        (2, "## Two", "needs a GPU and the Hub"),
        (3, "## Two", None),
    ]
    assert blocks[0].code == "echo one\n" and SAMPLE.splitlines()[blocks[0].line - 1] == "echo one"


def test_blocking_commands_return_and_fixed_ports_are_swapped(check):
    ports = iter(["5001", "5002"])
    script = check.runnable(check.extract_blocks(SAMPLE)[2].code, port=lambda: next(ports))
    assert script.startswith("set -euo pipefail\n")
    body = script[len("set -euo pipefail\n" + check.SERVE_HELPER) :]
    assert body.splitlines() == [
        "transformers serve folder --port 5002 &",  # already in the background: the block stops it (kill %1)
        "__readme_serve 'adamllm demo --port 5001'",
        "curl http://127.0.0.1:5002/health",
        "kill %1",
    ]


def test_bad_lines(check):
    output = "\n".join(
        [
            "kept 3 of 4",
            "Traceback (most recent call last):",
            "/x.py:3: UserWarning: careful",
            "WARNING:root:something",
            "Unclosed client session",
            "0 warnings, all good",
        ]
    )
    assert check.bad_lines(output) == output.splitlines()[1:5]


def test_every_readme_block_runs_or_says_why_not(check):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = check.extract_blocks(text)
    assert "make test-readme" in text and "# readme-check: skip" in text
    by_heading = {b.heading: b for b in blocks}
    gpu = by_heading["## Usage with real Hub models (GPU)"]
    assert gpu.skip and 'pip install -e ".[gpu]"' in gpu.code.split("\n# 1.")[0]  # installed before step 4 needs it
    offline = by_heading["## Usage offline with the tiny models (CPU)"]
    assert offline.skip is None and "__readme_serve 'adamllm demo'" in check.runnable(offline.code)
    for block in blocks:
        assert block.skip is None or len(block.skip) > 10, block.title  # a reason a reader understands


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_block_passes_fails_and_serves(check, tmp_path):
    env = check.environment(Path(sys.prefix))
    ok = check.Block(1, "## x", 1, "echo fine\n")
    assert check.run_block(ok, tmp_path, env, 60)[0]
    for code in ("exit 3\n", f"{sys.executable} -c \"import warnings; warnings.warn('x')\"\n"):
        passed, report, _ = check.run_block(check.Block(2, "## x", 1, code), tmp_path, env, 60)
        assert not passed and ("exit status 3" in report or "UserWarning" in report), report
    serve = f"__readme_serve '{sys.executable} -u -m http.server 0 --bind 127.0.0.1'\necho after\n"
    passed, report, _ = check.run_block(check.Block(3, "## x", 1, serve), tmp_path, env, 60)
    assert passed, report
