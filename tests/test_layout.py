"""The house rules of ``hub_tools`` (README "Layout"), checked by reading every module's imports.

1. No import cycle inside ``hub_tools`` (top-level and function-level imports both count).
2. Only ``cli.py`` and ``commands/`` import ``argparse`` or ``hub_tools.commands``.
3. The core (everything but ``miniature/``, ``commands/``, ``cli.py`` and the two entry shims) never
   imports ``hub_tools.miniature``.
4. No upward import: each room has a layer (:data:`LAYERS`, lowest first) and imports only from its own layer or
   below (``rundir/`` never reaches up into ``synthesis/``).
5. No module over :data:`MAX_LINES` lines (split where a reader would cut).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hub_tools"
# `-m hub_tools.synthesize` / `-m hub_tools.sft`: documented entry points that only hand over to the CLI / recipe.
ENTRY_SHIMS = {"hub_tools.synthesize", "hub_tools.sft", "hub_tools.__main__"}
MAX_LINES = 500
OVER_THE_LIMIT: dict[str, int] = {}
"""Modules allowed past :data:`MAX_LINES` for now, with their own cap (none: keep it that way)."""
LAYERS = [
    {"hub_tools", "redaction", "defaults"},
    {"errors"},
    {"data"},
    {"rundir", "preflight"},
    {"synthesis"},
    {"filtering", "compose"},
    {"pipeline", "publish"},
    {"training", "evaluation", "demo"},
    {"miniature"},
    {"cli", "commands", "__main__", "synthesize", "sft"},
]
"""The rooms of ``hub_tools`` (top-level modules and packages), lowest first; a room imports from its layer or below."""


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
    limit = OVER_THE_LIMIT.get(name, MAX_LINES)
    assert lines <= limit, f"{MODULES[name]} has {lines} lines (house limit {limit}): split it"


def _room(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _layer(name: str) -> int:
    room = _room(name)
    return next(i for i, rooms in enumerate(LAYERS) if room in rooms)


def test_every_room_has_a_layer():
    rooms = {_room(name) for name in MODULES}
    assert not rooms - set().union(*LAYERS), f"rooms without a layer in LAYERS: {sorted(rooms - set().union(*LAYERS))}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_upward_import(name):
    up = sorted(d for d in _internal(name) if _layer(d) > _layer(name))
    assert not up, f"{name} (layer {_layer(name)}) imports {up} from a layer above: move the code down, or pass it in"


def test_top_level_is_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 11, f"{len(top)} top-level modules in hub_tools/: {top}"
