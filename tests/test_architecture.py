"""The house drawn from imports: floors a module imports from, its own or below, never above, and no circle.

The floors are DESIGN.md's (as the code has them): the helpers at the bottom, the network's pieces
(``nn/``), the engines and the training loop, then the network, its model file and what reads it
(tables, explanations, export), the estimators, and the command and the explorer on top.
"""

import ast
from pathlib import Path


SRC = Path(__file__).parents[1] / "src" / "backpropagation"
FLOORS = {
    1: ["_registry", "files", "interrupt", "collective", "errors", "data", "statistics"],
    2: ["nn"],
    3: ["engines", "training"],
    4: ["network", "io", "inspection", "ensemble", "tables", "explain", "export"],
    5: ["sklearn"],
    6: ["cli", "explore", "__main__"],
}


def floor(module: str) -> int | None:
    """The floor of ``backpropagation.<module>`` (None: the package itself, which re-exports)."""
    first = module.split(".")[0]
    for level, names in FLOORS.items():
        if first in names:
            return level
    return None


def modules():
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        yield name.removesuffix(".__init__") if name != "__init__" else "", path


def imports_of(name: str, path: Path):
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] + ([node.module] if node.module else [])
            for alias in node.names:
                yield ".".join([*base, alias.name]) if not node.module else ".".join(base)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backpropagation."):
            yield node.module.removeprefix("backpropagation.")


def test_every_module_has_a_floor():
    assert [name for name, _ in modules() if name and floor(name) is None] == []


def test_no_module_imports_from_a_floor_above_its_own():
    upward = []
    for name, path in modules():
        if not name:
            continue
        for target in imports_of(name, path):
            if target and floor(target) is not None and floor(target) > floor(name):
                upward.append(f"{name} (floor {floor(name)}) imports {target} (floor {floor(target)})")
    assert upward == []


def test_no_two_modules_import_each_other_round_a_loop():
    graph = {name: set() for name, _ in modules() if name}

    def resolved(target: str) -> str | None:       # the most specific module named (a name inside it: it)
        while target and target not in graph:
            target = target.rpartition(".")[0]
        return target or None

    for name, path in modules():
        for target in filter(None, map(resolved, imports_of(name, path) if name else ())):
            if target != name and not name.startswith(target + "."):   # (its own package's __init__: no tie)
                graph[name].add(target)
    state, circles = {}, []

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []
