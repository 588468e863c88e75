"""The package map's rules (docs/architecture.md), read from the source: no import cycle between the
modules of `qa` — imports inside functions included, since they run too — and no import against the
flow (ingest → index → ask → server, training beside; the records, errors, settings and text helpers
under everything)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "qa"
# a layer may import its own and lower layers only: the records, errors, settings and helpers under
# everything; then ingest, index and ask; Tanya put together from them (pipeline, library); what
# uses Tanya (the server, training); the command line on top
LAYERS = {"ingest": 1, "index": 2, "ask": 3, "training": 5, "server": 5}
ASSEMBLY = {"qa", "qa.pipeline", "qa.library"}
COMMAND_LINE = {"qa.cli", "qa.__main__"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The `qa` modules a file imports, anywhere in it (TYPE_CHECKING blocks aside: they never run)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("qa.") or a.name == "qa"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "qa" or target.startswith("qa."):
                names = {f"{target}.{a.name}" for a in node.names}
                out |= {n for n in names if n in MODULES} or {target}
    return {m for m in out if m in MODULES and m != module}


FILES = {p: _module(p) for p in PACKAGE.rglob("*.py")}
MODULES = set(FILES.values())


def _graph() -> dict[str, set[str]]:
    return {module: _imports(path) for path, module in FILES.items()}


def _layer(module: str) -> int:
    if module in COMMAND_LINE:
        return 6
    if module in ASSEMBLY:
        return 4
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 2 else 0


def test_no_module_of_the_package_imports_itself_round_a_cycle() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" → ".join(c) for c in cycles)


def test_imports_follow_the_flow() -> None:
    against = sorted(
        f"{module} → {target}" for module, targets in _graph().items() for target in targets if _layer(target) > _layer(module)
    )
    assert not against, "\n".join(against)
