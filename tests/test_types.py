"""The type checker's bargain (issue 18 item 6): ``make lint`` runs mypy on webapp/ ([tool.mypy] in pyproject.toml),
and every ``# type: ignore`` in webapp/ names its error code and says why, on the same line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
EXPLAINED = re.compile(r"^\[[a-z-]+(,\s*[a-z-]+)*\]\s+#\s*\S")


def unexplained(text: str) -> list[int]:
    """Lines whose ``type: ignore`` has no error code or no reason after it."""
    return [
        n
        for n, line in enumerate(text.splitlines(), 1)
        if (m := IGNORE.search(line)) and not EXPLAINED.match(m["rest"])
    ]


def test_every_type_ignore_names_its_code_and_says_why():
    wrong = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "webapp").rglob("*.py"))
        for n in unexplained(path.read_text(encoding="utf-8"))
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_itself_catches_a_bare_ignore():
    assert unexplained("x = 1  # type: ignore\ny = 2  # type: ignore[arg-type]\n") == [1, 2]
    assert unexplained("z = 3  # type: ignore[arg-type]  # the library's stub is wrong\n") == []


def test_make_lint_runs_mypy_at_the_stated_strictness():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["files"] == ["webapp"] and config["check_untyped_defs"] and config["warn_unused_ignores"]
    strict = [o for o in config["overrides"] if o.get("disallow_untyped_defs")]
    assert strict and set(strict[0]["module"]) == {"webapp.domain.*", "webapp.payments.*"}
    lint = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/mypy" in lint
