"""HTML for the chat page (app.py): the answer with its linked markers, the sources panel, the
citation check, build reports, the collection table and an opened article, and a kept chat's export.
Everything taken from an article is escaped here."""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..index.build import BuildReport
from ..pipeline import Tanya
from ..records import Answer, Citation, FileRecord
from ..settings import DEFAULT_COLLECTION
from .chats import Chats, markdown_text
from .i18n import Texts, catalogue, texts

EN = texts("en")
EXAMPLE_KEYS = ("example.1", "example.2", "example.3", "example.4")


def examples(tr: Texts = EN) -> list[list[str]]:
    """The example questions, in the page's language."""
    return [[tr(k)] for k in EXAMPLE_KEYS]


CSS = """
.source {border:1px solid var(--border-color-primary); border-radius:8px; padding:8px 12px; margin:8px 0}
.source .meta {font-size:0.85em; opacity:0.75}
.source mark {background:#ffe58a; color:#000; padding:0 2px}
.source.weak {opacity:0.85; border-style:dashed}
.source.active {outline:2px solid var(--color-accent)}
.source details p {white-space:pre-wrap}
#citation-check li.not-supported {color:var(--error-text-color, #b00020)}
#citation-check li.corrected b {color:var(--color-accent)}
"""
# Clicking an [n] marker in the chat, or a source title, opens that source's whole article in the
# side panel and scrolls to the highlighted sentence.
JS = """
<script>
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href^="#source-"]');
  if (!link) return;
  event.preventDefault();
  const box = document.getElementById(link.getAttribute('href').slice(1));
  if (!box) return;
  document.querySelectorAll('.source.active').forEach((el) => el.classList.remove('active'));
  box.classList.add('active');
  const details = box.querySelector('details');
  if (details) details.open = true;
  const mark = (details || box).querySelector('mark') || box;
  mark.scrollIntoView({behavior: 'smooth', block: 'center'});
}, true);
</script>
"""


def render_answer(answer: Answer) -> str:
    """The chat message: the reply (escaped, answer in bold, markers linking to the sources) and the sources list."""
    lines = [markdown_text(line) for line in answer.reply.split("\n")]
    if not answer.abstained and answer.text and answer.mode == "extractive":
        lines[0] = lines[0].replace(markdown_text(answer.text), f"**{markdown_text(answer.text)}**", 1)
    lines = [_link_markers(line, answer) for line in lines]
    if answer.notice:
        lines.insert(0, f"_{markdown_text(answer.notice)}_\n")
    for c in answer.citations:
        dated = f", {c.date}" if c.date else ""
        lines.append(f"{_marker(c.n)} {markdown_text(c.title)} — {markdown_text(Path(c.source).name)}{dated}, ¶{c.paragraph}")
    return "\n".join(lines)


def user_message(question: str) -> str:
    """The user's question as the chat shows it (as text, whatever it holds)."""
    return markdown_text(question)


def _marker(n: int) -> str:
    return f"[\\[{n}\\]](#source-{n})"


def _link_markers(line: str, answer: Answer) -> str:
    for c in answer.citations:
        line = line.replace(markdown_text(f"[{c.n}]"), _marker(c.n))
    return line


def render_sources(answer: Answer, article_text: Callable[[Citation], str | None], tr: Texts = EN) -> str:
    """The side panel: each cited passage with its supporting sentence highlighted and the whole article
    one click away; on abstention, the closest passages, marked as not supporting an answer."""
    language = catalogue(answer.language)["language.name"] if answer.language in ("en", "id") else answer.language
    sure = f" · {tr('sources.confidence')} {answer.confidence:.2f}" if answer.confidence is not None else ""
    parts = [
        f"<p class='meta'>{tr('sources.language')}: {html.escape(language)} · "
        f"{answer.timings_ms.get('total', 0):.0f} ms{sure}</p>"
    ]
    if answer.asked and answer.asked != answer.question:
        parts.append(f"<p class='meta' id='rewritten'>{tr('sources.understood')} <i>{html.escape(answer.question)}</i></p>")
    for c in answer.citations:
        s, e = c.sentence
        article = article_text(c) or c.text
        a, b = c.start, c.end
        parts.append(
            f"<div class='source' id='source-{c.n}'><b><a href='#source-{c.n}'>[{c.n}]</a> {html.escape(c.title)}</b>"
            f"<div class='meta'>{_where(c.collection, c.source, c.date)} · {tr('sources.paragraph')} {c.paragraph}</div>"
            f"<p>{_highlight(c.text, s, e)}</p>"
            f"<details><summary>{tr('sources.whole_article')}</summary><p>{_highlight(article, a, b)}</p></details></div>"
        )
    if answer.statements:
        parts.append(render_check(answer, tr))
    if answer.abstained:
        parts.append(f"<p><b>{tr('sources.closest')}</b></p>")
        for hit in answer.hits[:3]:
            chunk = hit.chunk
            parts.append(
                f"<div class='source weak'><b>{html.escape(chunk.title)}</b><div class='meta'>{_where(hit.collection, chunk.source, chunk.date)} · "
                f"{tr('sources.paragraph')} {chunk.paragraph} · {tr('sources.no_support')}</div><p>{html.escape(chunk.text)}</p></div>"
            )
    return "\n".join(parts)


def _where(collection: str, source: str, date: str | None = None) -> str:
    """Where a passage comes from: its file, after its collection unless that is the default one, and
    its article's date."""
    shown = source if collection in ("", DEFAULT_COLLECTION) else f"{collection}: {source}"
    return html.escape(shown + (f" · {date}" if date else ""))


def render_check(answer: Answer, tr: Texts = EN) -> str:
    """The citation check of a written answer: each sentence, the passage the model cited, what stands."""
    rows = []
    for st in answer.statements:
        verdict = "corrected" if st.corrected else "supported" if st.supported else "not_supported"
        cited = ", ".join(str(n) for n in st.cited) or tr("check.none")
        rows.append(
            f"<li class='check {verdict.replace('_', '-')}'><b>{tr('check.' + verdict)}</b> ({tr('check.cited', cited=cited)}): "
            f"{html.escape(st.text)}</li>"
        )
    q = {
        k: f"{answer.citation_quality.get(k, 0):.2f}"
        for k in ("recall_before", "recall_after", "precision_before", "precision_after")
    }
    return (
        f"<div id='citation-check'><b>{tr('check.title')}</b><ul>" + "".join(rows) + "</ul>"
        f"<p class='meta'>{tr('check.quality', **q)}</p></div>"
    )


def _highlight(text: str, start: int, end: int) -> str:
    return html.escape(text[:start]) + "<mark>" + html.escape(text[start:end]) + "</mark>" + html.escape(text[end:])


def export_file(book: Chats, tr: Texts = EN) -> str | None:
    """The open chat as a Markdown file to download (None when no chat is open)."""
    text = book.markdown(tr)
    if not text:
        return None
    path = Path(tempfile.mkdtemp(prefix="tanya-export-")) / f"tanya-chat-{book.current}.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def render_report(report: BuildReport, tr: Texts = EN) -> str:
    """What an update did, for people."""
    lines = [tr("report.updated", seconds=f"{report.seconds:.1f}", documents=report.documents, chunks=report.chunks)]
    for key, items in (("report.added", report.added), ("report.changed", report.updated), ("report.removed", report.removed)):
        if items:
            lines.append(f"- {tr(key)} ({len(items)}): " + ", ".join(markdown_text(i) for i in items[:20]))
    lines.append("- " + tr("report.unchanged", unchanged=len(report.unchanged), embedded=report.embedded, reused=report.reused))
    for s in report.skipped:
        lines.append("- " + tr("report.skipped", name=markdown_text(Path(s.path).name), reason=markdown_text(s.reason)))
    return "\n".join(lines)


COLLECTION_ROWS = 500  # a collection of 100,000 articles is searched, not sent whole to the browser


COLUMN_KEYS = ("column.title", "column.file", "column.date", "column.passages", "column.added", "column.doc_id")


def columns(tr: Texts = EN) -> list[str]:
    """The collection table's headers, in the page's language."""
    return [tr(k) for k in COLUMN_KEYS]


def collection_rows(tanya: Tanya | None, query: str = "", tr: Texts = EN) -> dict[str, Any]:
    """Indexed articles (title, file, article date, passages, added, doc id), filtered by a search
    string, newest first, at most COLLECTION_ROWS of them (none without a collection, or an index),
    under headers in the page's language."""
    rows: list[list[Any]] = []
    if tanya is not None and tanya.has_index():
        files = tanya.articles.files((query or "").strip(), newest_first=True, limit=COLLECTION_ROWS)
        rows = [
            [
                f["title"],
                Path(f["source"]).name,
                f.get("date") or "",
                f["chunks"],
                f["added_at"].replace("T", " ")[:16],
                f["doc_id"],
            ]
            for f in files
        ]
    return {"headers": columns(tr), "data": rows}


def render_article(tanya: Tanya | None, doc_id: str, tr: Texts = EN) -> str:
    """An article opened from the collection: its facts and whole text (escaped)."""
    record = article_record(tanya, doc_id)
    text = tanya.articles.document_text(doc_id) if tanya is not None and record else None
    if record is None or text is None:
        return f"<p>{tr('collection.gone')}</p>"
    facts = " · ".join(
        html.escape(str(x))
        for x in (
            record["source"],
            record.get("date") or tr("collection.no_date"),
            tr("collection.passages", n=record["chunks"]),
            tr("collection.added_at", at=record["added_at"][:16]),
        )
    )
    return (
        f"<div id='article-view'><h3>{html.escape(record['title'])}</h3><p class='meta'>{facts}</p>"
        f"<p style='white-space:pre-wrap'>{html.escape(text)}</p></div>"
    )


def render_feeds(sources: list[dict], tr: Texts = EN) -> str:
    """A collection's sources and how their last fetch went (Markdown, escaped)."""
    if not sources:
        return tr("feeds.none")
    lines = []
    for s in sources:
        last = s.get("last") or {}
        if not last:
            said = tr("feeds.never")
        elif last.get("error"):
            said = tr("feeds.error", at=last["at"].replace("T", " "), error=markdown_text(str(last["error"])))
        else:
            said = tr("feeds.fetched", at=last["at"].replace("T", " "), added=last.get("added", 0))
        lines.append(f"- {markdown_text(s['source'])} ({s['kind']}) — {said}")
    return "\n".join(lines)


def updated_ago(sources: list[dict], now: float | None = None, tr: Texts = EN) -> str:
    """ "updated 3 min ago": when a source of the collection was last fetched without an error ('' if never)."""
    import time as _time

    times = [s["last"]["at"] for s in sources if (s.get("last") or {}).get("at") and not s["last"].get("error")]
    if not times:
        return ""
    then = _time.mktime(_time.strptime(max(times), "%Y-%m-%dT%H:%M:%S"))
    minutes = max(0, int(((now or _time.time()) - then) // 60))
    return tr("collection.updated_min", n=minutes) if minutes < 120 else tr("collection.updated_h", n=minutes // 60)


def render_removal(record: FileRecord, tr: Texts = EN) -> str:
    """The question before an article is removed."""
    return tr("collection.ask_remove", title=markdown_text(record["title"]), source=markdown_text(record["source"]))


def article_record(tanya: Tanya | None, doc_id: str) -> FileRecord | None:
    """An indexed article's record in a collection, or None."""
    if tanya is None or not tanya.has_index():
        return None
    return next((f for f in tanya.articles.files() if f["doc_id"] == doc_id), None)


def collection_facts(tanya: Tanya | None, tr: Texts = EN) -> str:
    """The index facts line ('' without a collection; a note before its first build)."""
    if tanya is None:
        return ""
    if not tanya.has_index():
        return tr("collection.empty", name=markdown_text(tanya.name))
    m = tanya.manifest
    where = (
        tr("collection.milvus")
        if m.get("vectors", {}).get("type") == "milvus"
        else tr("collection.size", mb=f"{tanya.articles.size_bytes() / 1048576:.1f}")
    )
    facts = tr(
        "collection.facts",
        model=m["model"]["name"],
        dim=m["model"]["dim"],
        documents=m["documents"],
        chunks=m["chunks"],
        where=where,
        built=m["built_at"].replace("T", " "),
    )
    return facts + updated_ago(tanya.articles.sources().all(), tr=tr)
