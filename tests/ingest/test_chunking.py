"""Reading files into documents and cutting them into chunks with exact offsets."""

from __future__ import annotations

from pathlib import Path

from conftest import SEED_ID, SEEDS, write

from qa.ingest.chunking import chunk_document
from qa.ingest.documents import read_documents
from qa.text import detect_language, query_terms, sentence_spans


def test_seed_article_id_title_and_paragraphs() -> None:
    result = read_documents([SEEDS])
    assert result.skipped == []
    [doc] = result.documents
    assert doc.doc_id == SEED_ID
    assert doc.title.startswith("Bisnis.com, JAKARTA - Pendiri sekaligus CEO Alibaba")
    assert doc.text.count("\n\n") == 12  # 13 paragraphs, one a line in the file


def test_each_seed_paragraph_is_one_chunk_with_exact_offsets() -> None:
    [doc] = read_documents([SEEDS]).documents
    chunks = chunk_document(doc)
    assert [c.paragraph for c in chunks] == list(range(1, 14))
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.doc_id == SEED_ID and chunk.source.endswith("000_3a3f117793ab0552.txt")


def test_long_paragraph_splits_on_sentences_with_overlap(tmp_path: Path) -> None:
    sentences = [f"Kalimat nomor {i} membahas topik yang berbeda dari Dr. Budi dan kawan-kawan." for i in range(30)]
    [doc] = read_documents([write(tmp_path / "long.txt", "Judul\n\n" + " ".join(sentences))]).documents
    chunks = [c for c in chunk_document(doc, chunk_size=400, chunk_overlap=100) if c.paragraph == 2]
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(chunk.text) <= 400
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.startswith("Kalimat") and chunk.text.endswith("kawan.")  # whole sentences
    assert chunks[1].start < chunks[0].end  # neighbours overlap


def test_a_sentence_longer_than_a_chunk_is_cut_between_words(tmp_path: Path) -> None:
    [doc] = read_documents([write(tmp_path / "run.txt", "kata " * 2000)]).documents
    chunks = chunk_document(doc, chunk_size=500, chunk_overlap=50)
    assert len(chunks) > 10 and all(len(c.text) <= 500 for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_doc_ids_are_paths_relative_to_the_folder(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Satu.")
    write(tmp_path / "sub" / "b.md", "# Judul B\n\nIsi artikel **penting** dengan [tautan](http://x).")
    docs = {d.doc_id: d for d in read_documents([tmp_path]).documents}
    assert set(docs) == {"a", "sub/b"}
    assert docs["sub/b"].title == "Judul B"
    assert "Isi artikel penting dengan tautan." in docs["sub/b"].text


def test_encodings_are_decoded(tmp_path: Path) -> None:
    text = "Gubernur Jawa Barat meresmikan café baru di Bandung."
    write(tmp_path / "latin1.txt", text.encode("latin-1"))
    write(tmp_path / "utf16.txt", text.encode("utf-16"))
    write(tmp_path / "bom.txt", b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = read_documents([tmp_path])
    assert result.skipped == []
    assert {d.text for d in result.documents} == {text}


def test_bad_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "Berita yang baik.")
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "blank.txt", "  \n\n \t \n")
    write(tmp_path / "junk.txt", bytes(range(256)) * 40)
    write(tmp_path / "photo.jpg", b"\xff\xd8\xff\xe0")
    write(tmp_path / "big.txt", "x" * 2_000_000)
    result = read_documents([tmp_path], max_file_mb=1)
    assert [d.doc_id for d in result.documents] == ["good"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons["empty.txt"].startswith("empty") and reasons["blank.txt"].startswith("empty")
    assert "binary" in reasons["junk.txt"]
    assert "unsupported" in reasons["photo.jpg"]
    assert "too large" in reasons["big.txt"]


def test_hard_wrapped_text_is_joined_into_paragraphs(tmp_path: Path) -> None:
    [doc] = read_documents([write(tmp_path / "w.txt", "Baris satu\nbaris dua.\n\nParagraf dua\nlanjut.\n")]).documents
    assert doc.text == "Baris satu baris dua.\n\nParagraf dua lanjut."


def test_sentences_survive_abbreviations_and_initials() -> None:
    text = 'Dr. H. Ahmad tiba pukul 10.00 WIB. Ia membawa Rp. 5 juta! "Benar," katanya. Lalu pergi?'
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["Dr. H. Ahmad tiba pukul 10.00 WIB.", "Ia membawa Rp. 5 juta!", '"Benar," katanya.', "Lalu pergi?"]


def test_language_detection_and_english_terms_translated() -> None:
    assert detect_language("Who offered Jack Ma the advisor role?") == "en"
    assert detect_language("Siapa yang menawari Jack Ma menjadi penasehat?") == "id"
    assert {"tawar", "nasehat"} <= set(query_terms("Who offered Jack Ma the advisor role?"))
    assert "tawar" in query_terms("Siapa yang menawari Jack Ma?")  # stemmed
