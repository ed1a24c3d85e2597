"""docs/protocol.md: every test a row points at exists (a row naming a missing test holds nothing)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _referenced_tests() -> list[tuple[str, str | None]]:
    """(file, test name or None) for every `tests/...py[::name]` and following `::name` in each table row."""
    refs = []
    for line in (REPO / "docs" / "protocol.md").read_text().splitlines():
        if not line.startswith("|"):
            continue
        current = None
        for match in re.finditer(r"`(tests/[\w/]+\.py)?(?:::([\w*]+))?`", line):
            path, name = match.groups()
            if path:
                current = path
            if current and (path or name):
                refs.append((current, name))
    return refs


def test_every_test_named_in_the_protocol_exists():
    refs = _referenced_tests()
    assert len(refs) > 30
    missing = []
    for path, name in refs:
        file = REPO / path
        if not file.is_file():
            missing.append(path)
            continue
        if name is None:
            continue
        defined = re.findall(r"^(?:async )?def (test\w*)", file.read_text(), flags=re.MULTILINE)
        if not fnmatch.filter(defined, name):
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/protocol.md names tests that do not exist: {missing}"
