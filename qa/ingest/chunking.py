"""Split Documents into Chunks on paragraph and sentence boundaries, keeping exact offsets.

A news paragraph that fits `chunk_size` is one chunk. A longer one is cut between sentences
(packed with LangChain's splitter logic, `chunk_overlap` characters shared between neighbours);
a single sentence longer than `chunk_size` is cut between words.
"""

from __future__ import annotations

from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

from ..records import Chunk, Document
from ..text import sentence_spans


class SentenceSplitter(TextSplitter):
    """LangChain splitter whose units are sentences (abbreviation-aware), merged up to chunk_size."""

    def __init__(self, chunk_size: int, chunk_overlap: int, **kwargs: Any) -> None:
        super().__init__(chunk_size=chunk_size, chunk_overlap=chunk_overlap, strip_whitespace=True, **kwargs)
        self._words = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            separators=["; ", ", ", " ", ""],
            keep_separator="end",
        )

    def split_text(self, text: str) -> list[str]:
        """Sentences packed into chunks of at most chunk_size characters."""
        units: list[str] = []
        for start, end in sentence_spans(text):
            sentence = text[start:end]
            units.extend(self._words.split_text(sentence) if len(sentence) > self._chunk_size else [sentence])
        return self._merge_splits(units, " ")


def chunk_document(doc: Document, chunk_size: int = 1200, chunk_overlap: int = 200) -> list[Chunk]:
    """Chunks of one document, each with its paragraph number (1-based) and offsets into `doc.text`."""
    splitter = SentenceSplitter(chunk_size, min(chunk_overlap, chunk_size // 2))
    chunks: list[Chunk] = []
    offset = 0
    for number, paragraph in enumerate(doc.text.split("\n\n"), start=1):
        pieces = [paragraph] if len(paragraph) <= chunk_size else splitter.split_text(paragraph)
        cursor = 0
        for k, piece in enumerate(pieces):
            # overlap means a piece may start before the previous one ended
            at = paragraph.find(piece, max(0, cursor - chunk_overlap - 1))
            if at < 0:
                at = paragraph.find(piece)
            start = offset + at
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#p{number}" + (f".{k + 1}" if len(pieces) > 1 else ""),
                    doc_id=doc.doc_id,
                    source=doc.source,
                    title=doc.title,
                    paragraph=number,
                    start=start,
                    end=start + len(piece),
                    text=piece,
                    page=doc.page_at(start),
                )
            )
            cursor = at + len(piece)
        offset += len(paragraph) + 2
    return chunks
