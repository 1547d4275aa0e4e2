"""The floors of app/ (docs/architecture.md): data flows down, no import cycle between packages.

Every `import` in app/ (at module level or inside a function) is an edge between the floors of
the two modules: tables (`*/models.py`, collected by app/models.py) are ground level with
config, db, errors and the audit log; each domain package is a node; its HTTP modules (routers,
dependencies, the admin page) are a node of their own above every package's services.
"""

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
GROUND = {"config", "db", "errors", "audit", "tables"}
HTTP_MODULES = {"router", "dependencies", "web"}
TOP = {"main", "openapi", "cli", "evaluation"}  # the application itself and its tools


def _module(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return "app"
    if parts[-1] == "models":
        return "tables"
    if len(parts) > 1 and parts[-1] in HTTP_MODULES:
        return parts[0] + ".http"
    return parts[0]


def imports() -> dict[str, set[str]]:
    """module → the app modules it imports."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in APP.rglob("*.py"):
        module = _module(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "app":
                    found[module] |= {f"app.{alias.name}" for alias in node.names}
                elif node.module.startswith("app."):
                    # `from app.x import y` may name a module y of package app.x.
                    for alias in node.names:
                        target = f"{node.module}.{alias.name}"
                        exists = (APP.parent / target.replace(".", "/")).with_suffix(".py")
                        found[module].add(target if exists.exists() else node.module)
            elif isinstance(node, ast.Import):
                found[module] |= {a.name for a in node.names if a.name.startswith("app.")}
    return found


def floor_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in imports().items():
        for target in targets:
            if floor(target) != floor(module):
                graph[floor(module)].add(floor(target))
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_checker_finds_a_cycle_and_reads_function_level_imports() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}}) is None
    # cli imports the evaluation tool inside a function: such imports count too.
    assert "app.evaluation" in imports()["app.cli"]
    assert floor("app.signatures.models") == "tables"
    assert floor("app.letters.dependencies") == "letters.http"
    assert floor("app.resolution.registry") == "resolution"


def test_no_import_cycle_between_packages() -> None:
    assert cycle(floor_graph()) is None


def test_tables_stand_on_the_ground() -> None:
    assert floor_graph()["tables"] <= GROUND


def test_services_never_import_http_modules() -> None:
    graph = floor_graph()
    for node, targets in graph.items():
        if not node.endswith(".http") and node not in TOP:
            assert not {t for t in targets if t.endswith(".http")}, node


def test_nothing_below_admin_imports_it() -> None:
    for module, targets in imports().items():
        # The tables' collector (app/models.py) lists every table, merges' too.
        if floor(module) in {"admin", "admin.http", "tables"} | TOP:
            continue
        assert not {t for t in targets if t.startswith("app.admin")}, module


def test_identity_sits_below_the_domains_that_use_it() -> None:
    below = _reachable(floor_graph(), "resolution")
    for user in ("organisations", "signatures", "imports", "letters", "embed", "admin"):
        assert user not in below, user


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen = {start}
    frontier = [start]
    while frontier:
        for nxt in graph.get(frontier.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen
