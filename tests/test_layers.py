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
    "wtforms",  # Flask-WTF's fields and validators (views._forms)
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


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:``: imports for annotations only, never run."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def _imports(path: Path) -> set[str]:
    """Absolute names of everything a module imports at run time (relative imports resolved; imports under
    ``if TYPE_CHECKING:`` name types for annotations and are left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    names: set[str] = set()
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
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
    if parts[1].startswith("demo_"):  # a region's demo people (demo_qingdao.py): part of the demo layer
        return "demo"
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
    # Views read and write through services: no models, no sqlalchemy (the storage backends below excepted).
    # redis: the server-side session store (views._sessions) when REDIS_URL is set
    "views": {"stdlib", "domain", "services", "payments", "views", "redis"} | WEB_LIBRARIES,
    # The top-level modules. config: settings from the environment, checked by domain rules.
    "config": {"stdlib", "domain"},
    # demo: people and their data, written through services and models; the simulated bank holds their accounts.
    # demo_qingdao.py (a region's people) is part of this layer, so demo and it may import each other.
    "demo": {"stdlib", "domain", "models", "db", "services", "payments", "sim", "sqlalchemy", "demo"} | PURE_LIBRARIES,
    # jobs: huey tasks that build an app (create_app) and call services.
    "jobs": {"stdlib", "domain", "services", "payments", "config", "jobqueue", "create_app", "flask", "huey"},
    # cli: flask commands over services and the demo; never a view.
    "cli": {"stdlib", "domain", "services", "demo", "jobs", "migrate", "flask", "click", "segno"},
    # public_pages: WSGI middleware in front of Flask serving the anonymous public pages from bytes; it reads the
    # pre-session cookie exactly as the session interface does (views._sessions), so it sits beside the views.
    "public_pages": {"stdlib", "domain", "views", "db", "flask", "werkzeug", "itsdangerous"},
    # the app factory wires every layer together
    "app": {
        "stdlib",
        "domain",
        "db",
        "services",
        "payments",
        "views",
        "cli",
        "config",
        "jobs",
        "health",
        "static_files",
        "public_pages",
        "itsdangerous",
    }
    | WEB_LIBRARIES,
}

# The storage backends Flask's extensions are given (the session interface and the attempt counters): they are
# tables, not pages, so they use SQLAlchemy directly. No other view may.
VIEW_STORAGE = {"_sessions.py": {"models", "sqlalchemy"}, "_attempts.py": {"sqlalchemy"}}


def _files(layer: str) -> list[Path]:
    if layer == "sim":
        return sorted((WEBAPP / "payments" / "sim").glob("*.py"))
    if layer == "payments":
        return sorted(p for p in (WEBAPP / "payments").glob("*.py"))
    if layer == "demo":
        return sorted(WEBAPP.glob("demo*.py"))  # demo.py and each region's demo people (demo_qingdao.py)
    if layer in ("models", "db", "config", "jobs", "cli", "public_pages"):
        return [WEBAPP / f"{layer}.py"]
    if layer == "app":
        return [WEBAPP / "__init__.py"]
    return sorted((WEBAPP / layer).glob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_layer_reaches_up(layer: str) -> None:
    wrong = []
    for path in _files(layer):
        allowed = ALLOWED[layer] | (VIEW_STORAGE.get(path.name, set()) if layer == "views" else set())
        for name in _imports(path):
            if _layer(name) not in allowed:
                wrong.append(f"{path.relative_to(WEBAPP.parent)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_a_view_never_imports_another_view() -> None:
    shared = {
        "webapp.views._web",
        "webapp.views._checkout",
        "webapp.views._limits",
        "webapp.views._sessions",
        "webapp.views._attempts",
        "webapp.views._forms",
        "webapp.views._qd_finding",
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


def test_the_top_level_modules_are_checked() -> None:
    """Every module at the top of ``webapp/`` that the README's map names as the app's own is in a layer."""
    for name in ("__init__", "cli", "jobs", "demo", "demo_qingdao", "config", "public_pages"):
        layer = "app" if name == "__init__" else "demo" if name.startswith("demo_") else name
        assert WEBAPP / f"{name}.py" in _files(layer), name


def test_no_view_imports_models_or_sqlalchemy() -> None:
    """The README: views parse, call a service, render. Only the two storage backends (``VIEW_STORAGE``)
    touch tables."""
    wrong = []
    for path in _files("views"):
        for name in _imports(path):
            if _layer(name) in ("models", "sqlalchemy") and _layer(name) not in VIEW_STORAGE.get(path.name, set()):
                wrong.append(f"{path.name} imports {name}")
    assert not wrong, "\n".join(wrong)


def _scheme_codes() -> set[str]:
    from webapp.domain.schemes import SchemeCode

    return {c.value for c in SchemeCode}


# Where a scheme code written out is data, not a branch: none today. An entry names the file and says why.
SCHEME_LITERAL_ALLOWED: dict[str, str] = {}


def _scheme_literals(path: Path, codes: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{path.relative_to(WEBAPP.parent)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in codes and id(node) not in docstrings
    ]


def test_no_literal_scheme_code_outside_the_registry() -> None:
    """A scheme is a plugin (issue 18): behaviour comes from ``domain.schemes`` and ``services.schemes``, so
    no module of webapp/ writes "rm", "rp" or "flex" as a string to branch on or to look up by."""
    codes = _scheme_codes()
    wrong = []
    for path in sorted(WEBAPP.rglob("*.py")):
        rel = str(path.relative_to(WEBAPP.parent))
        if rel == "webapp/domain/schemes.py" or rel in SCHEME_LITERAL_ALLOWED:
            continue
        wrong += _scheme_literals(path, codes)
    assert not wrong, "\n".join(wrong)


def test_the_scheme_literal_check_sees_a_literal(tmp_path: Path) -> None:
    """The check itself works: a comparison with "rm" and a dict keyed by "flex" are caught, a docstring and an
    f-string's text are not."""
    bad = tmp_path / "webapp" / "views" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        '"""rm"""\nLABELS = {"flex": "x"}\n\ndef f(kind):\n    return kind == "rm" or f"rm:{kind}"\n',
        encoding="utf-8",
    )
    global WEBAPP
    saved, WEBAPP = WEBAPP, tmp_path / "webapp"
    try:
        found = _scheme_literals(bad, _scheme_codes())
    finally:
        WEBAPP = saved
    assert [line.rsplit(": ", 1)[1] for line in found] == ["'flex'", "'rm'"]
