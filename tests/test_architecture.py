"""The map in docs/architecture.md holds: every module is on it, imports point down its
layers, and the pure layers touch neither the clock, the environment nor files."""

import ast
import re
from pathlib import Path

import pytest

from conftest import ROOT

SRC = ROOT / "src"
PURE = 2  # layers 0, 1 and 2
# What a pure module never imports: I/O, the clock, the terminal, the Stripe SDK.
IMPURE_IMPORTS = {"os", "sys", "time", "pathlib", "shutil", "subprocess", "socket"}
IMPURE_IMPORTS |= {"typer", "rich", "stripe", "tempfile", "random", "threading"}
IMPURE_CALLS = {"open", "now", "today", "utcnow", "time", "monotonic", "getenv"}


def layers() -> dict[str, int]:
    table = (ROOT / "docs" / "architecture.md").read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"^\| `([\w.]+)` \| (\d) \|", table, re.M)}


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """The ffkpi modules `path` imports (at any depth of the file)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def owner(module: str, known: dict[str, int]) -> str | None:
    """The module on the map that `module` is, or lies in."""
    while module and module not in known:
        module = module.rpartition(".")[0]
    return module or None


def test_every_module_is_on_the_map_and_nothing_else() -> None:
    assert sorted(modules()) == sorted(layers())


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_point_down(name: str) -> None:
    known = layers()
    upward = []
    for imported in imports(modules()[name], name):
        if not imported.startswith("ffkpi"):
            continue
        target = owner(imported, known)
        if target is not None and known[target] > known[name]:
            upward.append(f"{imported} (layer {known[target]})")
    assert upward == [], f"{name} (layer {known[name]}) imports upward"


@pytest.mark.parametrize("name", sorted(n for n, layer in layers().items() if layer <= PURE))
def test_pure_modules_do_no_io(name: str) -> None:
    tree = ast.parse(modules()[name].read_text())
    touched = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            touched |= {a.name.split(".")[0] for a in node.names} & IMPURE_IMPORTS
        elif isinstance(node, ast.ImportFrom) and not node.level:
            touched |= {(node.module or "").split(".")[0]} & IMPURE_IMPORTS
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            touched |= {f"{called}()"} if called in IMPURE_CALLS else set()
    assert touched == set(), f"{name} is pure but uses {sorted(touched)}"


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The import reader sees what it must, so the tests above can fail."""
    module = tmp_path / "m.py"
    module.write_text("from ffkpi.render import tables\nimport ffkpi.cli.options\n")
    assert {"ffkpi.render.tables", "ffkpi.cli.options"} <= imports(module, "ffkpi.engine.m")


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
)
def test_every_link_between_the_pages_leads_to_a_file(page: str) -> None:
    path = ROOT / page
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text())
    missing = [t for t in targets if not (path.parent / t).exists()]
    assert missing == []


def test_the_api_paths_are_written_in_the_endpoint_table_alone() -> None:
    writing = sorted(
        name for name, path in modules().items() if re.search(r"[\"']/v1/", path.read_text())
    )
    assert writing == ["ffkpi.stripe.lists"]


def test_src_holds_few_loose_modules() -> None:
    """Use cases live in their package; what stays at the top are the edges."""
    loose = sorted(p.name for p in (SRC / "ffkpi").glob("*.py"))
    assert len(loose) <= 8, loose
