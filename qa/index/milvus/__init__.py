"""The index on Milvus: Milvus Lite embedded (a file), a Milvus server, or a cluster — one client.

    QA_STORE=milvus QA_MILVUS_URI=/data/tanya.db            # Milvus Lite, in process
    QA_STORE=milvus QA_MILVUS_URI=http://milvus:19530       # a server or cluster (QA_MILVUS_TOKEN)

A first build (or `--rebuild`) is staged locally as usual (chunk table, vectors) and copied into four
collections named after the version, `{name}__{version}__chunks|docs|texts|terms`, plus a small one
that says which rows are published, `{name}__{version}__g0`; only then does the alias `{name}` move to
it, so a reader never sees half a build. Later updates write into the same collections
(update.py): only the new and changed articles' rows, marked with the next
*generation*; a new `…__g{N}` names the published generation and the articles it supersedes, and the
alias moving to it is the switch. A reader sees the rows of generations ≤ N, but not the superseded
articles' older rows (`View`), which are deleted after the switch. A loaded snapshot reads with its
own view, so the alias can move under it safely.

Keyword search is the embedded store's BM25 (bm25s, Lucene's formula) split in two: each passage's
sparse vector holds the saturated frequency of each of its Sastrawi-stemmed terms (tf / (tf + k1·(1 −
b + b·dl/avgdl)), avgdl fixed when the version was written), and a question's sparse vector holds each
of its terms' idf, computed from the document frequencies in `terms`, which every update keeps
current; the inner product Milvus computes is the BM25 score, exact after a full build and with
current idf after any number of updates. (Milvus's own BM25 function was tried: after deletions its
statistics drift, in Milvus Lite even after compaction; BENCHMARKS.md.)

Collections (a Milvus collection needs a vector field: the auxiliary ones carry a 2-d zero vector):
- chunks: row (primary key, the passage's row), gen, chunk fields, text_hash, dense (FLOAT_VECTOR, IP),
  sparse (SPARSE_FLOAT_VECTOR, IP: term id → saturated term frequency)
- docs: key (doc_id#gen), doc_id, gen, the file record (source, title, sha256, chunks, added_at, date,
  url, page_starts), seq, rows (its passages' rows, as ranges: "40-52,97-99", end excluded)
- texts: an article's text in parts of ≤ 16,000 characters (VARCHAR holds 65,535 bytes), by doc_id and gen
- terms: term, id, df;  g{N}: the manifest and the state (generation, superseded articles, next row, seq and
  term id)

The package, one job per module: `connection` (the client, retries, collections made), `lease` (one
builder at a time), `backend` (versions, the alias, publishing, generations), `readers` (what a
question reads), `rows` (what a row holds), `update` (updates that cost what changed).
"""

from .backend import MilvusBackend

__all__ = ["MilvusBackend"]
