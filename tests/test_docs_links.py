"""Every relative link in README.md and docs/*.md points to a file that exists, and every
`#anchor` to a heading of that file (GitHub's anchors: lower case, punctuation dropped, spaces
to hyphens, `-1`, `-2` … for repeated headings). Runs with the suite, so in `.ci/run` too."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str):
    """(number, line) of the lines outside fenced code blocks, inline code blanked out."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, re.sub(r"`[^`]*`", lambda m: " " * len(m.group()), line)


def slug(heading: str) -> str:
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            out.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return out


def links(path: Path):
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for m in list(LINK.finditer(line)) + list(IMAGE.finditer(line)):
            yield number, m.group(1)


def problems(path: Path) -> list[str]:
    out = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: … are not checked here
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not dest.exists():
            out.append(f"{where}: no such file")
            continue
        if anchor and dest.suffix == ".md" and unquote(anchor) not in anchors(dest):
            out.append(f"{where}: no heading with that anchor in {dest.relative_to(ROOT)}")
    return out


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file_and_anchor(page):
    assert problems(page) == []


def test_the_checker_finds_broken_links_and_anchors(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    (tmp_path / "a.md").write_text(
        "# Title\n\n## Explanation: how it's chosen (§7)\n\n## Twice\n\n## Twice\n\n"
        "[ok](b.md) [ok](#title) [ok](#explanation-how-its-chosen-7) [ok](#twice-1)\n"
        "[bad](missing.md) [bad](#nowhere) [bad](b.md#nope) [web](https://example.com/x)\n"
        "```\n[in code](not-checked.md)\n```\n`[inline](not-checked.md)`\n",
        encoding="utf-8",
    )
    (tmp_path / "b.md").write_text("# B\n", encoding="utf-8")
    found = problems(tmp_path / "a.md")
    assert [p.split(": ", 1)[1] for p in found] == [
        "missing.md: no such file",
        "#nowhere: no heading with that anchor in a.md",
        "b.md#nope: no heading with that anchor in b.md",
    ], found


def test_the_readme_and_the_new_guides_are_checked():
    names = {p.name for p in pages()}
    assert {"README.md", "tutorial.md", "how-to.md", "security.md", "scale.md", "benchmarks.md", "cli.md"} <= names
