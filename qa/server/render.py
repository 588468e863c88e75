"""HTML for the chat page (app.py): the answer with its linked markers, the sources panel, the
citation check, build reports, the collection table and an opened article, and a kept chat's export.
Everything taken from an article is escaped here."""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..index.build import BuildReport
from ..pipeline import Tanya
from ..records import Answer, Citation
from ..settings import DEFAULT_COLLECTION
from .chats import Chats, markdown_text

EXAMPLES = [
    "Who offered Jack Ma the advisor role?",
    "Siapa yang menawari Jack Ma menjadi penasehat?",
    "How many ministries are in the steering committee?",
    "Kapan Alibaba menguasai saham Lazada?",
]
LANGUAGE_NAMES = {"en": "English", "id": "Bahasa Indonesia"}
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


def render_sources(answer: Answer, article_text: Callable[[Citation], str | None]) -> str:
    """The side panel: each cited passage with its supporting sentence highlighted and the whole article
    one click away; on abstention, the closest passages, marked as not supporting an answer."""
    language = LANGUAGE_NAMES.get(answer.language, answer.language)
    sure = f" · confidence {answer.confidence:.2f}" if answer.confidence is not None else ""
    parts = [f"<p class='meta'>Language: {html.escape(language)} · {answer.timings_ms.get('total', 0):.0f} ms{sure}</p>"]
    if answer.asked and answer.asked != answer.question:
        parts.append(f"<p class='meta' id='rewritten'>Understood as: <i>{html.escape(answer.question)}</i></p>")
    for c in answer.citations:
        s, e = c.sentence
        article = article_text(c) or c.text
        a, b = c.start, c.end
        parts.append(
            f"<div class='source' id='source-{c.n}'><b><a href='#source-{c.n}'>[{c.n}]</a> {html.escape(c.title)}</b>"
            f"<div class='meta'>{_where(c.collection, c.source, c.date)} · paragraph {c.paragraph}</div>"
            f"<p>{_highlight(c.text, s, e)}</p>"
            f"<details><summary>Whole article</summary><p>{_highlight(article, a, b)}</p></details></div>"
        )
    if answer.statements:
        parts.append(render_check(answer))
    if answer.abstained:
        note = (
            "Closest passages — they do not answer the question"
            if answer.language == "en"
            else "Bagian terdekat — tidak menjawab pertanyaan"
        )
        parts.append(f"<p><b>{note}</b></p>")
        for hit in answer.hits[:3]:
            chunk = hit.chunk
            parts.append(
                f"<div class='source weak'><b>{html.escape(chunk.title)}</b><div class='meta'>{_where(hit.collection, chunk.source, chunk.date)} · "
                f"paragraph {chunk.paragraph} · does not support an answer</div><p>{html.escape(chunk.text)}</p></div>"
            )
    return "\n".join(parts)


def _where(collection: str, source: str, date: str | None = None) -> str:
    """Where a passage comes from: its file, after its collection unless that is the default one, and
    its article's date."""
    shown = source if collection in ("", DEFAULT_COLLECTION) else f"{collection}: {source}"
    return html.escape(shown + (f" · {date}" if date else ""))


def render_check(answer: Answer) -> str:
    """The citation check of a written answer: each sentence, the passage the model cited, what stands."""
    rows = []
    for st in answer.statements:
        verdict = "corrected" if st.corrected else "supported" if st.supported else "not supported"
        cited = ", ".join(str(n) for n in st.cited) or "none"
        rows.append(
            f"<li class='check {verdict.replace(' ', '-')}'><b>{verdict}</b> (model cited passage {cited}): "
            f"{html.escape(st.text)}</li>"
        )
    q = answer.citation_quality
    return (
        "<div id='citation-check'><b>Citation check</b><ul>" + "".join(rows) + "</ul>"
        f"<p class='meta'>citation recall {q.get('recall_before', 0):.2f} → {q.get('recall_after', 0):.2f} · "
        f"precision {q.get('precision_before', 0):.2f} → {q.get('precision_after', 0):.2f} (as written → checked)</p></div>"
    )


def _highlight(text: str, start: int, end: int) -> str:
    return html.escape(text[:start]) + "<mark>" + html.escape(text[start:end]) + "</mark>" + html.escape(text[end:])


def export_file(book: Chats) -> str | None:
    """The open chat as a Markdown file to download (None when no chat is open)."""
    text = book.markdown()
    if not text:
        return None
    path = Path(tempfile.mkdtemp(prefix="tanya-export-")) / f"tanya-chat-{book.current}.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def render_report(report: BuildReport) -> str:
    """What an update did, for people."""
    lines = [f"**Index updated** in {report.seconds:.1f} s: {report.documents} articles, {report.chunks} passages."]
    for label, items in (("Added", report.added), ("Updated", report.updated), ("Removed", report.removed)):
        if items:
            lines.append(f"- {label} ({len(items)}): " + ", ".join(markdown_text(i) for i in items[:20]))
    lines.append(f"- Unchanged: {len(report.unchanged)} · passages embedded: {report.embedded}, reused: {report.reused}")
    for s in report.skipped:
        lines.append(f"- Skipped {markdown_text(Path(s.path).name)}: {markdown_text(s.reason)}")
    return "\n".join(lines)


COLLECTION_ROWS = 500  # a collection of 100,000 articles is searched, not sent whole to the browser


COLUMNS = ["title", "file", "date", "passages", "added", "doc id"]


def collection_rows(tanya: Tanya | None, query: str = "") -> list[list]:
    """Indexed articles (title, file, article date, passages, added, doc id), filtered by a search
    string, newest first, at most COLLECTION_ROWS of them (none without a collection, or an index)."""
    if tanya is None or not tanya.has_index():
        return []
    files = tanya.files((query or "").strip(), newest_first=True, limit=COLLECTION_ROWS)
    return [
        [f["title"], Path(f["source"]).name, f.get("date") or "", f["chunks"], f["added_at"].replace("T", " ")[:16], f["doc_id"]]
        for f in files
    ]


def render_article(tanya: Tanya | None, doc_id: str) -> str:
    """An article opened from the collection: its facts and whole text (escaped)."""
    record = article_record(tanya, doc_id)
    text = tanya.document_text(doc_id) if tanya is not None and record else None
    if record is None or text is None:
        return "<p>This article is no longer in the index.</p>"
    facts = " · ".join(
        html.escape(str(x))
        for x in (
            record["source"],
            record.get("date") or "no date",
            f"{record['chunks']} passages",
            f"added {record['added_at'][:16]}",
        )
    )
    return (
        f"<div id='article-view'><h3>{html.escape(record['title'])}</h3><p class='meta'>{facts}</p>"
        f"<p style='white-space:pre-wrap'>{html.escape(text)}</p></div>"
    )


def render_feeds(sources: list[dict]) -> str:
    """A collection's sources and how their last fetch went (Markdown, escaped)."""
    if not sources:
        return "No sources yet."
    lines = []
    for s in sources:
        last = s.get("last") or {}
        if not last:
            said = "never fetched"
        elif last.get("error"):
            said = f"{last['at'].replace('T', ' ')}: error: {markdown_text(str(last['error']))}"
        else:
            said = f"{last['at'].replace('T', ' ')}: {last.get('added', 0)} new or changed"
        lines.append(f"- {markdown_text(s['source'])} ({s['kind']}) — {said}")
    return "\n".join(lines)


def updated_ago(sources: list[dict], now: float | None = None) -> str:
    """ "updated 3 min ago": when a source of the collection was last fetched without an error ('' if never)."""
    import time as _time

    times = [s["last"]["at"] for s in sources if (s.get("last") or {}).get("at") and not s["last"].get("error")]
    if not times:
        return ""
    then = _time.mktime(_time.strptime(max(times), "%Y-%m-%dT%H:%M:%S"))
    minutes = max(0, int(((now or _time.time()) - then) // 60))
    return f" · **updated** {minutes} min ago" if minutes < 120 else f" · **updated** {minutes // 60} h ago"


def render_removal(record: dict) -> str:
    """The question before an article is removed."""
    return f"Remove **{markdown_text(record['title'])}** ({markdown_text(record['source'])}) from the collection?"


def article_record(tanya: Tanya | None, doc_id: str) -> dict | None:
    """An indexed article's record in a collection, or None."""
    if tanya is None or not tanya.has_index():
        return None
    return next((f for f in tanya.files() if f["doc_id"] == doc_id), None)


def collection_facts(tanya: Tanya | None) -> str:
    """The index facts line ('' without a collection; a note before its first build)."""
    if tanya is None:
        return ""
    if not tanya.has_index():
        return f"**{markdown_text(tanya.name)}** has no articles yet."
    m = tanya.manifest
    where = (
        "**store** Milvus"
        if m.get("vectors", {}).get("type") == "milvus"
        else f"**size on disk** {tanya.index_size_bytes() / 1048576:.1f} MB"
    )
    return (
        f"**Model** {m['model']['name']} ({m['model']['dim']} dimensions) · **articles** {m['documents']} · "
        f"**passages** {m['chunks']} · {where} · **last update** {m['built_at'].replace('T', ' ')}"
        + updated_ago(tanya.sources().all())
    )
