"""Read article files into Documents: find them, decode them, normalise them, give them ids and titles.

Anything that cannot be read is reported as Skipped with a reason; it never stops the batch.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .records import Document, Skipped
from .text import normalise

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown")
_TITLE_CHARS = 120


@dataclass
class IngestResult:
    """Documents read, and files skipped with the reason."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class UnreadableFile(Exception):
    """A file that cannot be turned into text; the message says why."""


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield (file, base) for each file under `paths`; `base` is what its doc_id is relative to."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            # followlinks=False: a symlink loop cannot make us walk forever
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name, path
        else:
            yield path, path.parent


def doc_id_for(file: Path, base: Path) -> str:
    """The path of `file` relative to `base`, without suffix, with `/` separators."""
    try:
        rel = file.relative_to(base)
    except ValueError:
        rel = Path(file.name)
    return rel.with_suffix("").as_posix()


def read_documents(paths: Iterable[Path], max_file_mb: float = 50.0) -> IngestResult:
    """Read every supported file under `paths`; unsupported or unreadable files are skipped with a reason."""
    result = IngestResult()
    seen: set[str] = set()
    for file, base in iter_files(paths):
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            result.skipped.append(Skipped(str(file), f"unsupported file type '{file.suffix or '(none)'}'"))
            continue
        doc_id = doc_id_for(file, base)
        if doc_id in seen:
            result.skipped.append(Skipped(str(file), f"another file already has the id '{doc_id}'"))
            continue
        try:
            result.documents.append(read_document(file, doc_id, max_file_mb))
            seen.add(doc_id)
        except UnreadableFile as exc:
            result.skipped.append(Skipped(str(file), str(exc)))
    return result


def read_document(file: Path, doc_id: str, max_file_mb: float = 50.0) -> Document:
    """Read one text or Markdown file; raises UnreadableFile with the reason."""
    try:
        if not file.is_file():
            raise UnreadableFile("not a regular file")
        size = file.stat().st_size
        if size > max_file_mb * 1024 * 1024:
            raise UnreadableFile(f"too large ({size / 1048576:.1f} MB; limit {max_file_mb:g} MB, QA_MAX_FILE_MB)")
        data = file.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None
    raw = decode(data)
    if file.suffix.lower() in (".md", ".markdown"):
        raw = _strip_markdown(raw)
    text = normalise(raw)
    if not text:
        raise UnreadableFile("empty: no text in the file")
    return Document(
        doc_id=doc_id,
        source=str(file),
        title=_title(text),
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def decode(data: bytes) -> str:
    """Bytes to text: BOMs honoured, UTF-8 first, then Windows-1252/Latin-1; binary data is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:65536]:
        raise UnreadableFile("binary data, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    sample = text[:65536]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    if sample and control / len(sample) > 0.05:
        raise UnreadableFile("binary data, not text")
    return text


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*\*|__|`)")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _strip_markdown(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_HEADING.sub("", text)
    return _MD_EMPHASIS.sub("", text)


def _title(text: str) -> str:
    first = text.split("\n", 1)[0]
    if len(first) <= _TITLE_CHARS:
        return first
    cut = first[:_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"
