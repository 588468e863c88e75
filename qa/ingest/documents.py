"""Read article files into Documents: find them, decode them, normalise them, give them ids and titles.

Anything that cannot be read is reported as Skipped with a reason; it never stops the batch.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..dates import dateline, iso
from ..errors import UnreadableFile
from ..records import Document, Skipped
from ..text import normalise

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl")
_TITLE_CHARS = 120


@dataclass
class IngestResult:
    """Documents read, and files skipped with the reason."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


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
    for item in iter_documents(paths, max_file_mb):
        if isinstance(item, Skipped):
            result.skipped.append(item)
        else:
            result.documents.append(item)
    return result


def iter_documents(
    paths: Iterable[Path],
    max_file_mb: float = 50.0,
    taken: Callable[[str], bool] | None = None,
    excluded: Collection[str] = (),
) -> Iterator[Document | Skipped]:
    """Each document under `paths` as it is read, or a Skipped with the reason, one file at a time.

    `taken(doc_id)` says whether an earlier file already has that id (default: remembered here;
    a build passes its own table so that nothing grows with the collection). Files whose doc_id is
    in `excluded` (articles removed from the collection) are skipped."""
    seen: set[str] = set()
    is_taken = taken or seen.__contains__
    for file, base in iter_files(paths):
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            yield Skipped(str(file), f"unsupported file type '{file.suffix or '(none)'}'")
            continue
        doc_id = doc_id_for(file, base)
        if doc_id in excluded:
            yield Skipped(str(file), "removed from the collection (index the file by its path to bring it back)")
            continue
        if is_taken(doc_id):
            yield Skipped(str(file), f"another file already has the id '{doc_id}'")
            continue
        try:
            if file.is_symlink() and not inside(file.resolve(), base.resolve()):
                raise UnreadableFile("a link to somewhere outside the folder")
            docs = read_file(file, doc_id, max_file_mb, shown_source(file, base))
        except UnreadableFile as exc:
            yield Skipped(str(file), str(exc))
            continue
        except (OSError, RuntimeError) as exc:  # a loop of links, a file vanishing while we read it …
            yield Skipped(str(file), f"cannot read: {exc}")
            continue
        if taken is None:
            seen.add(doc_id)
        yield from docs


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies under it (both already resolved)."""
    return path == folder or folder in path.parents


def shown_source(file: Path, base: Path) -> str:
    """How a file is named to readers: its path under the folder it was indexed from, with that folder's
    own name in front ("seeds/000_x.txt", "uploads/a.pdf"), never a path of the server's disk."""
    folder = base.name or base.resolve().name
    try:
        rel = file.relative_to(base).as_posix()
    except ValueError:
        rel = file.name
    return f"{folder}/{rel}" if folder else rel


def read_file(file: Path, doc_id: str, max_file_mb: float = 50.0, source: str | None = None) -> list[Document]:
    """The documents in one file (one, or one per record of a JSON/JSONL file); raises UnreadableFile.
    `source` is how citations name the file (default: its path as given)."""
    try:
        if not file.is_file():
            raise UnreadableFile("not a regular file")
        size = file.stat().st_size
        if size > max_file_mb * 1024 * 1024:
            raise UnreadableFile(f"too large ({size / 1048576:.1f} MB; limit {max_file_mb:g} MB, QA_MAX_FILE_MB)")
        data = file.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise UnreadableFile("empty: no text in the file")
    reader = _READERS[file.suffix.lower()]
    parts = reader(data, max_file_mb)
    docs = []
    for key, part in parts:
        if not part.text:
            continue
        raw_hash = hashlib.sha256(data if len(parts) == 1 else part.text.encode("utf-8")).hexdigest()
        docs.append(
            Document(
                doc_id=doc_id if key is None else f"{doc_id}/{key}",
                source=part.source or source or str(file),
                title=part.title or _title(part.text),
                text=part.text,
                sha256=raw_hash,
                date=publication_date(part.date, part.text),
                url=part.url,
                page_starts=part.page_starts,
            )
        )
    if not docs:
        raise UnreadableFile("empty: no text in the file")
    return docs


def publication_date(given: str | None, text: str) -> str | None:
    """An article's date as YYYY-MM-DD: what its metadata says (feed, HTML, JSON "date"), else the date
    its opening gives ("Bisnis.com, JAKARTA - … Jumat (9/9/2016)"), else None."""
    found = iso(given) if given else None
    if found is None:
        written = dateline(text)
        found = written.isoformat() if written else None
    return found


@dataclass
class _Part:
    text: str
    title: str | None = None
    date: str | None = None
    url: str | None = None
    page_starts: tuple[int, ...] = ()
    source: str | None = None  # how citations name it, when the file says (a JSON record's "source")


def _read_text(data: bytes, max_file_mb: float) -> list[tuple[str | None, _Part]]:
    return [(None, _Part(normalise(decode(data))))]


def _read_markdown(data: bytes, max_file_mb: float) -> list[tuple[str | None, _Part]]:
    return [(None, _Part(normalise(_strip_markdown(decode(data)))))]


def _read_html(data: bytes, max_file_mb: float) -> list[tuple[str | None, _Part]]:
    import trafilatura

    html = decode(data)
    extracted = trafilatura.extract(html, output_format="json", with_metadata=True, include_comments=False)
    record = json.loads(extracted) if extracted else {}
    text = normalise(record.get("text") or "")
    if not text:
        raise UnreadableFile("no article text in the HTML (only menus, scripts or markup)")
    title = (record.get("title") or "").strip() or None
    if title and not text.startswith(title):
        text = f"{normalise(title)}\n\n{text}"
    return [(None, _Part(text, title, record.get("date"), record.get("source") or record.get("url")))]


def _read_pdf(data: bytes, max_file_mb: float) -> list[tuple[str | None, _Part]]:
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or None
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise UnreadableFile(f"damaged PDF ({type(exc).__name__}: {exc})") from None
    text, starts = "", []
    for page in pages:
        page_text = normalise(page)
        starts.append(len(text) + (2 if text and page_text else 0))  # page n starts here (1-based: index n-1)
        if page_text:
            text = f"{text}\n\n{page_text}" if text else page_text
    if not text:
        raise UnreadableFile("PDF without a text layer (a scan?): run OCR on it first")
    return [(None, _Part(text, title, page_starts=tuple(starts)))]


def _read_docx(data: bytes, max_file_mb: float) -> list[tuple[str | None, _Part]]:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > max(200 * 1024 * 1024, 20 * len(data)) and unpacked > 100 * len(data):
                raise UnreadableFile(f"refused: unpacks to {unpacked / 1048576:.0f} MB (a zip bomb?)")
        document = docx.Document(io.BytesIO(data))
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile(f"damaged Word file ({type(exc).__name__})") from None
    text = normalise("\n\n".join(p.text for p in document.paragraphs))
    title = (document.core_properties.title or "").strip() or None
    return [(None, _Part(text, title))]


def _read_json(data: bytes, max_file_mb: float) -> list[tuple[str | None, _Part]]:
    """Articles as JSON: one object, a list of objects, or one object a line (JSONL):
    {"title", "text", "url"?, "date"?, "source"?} ("source": an http(s) address citations name it by;
    default: the file)."""
    raw = decode(data)
    try:
        loaded = json.loads(raw)
        records = loaded if isinstance(loaded, list) else [loaded]
    except ValueError:
        try:
            records = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except ValueError as exc:
            raise UnreadableFile(f"not JSON or JSON lines ({exc})") from None
    parts = []
    for n, record in enumerate(records, start=1):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            continue
        title = str(record.get("title") or "").strip()
        text = normalise(record["text"])
        if title and not text.startswith(title):
            text = f"{normalise(title)}\n\n{text}"
        key = None if len(records) == 1 else str(n)
        # a record may be cited by its web address (never by a path: removal looks sources up as files)
        named = record.get("source")
        shown = named if isinstance(named, str) and len(named) <= 2000 and named.startswith(("http://", "https://")) else None
        parts.append((key, _Part(text, title or None, _str(record.get("date")), _str(record.get("url")), source=shown)))
    if not parts:
        raise UnreadableFile('no article records (each needs "text", and should have "title")')
    return parts


def _str(value: object) -> str | None:
    return None if value is None else str(value)


_READERS = {
    ".txt": _read_text,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".json": _read_json,
    ".jsonl": _read_json,
}


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
