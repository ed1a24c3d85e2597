"""The house rules of ``hub_tools`` (README "Layout"), checked by reading every module's imports.

1. No import cycle inside ``hub_tools`` (top-level and function-level imports both count).
2. Only ``cli.py`` and ``commands/`` import ``argparse`` or ``hub_tools.commands``.
3. The core (everything but ``miniature/``, ``commands/``, ``cli.py`` and the two entry shims) never
   imports ``hub_tools.miniature``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hub_tools"
# `-m hub_tools.synthesize` / `-m hub_tools.sft`: documented entry points that only hand over to the CLI / recipe.
ENTRY_SHIMS = {"hub_tools.synthesize", "hub_tools.sft", "hub_tools.__main__"}
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """Every module ``name`` imports (absolute names; relative imports resolved), at any depth of the file."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from hub_tools.x import y` where y is a submodule counts as importing hub_tools.x.y
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


def _internal(name: str) -> set[str]:
    """The hub_tools modules ``name`` depends on (a package import counts as its ``__init__``)."""
    return {m for m in _imports(name) if m in MODULES and m != name}


def _is_edge(name: str) -> bool:
    return name == "hub_tools.cli" or name.startswith("hub_tools.commands") or name in ENTRY_SHIMS


def test_modules_found():
    assert "hub_tools.cli" in MODULES and "hub_tools.synthesis.parse" in MODULES


def test_no_import_cycles():
    graph = {name: _internal(name) for name in MODULES}
    # a package __init__ re-exporting its submodules is not a cycle with them; edges child -> parent __init__
    # are implied by Python's import machinery and are not edges of ours.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not _is_edge(n)))
def test_argparse_only_at_the_edge(name):
    bad = {m for m in _imports(name) if m == "argparse" or m.startswith("hub_tools.commands")}
    assert not bad, f"{name} imports {sorted(bad)}; argparse belongs in hub_tools/cli.py and hub_tools/commands/"


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if not _is_edge(n) and not n.startswith("hub_tools.miniature"))
)
def test_core_never_imports_the_miniature(name):
    bad = {m for m in _imports(name) if m.startswith("hub_tools.miniature")}
    assert not bad, f"{name} (core) imports {sorted(bad)}; pass what it needs in from the CLI, tests or benchmarks"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines (house limit {MAX_LINES}): split it"


def test_top_level_is_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 11, f"{len(top)} top-level modules in hub_tools/: {top}"
