"""README's architecture map is the tree (issue 18 item 7): every module of webapp/ has one line there, with what it
does, and the map names no module that does not exist. ``python -m tests.test_readme_map`` prints the map for the
current tree, keeping the README's descriptions (a new module gets an empty one, which this test refuses)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COLUMN = 28  # where descriptions start
LINE = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+/?)(?:\s+(?P<text>\S.*))?$")


def modules() -> list[str]:
    """Every Python module under webapp/, as a path relative to it."""
    return sorted(str(p.relative_to(ROOT / "webapp")) for p in (ROOT / "webapp").rglob("*.py"))


def _block(readme: str) -> list[str]:
    """The lines of the map: from ``webapp/`` in the Architecture section's code block to the next top-level line."""
    section = readme.split("\n## Architecture", 1)[1]
    code = section.split("```", 2)[1].splitlines()
    start = code.index("webapp/")
    lines = []
    for line in code[start + 1 :]:
        if line and not line.startswith(" "):
            break
        lines.append(line)
    return lines


def parse(readme: str) -> list[tuple[str, str]]:
    """(module path, description) for every module line of the map, in order; directories nest by indent."""
    out: list[tuple[str, str]] = []
    folders: list[tuple[int, str]] = []
    for line in _block(readme):
        m = LINE.match(line)
        if not m:
            continue
        indent, name, text = len(m["indent"]), m["name"], (m["text"] or "").strip()
        folders = [(i, f) for i, f in folders if i < indent]
        if name.endswith("/"):
            folders.append((indent, name))
        elif name.endswith(".py"):
            out.append(("".join(f for _, f in folders) + name, text))
    return out


def render(descriptions: dict[str, str]) -> str:
    """The map for the current tree: files first, then folders, each level indented by two."""
    lines = ["webapp/"]

    def level(prefix: str, indent: int) -> None:
        here = [m for m in modules() if m.startswith(prefix) and "/" not in m[len(prefix) :]]
        here.sort(key=lambda m: (m != prefix + "__init__.py", m))
        for m in here:
            name = " " * indent + m[len(prefix) :]
            lines.append(f"{name:<{COLUMN}}{descriptions.get(m, '')}".rstrip())
        folders = sorted({m[len(prefix) :].split("/")[0] for m in modules() if m.startswith(prefix)} - {""})
        for folder in (f for f in folders if not f.endswith(".py")):
            lines.append(" " * indent + folder + "/")
            level(f"{prefix}{folder}/", indent + 2)

    level("", 2)
    return "\n".join(lines)


def test_the_readme_map_lists_every_module_once_and_nothing_else():
    listed = parse(README.read_text(encoding="utf-8"))
    names = [m for m, _ in listed]
    missing = sorted(set(modules()) - set(names))
    extra = sorted(set(names) - set(modules()))
    twice = sorted({n for n in names if names.count(n) > 1})
    blank = [m for m, text in listed if not text]
    assert not (missing or extra or twice or blank), (
        f"README's map — missing: {missing}, no such module: {extra}, twice: {twice}, no description: {blank}\n"
        "(python -m tests.test_readme_map prints the map for the tree)"
    )


def test_the_map_reader_sees_a_missing_and_an_extra_module():
    readme = README.read_text(encoding="utf-8")
    listed = dict(parse(readme))
    broken = readme.replace("\n    pay.py", "\n    paid.py", 1)
    names = {m for m, _ in parse(broken)}
    assert "views/pay.py" in listed and "views/pay.py" not in names and "views/paid.py" in names
    assert "payments/sim/store.py" in listed  # nested folders resolve


def test_the_map_is_the_one_render_prints():
    """The map's layout is the generated one, so regenerating it gives no diff but the new lines."""
    readme = README.read_text(encoding="utf-8")
    assert "\n".join(["webapp/", *_block(readme)]).rstrip() == render(dict(parse(readme)))


if __name__ == "__main__":
    sys.stdout.write(render(dict(parse(README.read_text(encoding="utf-8")))) + "\n")
