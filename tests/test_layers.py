"""The package's layers import in one direction (cli -> api -> core -> engine -> records), with no circle and no
private name taken from another module. Read from the source with ``ast``: every import counts, including those
inside functions (lazy imports are still dependencies)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tokcost"

# what each layer may import besides itself; errors, text and version are leaves every layer may use
LEAVES = {"errors", "text", "version"}
ALLOWED = {
    "records": set(),
    "io": {"records"},
    "engine": {"records"},
    "core": {"engine", "io", "records"},
    "render": {"records"},
    "bench": {"engine", "io", "records"},
    "api": {"core", "engine", "io", "records"},
    "cli": {"api", "bench", "core", "io", "records", "render"},
    "__init__": {"api"},
    "__main__": {"cli"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported tokcost module, names taken from it, line) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "tokcost"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            if base.split(".")[0] != "tokcost":
                continue
            names = [a.name for a in node.names]
            # `from tokcost.core import charts` imports the module tokcost.core.charts
            submodules = [n for n in names if (PACKAGE.parent / base.replace(".", "/") / f"{n}.py").exists()]
            out += [(f"{base}.{n}", [], node.lineno) for n in submodules]
            rest = [n for n in names if n not in submodules]
            if rest:
                out.append((base, rest, node.lineno))
    return out


FILES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(f): imports(f) for f in FILES}


def test_layers_import_in_one_direction():
    wrong = []
    for module, deps in GRAPH.items():
        mine = layer(module)
        for dep, _, line in deps:
            theirs = layer(dep)
            if theirs in (mine, *LEAVES) or theirs in ALLOWED.get(mine, set()):
                continue
            if mine in LEAVES and theirs in LEAVES:
                continue
            wrong.append(f"{module}:{line} ({mine}) imports {dep} ({theirs})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_leaves_import_nothing_but_leaves():
    for leaf in LEAVES:
        deps = {layer(d) for d, _, _ in GRAPH[f"tokcost.{leaf}"]}
        assert deps <= LEAVES, (leaf, deps)


def test_no_import_cycles():
    edges = {m: {d for d, _, _ in deps if d in GRAPH} - {m} for m, deps in GRAPH.items()}
    # a package's __init__ is imported with each of its modules; it only re-exports lazily (tokcost/__init__)
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d) :] + [d]))
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_names_imported_across_modules():
    private = [
        f"{module}:{line} imports {name} from {dep}"
        for module, deps in GRAPH.items()
        for dep, names, line in deps
        for name in names
        if name.startswith("_") and not name.startswith("__") and dep != module
    ]
    assert not private, "\n".join(private)


def test_the_graph_sees_every_layer():
    """Guards the test itself: a parsing slip that found no imports would pass the checks above vacuously."""
    seen = {layer(d) for deps in GRAPH.values() for d, _, _ in deps}
    assert {"records", "io", "engine", "core", "render", "api", "cli"} <= seen
    assert any(d == "tokcost.core.charts" for d, _, _ in GRAPH["tokcost.core.plan"])
