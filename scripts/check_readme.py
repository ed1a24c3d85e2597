#!/usr/bin/env python3
"""Run the README: every fenced shell block, in order, in a fresh temporary folder, with the installed CLI.

``make test-readme`` runs this script (after ``make install``). Each ```bash / ```sh / ```shell block of README.md
runs in its own ``bash`` (``set -euo pipefail``) inside one temporary folder, in README order, with the venv
active (``.venv`` by default, ``--venv`` to name another), ``HF_HUB_OFFLINE=1`` and the repository's ``recipes/``,
``Makefile``, ``pyproject.toml`` and ``.venv`` linked in (the README's paths are relative to the repository root).

A block fails on a non-zero exit, a traceback, or a warning line in its output (:data:`BAD_LINE`).

Markers: a block holding the line ``# readme-check: skip REASON`` is not run (blocks that need a GPU or the Hub,
and the minutes-long ``make`` targets); the README says so. Blocking commands are handled so a block returns:
``adamllm demo`` is started in the background, waited for until it prints its URL, fetched once and stopped;
``... &`` lines (``transformers serve``) stay in the background and the block stops them itself (``kill %1``).
Fixed ports (``--port NNNN``) are swapped for free loopback ports, and the demo gets a free ``GRADIO_SERVER_PORT``,
so the check can run beside other servers. Whatever a block left running is killed with its process group.

Exit status: 0 when every runnable block passed, 1 when one failed, 2 when the check itself cannot start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELL_LANGS = ("bash", "sh", "shell", "console")
SKIP_MARKER = re.compile(r"^\s*#\s*readme-check:\s*skip\b[\s:—-]*(?P<reason>.*)$", re.M)
"""The comment line that makes this check skip a block; the rest of the line is the reason."""
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)^```[ \t]*$", re.M | re.S)
BAD_LINE = re.compile(
    r"Traceback \(most recent call last\)"
    r"|\b[A-Z]\w*Warning\b"  # UserWarning, FutureWarning, ... and "Warning:" itself
    r"|\bwarning\b\s*[:\]]"  # logging's "WARNING:", "[warning]", "adamllm x: warning: ..."
    r"|^\s*WARN\b"
    r"|Exception ignored in"
    r"|Unclosed (client session|connector)",
    re.I | re.M,
)
"""A line of output that fails the block: a traceback, a warning, an unclosed resource."""
BLOCKING = re.compile(r"^(?P<indent>\s*)(?P<cmd>adamllm\s+demo\b.*)$", re.M)
"""Commands that serve until stopped; the check runs them through :data:`SERVE_HELPER`."""
PORT_FLAG = re.compile(r"--port[ =](\d{4,5})\b")
SERVE_HELPER = r"""
__readme_serve() {  # run a serving command in the background, wait for its URL, fetch it once, stop it
  local log pid url n=0
  log=$(mktemp)
  ( eval "exec $1" ) >"$log" 2>&1 &
  pid=$!
  until url=$(grep -oE 'https?://(127\.0\.0\.1|localhost|0\.0\.0\.0)(:[0-9]+)?/?' "$log" | head -n 1) && [ -n "$url" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log"; echo "readme-check: '$1' stopped before serving" >&2; return 1
    fi
    n=$((n + 1))
    if [ "$n" -gt "${READMECHECK_SERVE_TIMEOUT:-600}" ]; then
      cat "$log"; kill "$pid"; echo "readme-check: '$1' printed no URL" >&2; return 1
    fi
    sleep 1
  done
  curl -sf -o /dev/null "${url/0.0.0.0/127.0.0.1}" || { cat "$log"; kill "$pid"; echo "readme-check: $url did not answer" >&2; return 1; }
  echo "readme-check: $url answered; stopping '$1'"
  kill "$pid"; wait "$pid" || true  # SIGTERM: a background job of a script ignores SIGINT
  cat "$log"
}
"""


@dataclass
class Block:
    """One fenced shell block of the README."""

    number: int
    """1-based position among the README's shell blocks."""
    heading: str
    """The ``##`` heading the block sits under ("" before the first)."""
    line: int
    """1-based README line of the block's first code line."""
    code: str
    skip: str | None = None
    """The reason given by the block's ``# readme-check: skip`` line, ``None`` when the block runs."""

    @property
    def title(self) -> str:
        """``block N (## heading, line L)``: how the check names the block."""
        return f"block {self.number} ({self.heading or 'top'}, README line {self.line})"


def extract_blocks(text: str) -> list[Block]:
    """Every fenced shell block of README ``text`` (languages :data:`SHELL_LANGS`), in order, with its heading and
    its skip reason (:data:`SKIP_MARKER`)."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group("lang").lower() not in SHELL_LANGS:
            continue
        before = text[: match.start()]
        headings = re.findall(r"^(##+ .+)$", before, re.M)
        code = match.group("code")
        marker = SKIP_MARKER.search(code)
        skip = (marker.group("reason").strip().strip("()").strip() or "marked skip") if marker else None
        line = before.count("\n") + 2
        blocks.append(Block(len(blocks) + 1, headings[-1].strip() if headings else "", line, code, skip))
    return blocks


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runnable(code: str, port=free_port) -> str:
    """The bash script the check runs for a block's ``code``: strict mode, fixed ports swapped for free ones
    (``port()`` gives each), and each blocking command (:data:`BLOCKING`) run through :data:`SERVE_HELPER`."""
    for fixed in sorted(set(PORT_FLAG.findall(code))):
        code = re.sub(rf"\b{fixed}\b", str(port()), code)

    def serve(match: re.Match) -> str:
        cmd = match.group("cmd")
        command = re.sub(r"\s+#.*$", "", cmd).rstrip()
        if command.endswith("&"):  # already in the background: the block stops it itself
            return match.group(0)
        return f"{match.group('indent')}__readme_serve {shell_quote(command)}"

    code = BLOCKING.sub(serve, code)
    return "set -euo pipefail\n" + SERVE_HELPER + code


def shell_quote(text: str) -> str:
    """``text`` as one single-quoted bash word."""
    return "'" + text.replace("'", "'\\''") + "'"


def bad_lines(output: str) -> list[str]:
    """The lines of ``output`` that fail a block (:data:`BAD_LINE`)."""
    return [line for line in output.splitlines() if BAD_LINE.search(line)]


def environment(venv: Path) -> dict[str, str]:
    """A shell with ``venv`` active (what ``source .venv/bin/activate`` gives), offline."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME",)}
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        TOKENIZERS_PARALLELISM="false",
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_SERVER_PORT=str(free_port()),
    )
    env.setdefault("ADAMLLM_TINY_CACHE", str(REPO / ".cache" / "tiny"))
    return env


def folder(venv: Path, keep: bool) -> Path:
    """A fresh temporary folder with the repository's ``recipes/``, ``Makefile``, ``pyproject.toml`` and the venv
    linked in as ``.venv``."""
    work = Path(tempfile.mkdtemp(prefix="readme-check-"))
    for name in ("recipes", "Makefile", "pyproject.toml"):
        (work / name).symlink_to(REPO / name)
    (work / ".venv").symlink_to(venv, target_is_directory=True)
    if keep:
        print(f"readme-check: working folder {work} (kept)")
    return work


def run_block(block: Block, work: Path, env: dict[str, str], timeout: float) -> tuple[bool, str, float]:
    """Run ``block`` in ``work``; return (passed, what to show, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-c", runnable(block.code)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        code = None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # servers the block left behind
    seconds = time.monotonic() - start
    problems = []
    if code is None:
        problems.append(f"timed out after {timeout:.0f} s")
    elif code != 0:
        problems.append(f"exit status {code}")
    bad = bad_lines(output)
    if bad:
        problems.append(f"{len(bad)} traceback/warning line(s):\n    " + "\n    ".join(bad[:20]))
    if problems:
        return (
            False,
            "; ".join(problems) + "\n--- output (last 60 lines) ---\n" + "\n".join(output.splitlines()[-60:]),
            seconds,
        )
    return True, "", seconds


def check_install(work: Path, env: dict[str, str]) -> str | None:
    """``None`` when ``make install`` has nothing to do in ``work`` (the venv is newer than pyproject.toml),
    else what to run first (the check never installs)."""
    if not shutil.which("make", path=env["PATH"]):
        return None
    done = subprocess.run(["make", "-q", "install"], cwd=work, env=env, capture_output=True, text=True)
    return (
        None if done.returncode == 0 else "the venv is missing or older than pyproject.toml: run `make install` first"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run every runnable block in order, print a summary; the exit status of the check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--venv", type=Path, default=REPO / ".venv", help="the installed venv (default: .venv)")
    parser.add_argument("--list", action="store_true", help="list the blocks and whether each runs; run nothing")
    parser.add_argument("--only", type=int, action="append", default=[], metavar="N", help="run block N only")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one block may take (default 1800)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    blocks = extract_blocks(args.readme.read_text(encoding="utf-8"))
    if args.list:
        for block in blocks:
            print(f"{block.title}: {'skip: ' + block.skip if block.skip else 'runs'}")
        return 0
    venv = args.venv.resolve()
    if not (venv / "bin" / "adamllm").exists():
        print(f"readme-check: no installed adamllm in {venv}: run `make install` first", file=sys.stderr)
        return 2
    work = folder(venv, args.keep)
    env = environment(venv)
    failed = []
    try:
        stale = check_install(work, env)
        if stale:
            print(f"readme-check: {stale}", file=sys.stderr)
            return 2
        for block in blocks:
            if args.only and block.number not in args.only:
                continue
            if block.skip:
                print(f"readme-check: {block.title}: skipped ({block.skip})", flush=True)
                continue
            print(f"readme-check: {block.title}: running", flush=True)
            ok, report, seconds = run_block(block, work, env, args.timeout)
            print(f"readme-check: {block.title}: {'ok' if ok else 'FAILED'} ({seconds:.0f} s)", flush=True)
            if not ok:
                print(report, flush=True)
                failed.append(block)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    ran = [b for b in blocks if not b.skip and (not args.only or b.number in args.only)]
    print(
        f"readme-check: {len(ran) - len(failed)} of {len(ran)} blocks passed, {sum(b.skip is not None for b in blocks)} skipped"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
