"""Every vendor fact the code cites can be looked up in the repository.

Comments, docstrings and READMEs cite facts as `docs/vendors/clio.md §3.16`,
`docs/vendors/clio.md §4 item 2` or `docs/billing-domain.md §1-§2, §5`. The cited file must exist
and hold a heading with each cited number (`## 4. ...`, `### 3.16 ...`), and for "item M" a
numbered item M in that section; `§11.3` may also name item 3 of §11. A bare `§n` in a vendor's
own folder (connectors/<vendor>/, its sandbox folder, tests/connectors/<vendor>/) cites that
vendor's file, and a bare `§n` in a docs file cites that file.

Nothing cites the team's research notes outside the repository (../shared/reference/clio.md and
the rest, or their short names clio.md, pp.md, nd.md, ...): a maintainer cannot follow them. The
vendors' machine-readable API descriptions under ../shared/reference/specs/ are data that tests
read, not citations, and stay allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED_DIRS = ("core", "connectors", "sandboxes", "tests", "bench", "config", "docs")
SCANNED_ROOT_FILES = ("README.md",)
VENDORS = tuple(sorted(p.stem for p in (ROOT / "docs" / "vendors").glob("*.md")))
THIS_FILE = Path(__file__).resolve()

# Every vendor doc named must exist, cited with a § or not ("docs/vendors/lawpay.md (cited as §n)").
VENDOR_DOC_PATH = re.compile(r"docs/vendors/[a-z0-9\-]+\.md")
# A cited path directly followed by its first section: "docs/vendors/clio.md §3.1".
CITATION = re.compile(r"(docs/(?:vendors/)?[a-z0-9\-]+\.md)`?\s+(?=§)")
FIRST_REF = re.compile(r"§§?(\d+(?:\.\d+)*)(?:\s+item\s+(?:#\s*)?(\d+))?")
# Further numbers of the same citation: ", §5", "/§4 item 8", " and §3", "-§2", "-3.11" (a range).
NEXT_REF = re.compile(
    r"(?:\s*(?:,|/|;|\band\b|\bor\b)\s*§§?|\s*[-\u2013]\s*§{0,2})(\d+(?:\.\d+)*)(?:\s+item\s+(?:#\s*)?(\d+))?"
)
# The research notes' names (and the short names clio.md, pp.md, nd.md used for them).
OLD_NAME = re.compile(
    r"(?<![\w/.\-])(?:clio|pp|nd|lawpay|microsoft365|billing-domain|reliability|practicepanther|netdocuments)\.md\b"
)
OLD_RELIABILITY = re.compile(r"(?<![\w/.\-])reliability §")
SHARED_NOTES = re.compile(r"shared/reference/(?!specs/)")
HEADING = re.compile(r"#{1,6}\s+(\d+(?:\.\d+)*)\.?\s")
ITEM = re.compile(r" {0,3}(\d+)\.\s")


@dataclass
class Doc:
    """The numbered sections of one docs file and the numbered items in each."""

    items: dict[str, set[int]] = field(default_factory=dict)

    def has(self, section: str, item: int | None) -> bool:
        if section in self.items:
            return item is None or item in self.items[section]
        parent, _, last = section.rpartition(".")
        return item is None and parent in self.items and int(last) in self.items[parent]


def read_doc(path: Path) -> Doc:
    doc, current, fenced = Doc(), None, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = HEADING.match(line)
        if heading is not None:
            current = heading.group(1)
            doc.items.setdefault(current, set())
            continue
        item = ITEM.match(line)
        if item is not None and current is not None:
            doc.items[current].add(int(item.group(1)))
    return doc


def scanned_files() -> Iterator[Path]:
    for name in SCANNED_ROOT_FILES:
        if (ROOT / name).is_file():
            yield ROOT / name
    for directory in SCANNED_DIRS:
        for path in sorted((ROOT / directory).rglob("*")):
            parts = path.relative_to(ROOT).parts
            if (
                path.suffix in (".py", ".md")
                and path.is_file()
                and path.resolve() != THIS_FILE
                and not any(part.startswith(".") or part == "__pycache__" for part in parts)
            ):
                yield path


def home_doc(relative: Path) -> str | None:
    """The docs file a bare `§n` in this file cites, if any."""
    parts = relative.parts
    if parts[0] == "docs":
        return relative.as_posix()
    for index, part in enumerate(parts[:-1]):
        if part in VENDORS and index > 0 and parts[index - 1] in ("connectors", "billsync_sandboxes"):
            return f"docs/vendors/{part}.md"
    if len(parts) > 3 and parts[:2] == ("tests", "connectors") and parts[2] in VENDORS:
        return f"docs/vendors/{parts[2]}.md"
    return None


def chain(text: str, start: int) -> tuple[list[tuple[str, int | None]], int]:
    """The (section, item) references of the citation whose first § is at `start`, and its end."""
    first = FIRST_REF.match(text, start)
    if first is None:  # "§n", a placeholder
        return [], start + 1
    refs = [(first.group(1), int(first.group(2)) if first.group(2) else None)]
    end = first.end()
    while (more := NEXT_REF.match(text, end)) is not None:
        refs.append((more.group(1), int(more.group(2)) if more.group(2) else None))
        end = more.end()
    return refs, end


def word_before(text: str, position: int) -> bool:
    """True for "reference §2" or "RFC 6749 §4.1": a § that belongs to some other name."""
    before = text[max(0, position - 2) : position]
    return len(before) == 2 and before[1] == " " and (before[0].isalnum() or before[0] in "._-")


@dataclass
class Findings:
    citations: int = 0
    problems: list[str] = field(default_factory=list)


def check_all() -> Findings:
    docs: dict[str, Doc | None] = {}

    def doc(name: str) -> Doc | None:
        if name not in docs:
            docs[name] = read_doc(ROOT / name) if (ROOT / name).is_file() else None
        return docs[name]

    findings = Findings()
    for path in scanned_files():
        relative = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8")

        def where(position: int, relative: Path = relative, text: str = text) -> str:
            return f"{relative}:{text.count(chr(10), 0, position) + 1}"

        for match in OLD_NAME.finditer(text):
            findings.problems.append(f"{where(match.start())}: cites {match.group(0)} outside the repository")
        for match in (*OLD_RELIABILITY.finditer(text), *SHARED_NOTES.finditer(text)):
            findings.problems.append(f"{where(match.start())}: cites the research notes ({match.group(0)!r})")
        named = [(m.start(), m.group(0)) for m in VENDOR_DOC_PATH.finditer(text)]
        named += [(m.start(), m.group(1)) for m in CITATION.finditer(text)]
        for position, name in named:
            if doc(name) is None:
                findings.problems.append(f"{where(position)}: {name} does not exist")

        covered: list[tuple[int, int]] = []
        cited: list[tuple[int, str, list[tuple[str, int | None]]]] = []
        for match in CITATION.finditer(text):
            refs, end = chain(text, match.end())
            covered.append((match.end(), end))
            cited.append((match.start(), match.group(1), refs))
        home = home_doc(relative)
        if home is not None:
            for match in re.finditer("§", text):
                position = match.start()
                inside = any(low <= position < high for low, high in covered)
                if inside or word_before(text, position) or text[position - 1 : position] == "§":
                    continue
                refs, end = chain(text, position)
                covered.append((position, end))
                cited.append((position, home, refs))

        for position, name, refs in cited:
            target = doc(name)
            for section, item in refs:
                findings.citations += 1
                if target is None:
                    continue  # reported above as a missing file
                if not target.has(section, item):
                    what = f"§{section}" + (f" item {item}" if item is not None else "")
                    findings.problems.append(f"{where(position)}: {name} has no {what}")
    return findings


def test_every_cited_section_exists_in_the_repository() -> None:
    findings = check_all()
    assert findings.citations > 0, "no citations found: the scan is looking in the wrong place"
    assert not findings.problems, "\n".join(findings.problems)


@pytest.mark.parametrize(
    ("section", "item", "expected"),
    [("3.16", None, True), ("4", 2, True), ("4", 99, False), ("9.9", None, False), ("4.2", None, True)],
)
def test_the_section_lookup_reads_headings_and_items(section: str, item: int | None, expected: bool) -> None:
    doc = Doc(items={"3": set(), "3.16": set(), "4": {1, 2}})
    assert doc.has(section, item) is expected


def test_a_citation_chain_takes_every_number_it_names() -> None:
    text = "(see §1-§2, §5 and §3.8-3.11/§4 item\n    # 10; not 2026)"
    refs, _ = chain(text, text.index("§"))
    assert refs == [("1", None), ("2", None), ("5", None), ("3.8", None), ("3.11", None), ("4", 10)]
