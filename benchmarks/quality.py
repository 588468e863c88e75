"""Answer quality side by side on FacQA-id: ours against the stacks a user would otherwise build.

    python -m benchmarks.quality [--data ../shared/data/facqa-id] [--index-dir /tmp/facqa-bench] [--limit N]

In one run: indexes the 1,355 FacQA articles with Tanya (reusing an existing index of them), then
for dev and test reports, per system, gold-passage Recall@1/@5, MRR@10, answer found in the top 5
passages, answer exact match and token F1, and p50 question latency:

- peer "LangChain quickstart": RecursiveCharacterTextSplitter(1000/200) + LangChain's FAISS vector
  store + the same embedding model, top-k similarity; answer = the top passage's best sentence;
- peer "BM25 alone": bm25s over plain lowercase word tokens; same answer rule;
- peer "dense alone": the same model over our chunks (our FAISS index), same answer rule;
- ours, as shipped (hybrid retrieval, learned reranker, extractive answer).

Also: 50 English dev questions (data/dev/facqa-dev-en.jsonl, translated by hand from the first 50
FacQA dev questions) against the same 50 in Indonesian. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Settings, Tanya
from qa.index.chunks import text_hash
from qa.index.embedding import get_embedder
from qa.text import STOPWORDS, sentence_spans, tokens
from qa.training.evaluation import exact_match, load_questions, normalise_answer, token_f1

ROOT = Path(__file__).resolve().parent.parent

# A system takes a question and returns (ranked passages as (doc_id, text), answer text).
System = Callable[[str], tuple[list[tuple[str, str]], str]]


def best_sentence(question: str, passage: str) -> str:
    """The passage sentence sharing the most question words (plain lowercase tokens)."""
    words = {t for t in tokens(question) if t not in STOPWORDS}
    spans = sentence_spans(passage) or [(0, len(passage))]
    return max((passage[a:b] for a, b in spans), key=lambda s: len(words & set(tokens(s))))


def langchain_quickstart(tanya: Tanya, articles: Path) -> System:
    """The LangChain quickstart stack over the same articles and the same embedding model."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embedder = get_embedder(tanya.settings.embedding.model)
    # Same model + same text = same vector: reuse ours where the text matches, embed the rest.
    snapshot = tanya.retriever().snapshot

    class SameModel(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            known = snapshot.table.rows_for_hashes([text_hash(t) for t in texts])
            rows = [known.get(text_hash(t)) for t in texts]
            out: dict[int, list[float]] = {}
            cached = {i: r for i, r in enumerate(rows) if r is not None}
            if cached:
                for i, v in zip(cached, snapshot.vectors.vectors(list(cached.values()))):
                    out[i] = v.tolist()
            todo = [i for i, r in enumerate(rows) if r is None]
            if todo:
                for i, v in zip(todo, embedder.embed_passages([texts[i] for i in todo])):
                    out[i] = v.tolist()
            return [out[i] for i in range(len(texts))]

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_queries([text])[0].tolist()

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts, metadatas = [], []
    for path in sorted(articles.glob("*.txt")):
        for piece in splitter.split_text(path.read_text(encoding="utf-8")):
            texts.append(piece)
            metadatas.append({"doc_id": path.stem})
    store = FAISS.from_texts(texts, SameModel(), metadatas=metadatas)

    def ask(question: str) -> tuple[list[tuple[str, str]], str]:
        docs = store.similarity_search(question, k=10)
        passages = [(d.metadata["doc_id"], d.page_content) for d in docs]
        return passages, best_sentence(question, passages[0][1]) if passages else ""

    return ask


def bm25_alone(articles: Path) -> System:
    """bm25s over plain lowercase word tokens, one document per article."""
    import bm25s

    ids, texts = [], []
    for path in sorted(articles.glob("*.txt")):
        ids.append(path.stem)
        texts.append(path.read_text(encoding="utf-8").strip())
    retriever = bm25s.BM25()
    retriever.index([tokens(t) for t in texts], show_progress=False)

    def ask(question: str) -> tuple[list[tuple[str, str]], str]:
        scores = retriever.get_scores(tokens(question))
        top = scores.argsort()[::-1][:10]
        passages = [(ids[i], texts[i]) for i in top if scores[i] > 0]
        return passages, best_sentence(question, passages[0][1]) if passages else ""

    return ask


def dense_alone(tanya: Tanya) -> System:
    """Our chunks and our FAISS index, dense search only, best-sentence answer."""

    def ask(question: str) -> tuple[list[tuple[str, str]], str]:
        hits = tanya.retriever().search(question, k=10, mode="dense")
        passages = [(h.chunk.doc_id, h.chunk.text) for h in hits]
        return passages, best_sentence(question, passages[0][1]) if passages else ""

    return ask


def ours(tanya: Tanya) -> System:
    """Tanya as shipped."""

    def ask(question: str) -> tuple[list[tuple[str, str]], str]:
        answer = tanya.ask(question, k=10)
        return [(h.chunk.doc_id, h.chunk.text) for h in answer.hits], "" if answer.abstained else answer.text

    return ask


def measure(system: System, questions: list[dict]) -> dict[str, float]:
    """The figures of one system on one question set."""
    sums = dict.fromkeys(("r1", "r5", "mrr", "in5", "em", "f1"), 0.0)
    latencies = []
    for q in questions:
        started = time.perf_counter()
        passages, answer = system(q["question"])
        latencies.append((time.perf_counter() - started) * 1000)
        ranks = [i for i, (doc_id, _) in enumerate(passages[:10], start=1) if doc_id == q["doc_id"]]
        first = ranks[0] if ranks else None
        sums["r1"] += first == 1
        sums["r5"] += bool(first and first <= 5)
        sums["mrr"] += 1 / first if first else 0
        top5 = " ".join(normalise_answer(t) for _, t in passages[:5])
        sums["in5"] += any(normalise_answer(g) in top5 for g in q["answers"])
        sums["em"] += exact_match(answer, q["answers"])
        sums["f1"] += token_f1(answer, q["answers"])
    n = len(questions)
    result = {k: v / n for k, v in sums.items()}
    result["p50"] = statistics.median(latencies)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "facqa-id")
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/facqa-bench"))
    parser.add_argument("--limit", type=int, help="only the first N questions of each split (quick run)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    articles = args.data / "articles"
    tanya = Tanya(Settings.from_env(index_dir=args.index_dir))
    started = time.perf_counter()
    report = tanya.articles.index([articles])
    print(
        f"indexed {report.documents} articles, {report.chunks} chunks in {time.perf_counter() - started:.1f} s "
        f"(embedded {report.embedded}, reused {report.reused})",
        file=sys.stderr,
    )
    tanya.warm_up()

    systems = {
        "LangChain quickstart (peer)": langchain_quickstart(tanya, articles),
        "BM25 alone (peer)": bm25_alone(articles),
        "dense alone (peer)": dense_alone(tanya),
        "ours": ours(tanya),
    }
    sets = {
        "dev": load_questions(args.data / "questions-dev.jsonl")[: args.limit],
        "test": load_questions(args.data / "questions-test.jsonl")[: args.limit],
    }
    english = load_questions(ROOT / "data" / "dev" / "facqa-dev-en.jsonl")
    sets["dev-50 (id)"] = sets["dev"][: len(english)]
    sets["dev-50 (en)"] = english[: args.limit]

    results: dict[str, dict[str, dict[str, float]]] = {}
    print("| set | system | Recall@1 | Recall@5 | MRR@10 | answer in top 5 | EM | F1 | p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for set_name, questions in sets.items():
        for name, system in systems.items():
            r = measure(system, questions)
            results.setdefault(set_name, {})[name] = r
            print(
                f"| {set_name} ({len(questions)}) | {name} | {r['r1']:.3f} | {r['r5']:.3f} | {r['mrr']:.3f} | "
                f"{r['in5']:.3f} | {r['em']:.3f} | {r['f1']:.3f} | {r['p50']:.1f} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
