"""The layers stay as the README draws them: views → services → models, domain, payments; domain → the
standard library. This test reads every module's imports and fails when a layer reaches up (or sideways,
for one view into another)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

WEBAPP = Path(__file__).resolve().parent.parent / "webapp"

# Third-party packages a layer may use besides the standard library.
PURE_LIBRARIES = {"chinese_calendar", "stdnum", "icalendar"}  # data and format libraries: no I/O, no framework
WEB_LIBRARIES = {
    "flask",
    "flask_wtf",
    "flask_htmx",
    "flask_limiter",
    "limits",  # Flask-Limiter's own storage: refused notifications, the attempt counters (views._attempts)
    "itsdangerous",  # Flask's signing, for the pre-session cookie (views._sessions)
    "jinja2",
    "jinja2_fragments",
    "werkzeug",
    "markupsafe",
    "segno",
    "captcha",
}
# Drawing documents (the certificate PDF and its page images): no database, no Flask.
DOCUMENT_LIBRARIES = {"reportlab", "pypdf", "segno", "pypdfium2"}


def _module(path: Path) -> str:
    rel = path.relative_to(WEBAPP.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of everything a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names |= {f"{target}.{a.name}" for a in node.names} if not node.module else {target}
            else:
                names.add(node.module or "")
    return names


def _layer(name: str) -> str:
    parts = name.split(".")
    if parts[0] != "webapp":
        return "stdlib" if parts[0] in sys.stdlib_module_names or parts[0] == "__future__" else parts[0]
    if len(parts) == 1:
        return "app"
    if parts[1] == "payments" and len(parts) > 2 and parts[2] == "sim":
        return "sim"
    return parts[1]


ALLOWED: dict[str, set[str]] = {
    "domain": {"stdlib", "domain"} | PURE_LIBRARIES,
    "models": {"stdlib", "domain", "db", "sqlalchemy"},
    "db": {"stdlib", "sqlalchemy"},
    "payments": {"stdlib", "domain", "models", "db", "payments", "sqlalchemy", "cryptography", "requests", "werkzeug"},
    "sim": {"stdlib", "domain", "payments", "sim", "config", "flask", "werkzeug", "cryptography", "requests"},
    "services": {"stdlib", "domain", "models", "db", "payments", "services", "documents", "sqlalchemy"}
    | PURE_LIBRARIES,
    "documents": {"stdlib", "domain", "documents"} | DOCUMENT_LIBRARIES,
    # redis: the server-side session store (views._sessions) when REDIS_URL is set
    "views": {"stdlib", "domain", "models", "services", "payments", "views", "sqlalchemy", "redis"} | WEB_LIBRARIES,
}


def _files(layer: str) -> list[Path]:
    if layer == "sim":
        return sorted((WEBAPP / "payments" / "sim").glob("*.py"))
    if layer == "payments":
        return sorted(p for p in (WEBAPP / "payments").glob("*.py"))
    if layer in ("models", "db"):
        return [WEBAPP / f"{layer}.py"]
    return sorted((WEBAPP / layer).glob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_layer_reaches_up(layer: str) -> None:
    wrong = []
    for path in _files(layer):
        for name in _imports(path):
            if _layer(name) not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(WEBAPP.parent)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_a_view_never_imports_another_view() -> None:
    shared = {
        "webapp.views._web",
        "webapp.views._checkout",
        "webapp.views._limits",
        "webapp.views._sessions",
        "webapp.views._attempts",
    }
    wrong = []
    for path in _files("views"):
        if path.name.startswith("_"):
            continue
        for name in _imports(path):
            if name.startswith("webapp.views.") and not any(name.startswith(s) for s in shared):
                wrong.append(f"{path.name} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_layer_test_sees_a_violation(tmp_path: Path) -> None:
    """The check itself works: a domain module importing Flask or a service is caught."""
    bad = tmp_path / "webapp" / "domain" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from flask import g\nfrom ..services import checkout\n", encoding="utf-8")
    names = {n for n in _imports_at(bad, tmp_path)}
    assert {_layer(n) for n in names} - ALLOWED["domain"] == {"flask", "services"}


def _imports_at(path: Path, root: Path) -> set[str]:
    global WEBAPP
    saved, WEBAPP = WEBAPP, root / "webapp"
    try:
        return _imports(path)
    finally:
        WEBAPP = saved
