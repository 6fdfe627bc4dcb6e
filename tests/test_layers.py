"""carecall's imports run downhill only: the layers of `docs/architecture.md`, read from the
source with `ast` (every import counts, those under `TYPE_CHECKING` and inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "carecall"

LAYERS: list[tuple[str, ...]] = [
    # Lowest first, as in docs/architecture.md. A module may import its own package and the
    # packages of the layers below its own; the packages of one layer may import each other.
    ("settings",),
    ("core",),
    ("persistence", "migrations"),
    ("telephony",),
    ("observability",),
    ("wellbeing",),
    ("processors",),
    ("pipeline",),
    ("bot",),
    ("calls",),
    ("checkins",),
    ("app_state", "auth", "api", "web"),
    ("server", "cli"),
]
LAYER_OF = {part: index for index, layer in enumerate(LAYERS) for part in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(module: str, path: Path) -> set[str]:
    """The carecall modules (dotted) that `module` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".")
                if path.name != "__init__.py":
                    package.pop()
                base = ".".join(package[: len(package) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            found.add(source)
            # `from carecall import calls`: the names are modules themselves.
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("carecall.")}


def _part(module: str) -> str:
    """`carecall.calls.service` → `calls`: the package or top-level module it belongs to."""
    return module.split(".")[1]


def _is_module(name: str) -> bool:
    base = PACKAGE_DIR.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


SOURCES = {
    _module_name(path): path
    for path in sorted(PACKAGE_DIR.rglob("*.py"))
    if "node_modules" not in path.parts and _module_name(path) != "carecall"
}


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(module) for module in SOURCES}
    missing = sorted(parts - set(LAYER_OF))
    assert missing == [], (
        f"{missing} belong to no layer: add them to LAYERS here and to docs/architecture.md"
    )
    assert sorted(set(LAYER_OF) - parts) == [], "LAYERS names a part that no longer exists"


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_import_runs_uphill(module: str) -> None:
    own = LAYER_OF[_part(module)]
    uphill = sorted(
        name
        for name in _imported(module, SOURCES[module])
        if _is_module(name) and LAYER_OF.get(_part(name), own) > own
    )
    assert uphill == [], (
        f"{module} (layer {LAYERS[own]}) imports from higher layers: {uphill}. "
        "Move what both need down a layer (the kernel, carecall/core, if everything needs it)."
    )


def test_the_kernel_imports_nothing_of_carecall_but_settings() -> None:
    kernel = {m: p for m, p in SOURCES.items() if _part(m) == "core"}
    assert kernel, "carecall/core is gone"
    imports = {
        name
        for module, path in kernel.items()
        for name in _imported(module, path)
        if _is_module(name) and _part(name) != "core"
    }
    assert imports <= {"carecall.settings"}, sorted(imports)


def test_settings_import_nothing_of_carecall() -> None:
    path = SOURCES["carecall.settings"]
    assert _imported("carecall.settings", path) == set()
