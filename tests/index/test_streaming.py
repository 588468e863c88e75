"""The streaming build's parts give what the in-memory ones gave: BM25 from run files on disk, FAISS
filled block by block from a scratch file, and a whole build cut into tiny windows and runs."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import bm25s
import numpy as np
import pytest
from conftest import ROOT, SEEDS, settings_for

from qa import Tanya
from qa.index.build import _Build
from qa.index.keywords import KeywordIndex, KeywordIndexWriter
from qa.index.scratch import VectorFile
from qa.index.vectors import FaissVectorStore, _exact_top
from qa.index.versions import load_snapshot
from qa.text import terms

FACQA = ROOT.parent / "shared" / "data" / "facqa-id" / "articles"
pytestmark = pytest.mark.shared


def _articles(folder: Path, n: int) -> Path:
    if not FACQA.is_dir():
        pytest.fail(f"{FACQA} is missing: these tests need the shared FacQA articles")
    folder.mkdir()
    shutil.copy(SEEDS / "000_3a3f117793ab0552.txt", folder)
    for path in sorted(FACQA.glob("*.txt"))[:n]:
        shutil.copy(path, folder)
    return folder


def test_keyword_index_written_from_runs_scores_exactly_as_bm25s(tmp_path: Path) -> None:
    corpus = [terms(p) for f in sorted(FACQA.glob("*.txt"))[:300] for p in f.read_text(encoding="utf-8").split("\n") if p.strip()]
    corpus.insert(7, [])  # a passage with no terms still counts in the average length
    bm25 = bm25s.BM25()  # its defaults: what the reranker was trained on
    bm25.index(corpus, show_progress=False)
    reference = KeywordIndex(bm25)
    writer = KeywordIndexWriter(tmp_path / "runs", buffer=997)  # ~100 runs, merged ~100 term ranges at a time
    for chunk_terms in corpus:
        writer.add(chunk_terms)
    writer.finish(tmp_path / "keyword")
    assert not (tmp_path / "runs").exists()
    ours = KeywordIndex.load(tmp_path / "keyword")
    rng = random.Random(0)
    for _ in range(100):
        query = rng.sample(rng.choice([c for c in corpus if len(c) > 5]), 4)
        assert np.array_equal(ours.bm25.get_scores(query), reference.bm25.get_scores(query))
        assert ours.idf(query[0]) == reference.idf(query[0])
    assert ours.idf("tidakadakatainidimanapun") == reference.idf("tidakadakatainidimanapun")


def test_faiss_filled_block_by_block_from_a_scratch_file_is_the_in_memory_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 384))
    vectors = (centres[rng.integers(0, 50, 40_000)] + rng.normal(0, 0.6, (40_000, 384))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scratch = VectorFile(tmp_path / "v.f32", 384)
    for at in range(0, len(vectors), 3000):
        scratch.append(vectors[at : at + 3000])
    assert len(scratch) == 40_000 and np.array_equal(scratch.take(np.array([5, 39_999, 0])), vectors[[5, 39_999, 0]])
    from_file = FaissVectorStore.build(scratch, exact_max=10_000)
    in_memory = FaissVectorStore.build(vectors, exact_max=10_000)
    scratch.delete()
    assert from_file.info == in_memory.info and from_file.info["type"].startswith("IVF")
    queries = vectors[:100] + rng.normal(0, 0.05, (100, 384)).astype(np.float32)
    assert np.array_equal(from_file.search(queries, 10)[1], in_memory.search(queries, 10)[1])
    exact = _exact_top(vectors, queries, 10)  # blocks of 16k rows, merged
    assert np.array_equal(exact, np.argsort(-(queries @ vectors.T), axis=1)[:, :10])
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(from_file.search(queries, 10)[1], exact)])
    assert recall >= 0.95


def test_a_build_in_tiny_windows_and_runs_is_the_same_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _articles(tmp_path / "articles", 60)
    (folder / "zz-copy.txt").write_text(
        "Judul lain\n\n" + (folder / "000_3a3f117793ab0552.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    whole = Tanya(settings_for(tmp_path / "whole"))
    whole.articles.index([folder])
    monkeypatch.setattr(_Build, "WINDOW", 7)  # texts repeated across windows (the copy) are embedded once
    monkeypatch.setattr(_Build, "KEYWORD_BUFFER", 500)
    streamed = Tanya(settings_for(tmp_path / "streamed"))
    report = streamed.articles.index([folder])
    assert report.embedded < report.chunks  # the copy's paragraphs were not embedded twice
    a, b = load_snapshot(tmp_path / "whole"), load_snapshot(tmp_path / "streamed")
    assert a.manifest["chunks"] == b.manifest["chunks"] == report.chunks
    rows = range(report.chunks)
    assert [c.text for c in a.table.chunks(rows).values()] == [c.text for c in b.table.chunks(rows).values()]
    assert np.allclose(a.vectors.vectors(rows), b.vectors.vectors(rows), atol=1e-5)
    assert isinstance(a.keywords, KeywordIndex) and isinstance(b.keywords, KeywordIndex)
    for question in ("Siapa yang menawari Jack Ma menjadi penasehat?", "Apa nama latin dari harimau Sumatera?"):
        assert whole.ask(question).text == streamed.ask(question).text
        query = terms(question)
        assert np.array_equal(a.keywords.bm25.get_scores(query), b.keywords.bm25.get_scores(query))
    same = [[(f["doc_id"], f["sha256"], f["chunks"]) for f in t.articles.files()] for t in (whole, streamed)]
    assert same[0] == same[1] and len(same[0]) == 62
