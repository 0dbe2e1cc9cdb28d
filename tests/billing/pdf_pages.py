"""Read a pre-bill PDF as its reader would: poppler's pdftoppm draws every page, pypdf reads the text.

pdftoppm is Debian's poppler-utils. Without it a test that needs it is skipped with the reason;
.ci/run installs it and exports BILLSYNC_PDFTOPPM, and then a missing tool fails the test.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FOOTER = re.compile(r"page (\d+) of (\d+)")


def pdftoppm() -> str:
    """The pdftoppm binary; a skip without it, a failure when BILLSYNC_PDFTOPPM says it was installed."""
    named = os.environ.get("BILLSYNC_PDFTOPPM", "")
    found = shutil.which(named) if named else shutil.which("pdftoppm")
    if found:
        return found
    if named:
        pytest.fail(f"BILLSYNC_PDFTOPPM is {named!r}, but there is no such program")
    pytest.skip("no pdftoppm on PATH (Debian: apt-get install poppler-utils); the PDF rendering test needs it")


@dataclass(frozen=True)
class ReadPdf:
    """A PDF drawn and read: one PNG per page, each page's text, and all of it with spaces collapsed."""

    pngs: list[Path]
    pages: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    @property
    def words(self) -> str:
        """The text with every run of whitespace (a wrapped line's end included) as one space."""
        return " ".join(self.text.split())


def read_pdf(data: bytes, folder: Path) -> ReadPdf:
    """Draw every page to PNG with pdftoppm and read the text layer with pypdf; checks both agree."""
    binary = pdftoppm()
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "prebill.pdf"
    source.write_bytes(data)
    done = subprocess.run(
        [binary, "-r", "40", "-png", str(source), str(folder / "page")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pngs = sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    reader = PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pngs) == len(pages) >= 1
    for png in pngs:
        assert png.read_bytes().startswith(PNG_SIGNATURE)
        with Image.open(png) as image:
            # Something is drawn: the page is not all white.
            assert image.convert("L").point(lambda v: 255 if v < 128 else 0).getbbox() is not None, png.name
    for number, page in enumerate(pages, start=1):
        assert _FOOTER.findall(page) == [(str(number), str(len(pages)))]  # "page n of N" on every page
    return ReadPdf(pngs, pages)


def control_characters(text: str) -> set[str]:
    """Control characters in `text` other than the line breaks a text layer separates lines with."""
    return {char for char in text if unicodedata.category(char) == "Cc" and char not in "\n"}
