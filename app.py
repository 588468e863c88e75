"""Tanya's chat page: ask in Indonesian or English, get a cited answer, open the passages it used.

    python app.py [--host 127.0.0.1] [--port 7860] [--index-dir index]

Builds the index from the seed articles first when none exists. Everything from the articles is
HTML-escaped before it is shown.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from qa import QuestionError, Settings, Tanya  # noqa: E402
from qa.cli import EXPECTED_ERRORS  # noqa: E402
from qa.records import Answer  # noqa: E402

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
.source mark {background: #ffe58a; color: #000; padding: 0 2px}
.source.weak {opacity: 0.8; border-style: dashed}
"""


def render_answer(answer: Answer) -> str:
    """The chat message: the reply (escaped) and a one-line list of the cited passages."""
    lines = [html.escape(line) for line in answer.reply.split("\n")]
    if not answer.abstained and answer.text:
        lines[0] = lines[0].replace(html.escape(answer.text), f"**{html.escape(answer.text)}**", 1)
    if answer.citations:
        lines.append("")
        lines += [f"[{c.n}] {html.escape(c.title)} — {html.escape(Path(c.source).name)}, ¶{c.paragraph}" for c in answer.citations]
    return "\n".join(lines)


def render_sources(answer: Answer) -> str:
    """The side panel: each cited passage with its supporting sentence highlighted; on abstention,
    the closest passages, marked as not supporting an answer."""
    language = LANGUAGE_NAMES.get(answer.language, answer.language)
    parts = [f"<p class='meta'>Question language: {html.escape(language)} · {answer.timings_ms.get('total', 0):.0f} ms</p>"]
    for c in answer.citations:
        s, e = c.sentence
        passage = html.escape(c.text[:s]) + "<mark>" + html.escape(c.text[s:e]) + "</mark>" + html.escape(c.text[e:])
        parts.append(
            f"<div class='source' id='source-{c.n}'><b>[{c.n}] {html.escape(c.title)}</b>"
            f"<div class='meta'>{html.escape(c.source)} · paragraph {c.paragraph}</div><p>{passage}</p></div>"
        )
    if answer.abstained:
        note = "Closest passages — they do not answer the question" if answer.language == "en" else "Bagian terdekat — tidak menjawab pertanyaan"
        parts.append(f"<p><b>{note}</b></p>")
        for hit in answer.hits[:3]:
            c = hit.chunk
            parts.append(
                f"<div class='source weak'><b>{html.escape(c.title)}</b><div class='meta'>{html.escape(c.source)} · "
                f"paragraph {c.paragraph}</div><p>{html.escape(c.text)}</p></div>"
            )
    return "\n".join(parts)


def build_page(tanya: Tanya) -> gr.Blocks:
    """The Gradio page over one Tanya instance."""

    def respond(question: str, history: list[dict]):
        history = list(history or [])
        history.append({"role": "user", "content": html.escape((question or "")[:500])})
        history.append({"role": "assistant", "content": "Searching…"})
        yield "", history, gr.update()
        try:
            answer = tanya.ask(question)
            history[-1]["content"] = render_answer(answer)
            sources = render_sources(answer)
        except QuestionError as exc:
            history[-1]["content"] = f"Please ask again: {exc}."
            sources = ""
        except EXPECTED_ERRORS as exc:
            history[-1]["content"] = f"Sorry, something is wrong with the index: {html.escape(str(exc))}"
            sources = ""
        yield "", history, sources

    with gr.Blocks(title="Tanya") as page:
        gr.Markdown("# Tanya\nAsk the articles in Indonesian or English; every answer cites the passage it comes from.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Chat", height=460, buttons=["copy"], elem_id="chat")
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question… / Tanyakan sesuatu…", show_label=False, scale=5, elem_id="question")
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                clear = gr.Button("Clear chat", size="sm")
                gr.Examples(EXAMPLES, inputs=box)
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(elem_id="sources")
        send.click(respond, [box, chat], [box, chat, sources])
        box.submit(respond, [box, chat], [box, chat, sources])
        clear.click(lambda: ([], ""), None, [chat, sources])
    return page


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, make sure an index exists, serve the page."""
    parser = argparse.ArgumentParser(description="Tanya chat page")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--index-dir", type=Path)
    args = parser.parse_args(argv)
    settings = Settings.from_env(host=args.host, port=args.port, index_dir=args.index_dir)
    tanya = Tanya(settings)
    try:
        if not tanya.has_index():
            print(f"No index in {settings.index_dir}: indexing {settings.seeds_dir} first …", flush=True)
            print(tanya.index().summary(), flush=True)
        tanya.warm_up()
    except EXPECTED_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    auth = os.environ.get("QA_AUTH")
    credentials = tuple(auth.split(":", 1)) if auth and ":" in auth else None
    build_page(tanya).queue(default_concurrency_limit=4).launch(
        server_name=settings.host, server_port=settings.port, auth=credentials, css=CSS, show_error=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
