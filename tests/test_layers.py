"""The layers stay apart: core/ never imports the UI; widgets/ never reach the store, HTTP or the services."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "core": {"textual", "rich", "app", "widgets"},
    "widgets": {"httpx", "aiosqlite", "sqlite3", "app", "core.store", "core.cloudapi", "core.inbox",
                "core.ingest", "core.outbox", "core.server", "core.simulator", "core.config", "starlette", "uvicorn"},
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violations() -> list[str]:
    found = []
    for layer, banned in FORBIDDEN.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            for name in sorted(imports_of(path)):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_layers_import_only_downwards():
    assert violations() == []


def test_the_guard_itself_catches_a_bad_import(tmp_path, monkeypatch):
    bad = ROOT / "widgets" / "_layer_probe.py"
    bad.write_text("import httpx\n", encoding="utf-8")
    try:
        assert "widgets/_layer_probe.py imports httpx" in violations()
    finally:
        bad.unlink()
