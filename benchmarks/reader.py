"""The reader against the linear span scorer, and the choice of how its scores decide (ReaderPolicy).

    python -m benchmarks.reader --split dev  --choose     # grid over the policy on dev; prints the best
    python -m benchmarks.reader --split test              # the shipped settings on test

Sets (each over an index of its own articles, built if missing): FacQA (`--facqa-index`, 311 questions a
split), the 50 English questions written from the first 50 FacQA questions of the split
(`data/{split}/facqa-{split}-en.jsonl`), and TyDi QA GoldP Indonesian dev (`--tydi-index`; dev only:
it has no test split here). Negatives for abstention: the FacQA questions over an index of the seed
article alone (every answer there is a guess), as in benchmarks/abstention.py.

Retrieval runs once per question; the reader reads the top 5 once; every policy is then applied to the
stored readings, so the grid costs nothing but arithmetic.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Settings, Tanya
from qa.ask.answer import extract_answer
from qa.ask.decision import ReaderPolicy
from qa.ask.question import analyse
from qa.ask.reader import get_reader
from qa.training.evaluation import exact_match, load_questions, token_f1

if TYPE_CHECKING:
    from qa.ask.reader_model import ReaderModel

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def collect(tanya: Tanya, questions: list[dict], reader, depth: int = 5) -> list[dict]:
    """Per question: its record, hits, the reader's readings of the top `depth`, and the time each step took."""
    out = []
    retriever = tanya.retriever()
    for record in questions:
        t0 = time.perf_counter()
        q = analyse(record["question"])
        hits = retriever.search(q, k=max(10, depth))
        t1 = time.perf_counter()
        readings = reader.read(q, hits[:depth]) if reader else []
        t2 = time.perf_counter()
        out.append(
            {
                "record": record,
                "q": q,
                "hits": hits,
                "readings": readings,
                "retrieve_ms": (t1 - t0) * 1000,
                "read_ms": (t2 - t1) * 1000,
            }
        )
    return out


def _readings(it: dict, passages: int, policy: ReaderPolicy | None, sure: float) -> list | None:
    """The readings the pipeline would have: the first `passages`, or the first alone when its margin
    reaches `sure` (Reader.read_top); None without a policy (the linear span scorer)."""
    if policy is None:
        return None
    readings = it["readings"][:passages]
    return readings[:1] if readings and readings[0].margin >= sure else readings


def _stop_changes(it: dict, passages: int, policy: ReaderPolicy, sure: float) -> bool:
    """Whether reading the first passage alone changes the passage the answer comes from."""
    readings = it["readings"][:passages]
    return (
        len(_readings(it, passages, policy, sure) or ()) == 1 < len(readings)
        and max(readings, key=policy.preference) is not readings[0]
    )


def score(items: list[dict], min_support: float, passages: int, policy: ReaderPolicy | None, sure: float = float("inf")) -> dict:
    """EM, F1 and abstentions of one way of answering over collected items."""
    em = f1 = abstained = 0.0
    for it in items:
        readings = _readings(it, passages, policy, sure)
        answer = extract_answer(it["q"], it["hits"], min_support, readings=readings, policy=policy)
        golds = [str(a) for a in it["record"]["answers"]]
        prediction = "" if answer.abstained else answer.text
        em += exact_match(prediction, golds)
        f1 += token_f1(prediction, golds)
        abstained += answer.abstained
    n = max(1, len(items))
    return {"em": em / n, "f1": f1 / n, "abstained": abstained / n}


def answered(
    items: list[dict], min_support: float, passages: int, policy: ReaderPolicy | None, sure: float = float("inf")
) -> float:
    """Share of negatives (questions the index cannot answer) that got an answer anyway."""
    got = 0
    for it in items:
        readings = _readings(it, passages, policy, sure)
        got += not extract_answer(it["q"], it["hits"], min_support, readings=readings, policy=policy).abstained
    return got / max(1, len(items))


def speed(tanya: Tanya, questions: list[dict], folder: Path, passages: int) -> None:
    """Reading time of the top passages per question: fp32 vs int8 weights, 1 vs 2 threads, and ONNX
    Runtime (when it is installed; not a dependency of Tanya)."""
    import torch

    from qa.ask.reader import TransformerReader, pad_batch

    retriever = tanya.retriever()
    work = [(analyse(r["question"]), retriever.search(analyse(r["question"]), k=passages)) for r in questions]
    print(f"| weights | threads | reading {passages} passages p50 ms | p95 ms | same span as fp32 |")
    print("|---|---|---|---|---|")

    def timed(reader, label: str, threads: int, same: float) -> None:
        reader.read(*work[0])
        times = []
        for q, hits in work:
            t = time.perf_counter()
            reader.read(q, hits)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"| {label} | {threads} | {times[len(times) // 2]:.0f} | {times[int(len(times) * 0.95)]:.0f} | {same:.2f} |")

    reference: list[str] | None = None
    for quantise in (False, True):
        reader = TransformerReader(folder)
        if quantise:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reader.model = torch.ao.quantization.quantize_dynamic(reader.model, {torch.nn.Linear}, dtype=torch.qint8)
        texts = [r.text for q, hits in work for r in reader.read(q, hits)]
        reference = reference or texts
        same = sum(a == b for a, b in zip(texts, reference)) / len(texts)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            timed(reader, "int8 (dynamic)" if quantise else "fp32", threads, same)
    try:
        import onnxruntime
    except ImportError:
        return
    reader = TransformerReader(folder)
    model = reader.model.float()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "reader.onnx")
        ids, mask = pad_batch([[0, 5, 6, 2, 7, 8, 2]] * 2, 1)
        axes = {name: {0: "batch", 1: "tokens"} for name in ("ids", "mask", "start", "end")}
        torch.onnx.export(
            model,
            (ids, mask),
            path,
            input_names=["ids", "mask"],
            output_names=["start", "end"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        def run(ids, mask):
            return tuple(torch.from_numpy(x) for x in session.run(None, {"ids": ids.numpy(), "mask": mask.numpy()}))

        reader.model = cast("ReaderModel", run)  # the reader only calls its model: (ids, mask) -> (start, end) logits
        texts = [r.text for q, hits in work for r in reader.read(q, hits)]
        assert reference is not None  # set by the fp32 pass above
        timed(reader, "fp32, ONNX Runtime", 2, sum(a == b for a, b in zip(texts, reference)) / len(texts))


def rerank(items: list[dict], policy: ReaderPolicy, min_support: float, penalties=(0.25, 0.5, 1.0, 2.0, 3.0)) -> list[dict]:
    """The reader as a cross-encoder reranker over the passages it read: retrieval order (the linear
    reranker's) against the reader's margin minus a penalty per retrieval rank; recall, MRR and the
    answer when the reader's readings of all of them decide it."""
    from qa.training.evaluation import is_gold

    depth = len(items[0]["readings"])

    def figures(label: str, key) -> dict:
        r1 = r5 = mrr = 0.0
        for it in items:
            hits = ([r.hit for r in sorted(it["readings"], key=key, reverse=True)] + it["hits"][depth:])[:10]
            first = next((n for n, h in enumerate(hits, 1) if is_gold(h, it["record"])), None)
            r1 += first == 1
            r5 += first is not None and first <= 5
            mrr += 1 / first if first else 0.0
        n = len(items)
        return {"order": label, "recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n}

    rows = [figures("retrieval (linear reranker, shipped)", lambda r: -r.hit.rank)]
    rows += [figures(f"reader margin - {p} x (rank - 1)", replace(policy, rank_penalty=p).preference) for p in penalties]
    rows.append(figures("reader margin alone", lambda r: r.margin))
    for passages in sorted({3, depth}):
        got = score(items, min_support, passages, policy)
        rows.append({"order": f"answer from the reader's top {passages} (shipped policy)", **got})
    return rows


def _memoise_sentences() -> None:
    """The grid re-answers the same questions over the same hits: their sentence scores are computed once."""
    import qa.ask.answer as answer

    plain, memo = answer.best_sentences, {}

    def sentences(q, hits, passages):
        key = (id(q), id(hits), passages)
        if key not in memo:
            memo[key] = plain(q, hits, passages)
        return memo[key]

    answer.best_sentences = sentences  # type: ignore[assignment]


def index(path: Path, articles: Path) -> Tanya:
    tanya = Tanya(Settings.from_env(index_dir=path))
    if not tanya.has_index():
        print(f"indexing {articles} into {path} …", file=sys.stderr)
        tanya.articles.index([articles])
    return tanya


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--facqa-index", type=Path, default=Path("/tmp/facqa"))
    parser.add_argument("--tydi-index", type=Path, default=Path("/tmp/tydi"))
    parser.add_argument("--reader", default="e5", help="QA_READER value: e5 or a folder written by qa train --reader")
    parser.add_argument("--choose", action="store_true", help="grid over the policy (dev only) and print the best")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--rerank", type=int, metavar="N", help="instead: the reader as a reranker of the top N (FacQA and its English set)"
    )
    parser.add_argument("--speed", type=int, metavar="N", help="instead: time the reader on N dev questions (fp32/int8, threads)")
    args = parser.parse_args()

    settings = Settings.from_env()
    if args.speed:
        from qa.ask.reader import READER_DIR

        folder = READER_DIR if args.reader == "e5" else Path(args.reader)
        questions = load_questions(DATA / "facqa-id" / "questions-dev.jsonl")[: args.speed]
        speed(index(args.facqa_index, DATA / "facqa-id" / "articles"), questions, folder, settings.reader.passages)
        return 0
    reader = get_reader(args.reader, settings.reader.threads)
    if reader is None:
        raise SystemExit("no reader (torch missing, or no weights in qa/data/reader)")
    facqa = index(args.facqa_index, DATA / "facqa-id" / "articles")
    if args.rerank:
        _memoise_sentences()
        for name, path in (
            (f"FacQA {args.split}", DATA / "facqa-id" / f"questions-{args.split}.jsonl"),
            (f"FacQA {args.split}-50 (en)", ROOT / "data" / args.split / f"facqa-{args.split}-en.jsonl"),
        ):
            items = collect(facqa, load_questions(path), reader, depth=args.rerank)
            for r in rerank(items, ReaderPolicy.of(settings), settings.reader.min_support):
                print(name, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}))
            read = sorted(it["read_ms"] for it in items)
            print(
                f"{name}: reading {args.rerank} passages p50 {read[len(read) // 2]:.0f} ms, p95 {read[int(len(read) * 0.95)]:.0f} ms"
            )
        return 0
    sets = {
        f"FacQA {args.split}": (facqa, load_questions(DATA / "facqa-id" / f"questions-{args.split}.jsonl")),
        f"FacQA {args.split}-50 (en)": (facqa, load_questions(ROOT / "data" / args.split / f"facqa-{args.split}-en.jsonl")),
    }
    if args.split == "dev":
        sets["TyDi dev"] = (
            index(args.tydi_index, DATA / "tydiqa-id" / "articles"),
            load_questions(DATA / "tydiqa-id" / "questions-dev.jsonl"),
        )
    collected = {name: collect(t, qs, reader) for name, (t, qs) in sets.items()}
    with tempfile.TemporaryDirectory() as tmp:
        seed = Tanya(Settings.from_env(index_dir=Path(tmp) / "index"))
        seed.articles.index([ROOT / "seeds"])
        negatives = collect(seed, sets[f"FacQA {args.split}"][1] + sets[f"FacQA {args.split}-50 (en)"][1], reader)
    _memoise_sentences()

    min_support = settings.reader.min_support
    shipped = ReaderPolicy.of(settings)
    rows = []

    def row(label: str, passages: int, policy: ReaderPolicy | None, sure: float = float("inf")) -> dict:
        r: dict[str, Any] = {
            "system": label,
            "passages": passages,
            "policy": None
            if policy is None
            else [policy.rank_penalty, policy.min_margin, policy.weak_margin, policy.min_margin_en],
            "negatives_answered": answered(negatives, min_support, passages, policy, sure),
        }
        for name, items in collected.items():
            r[name] = score(items, min_support, passages, policy, sure)
            r[name]["read_one"] = sum(len(_readings(it, passages, policy, sure) or ()) == 1 for it in items) / len(items)
            r[name]["changed"] = policy is not None and sum(_stop_changes(it, passages, policy, sure) for it in items)
        return r

    rows.append(row("linear span scorer (before)", 3, None))
    rows.append(row("reader (shipped settings)", settings.reader.passages, shipped, settings.reader.sure_margin))
    rows.append(row("reader, always reading all", settings.reader.passages, shipped))
    if args.choose:
        for sure in (10.0, 8.0, 7.0, 6.0, 5.0, 4.0):
            rows.append(row(f"reader, the first alone when its margin >= {sure}", settings.reader.passages, shipped, sure))
    if args.choose:
        baseline = rows[0]
        main_set = f"FacQA {args.split}"
        best = None
        grid = itertools.product(
            (2, 3), (1.0, 2.0, 3.0), (0.0, 1.0, 2.0, 3.0, 4.0, 5.0), (-8.0, -6.0, -4.0, -2.0, 99.0), (-4.0, -2.0, 0.0, 2.0, None)
        )
        for passages, penalty, margin, weak, margin_en in grid:
            policy = ReaderPolicy(penalty, margin, weak, margin_en)
            r = row("candidate", passages, policy)
            # abstention no worse than the linear scorer's: on negatives, and on FacQA's positives
            if r["negatives_answered"] > baseline["negatives_answered"] + 1e-9:
                continue
            if r[main_set]["abstained"] > baseline[main_set]["abstained"] + 1e-9:
                continue
            objective = statistics.mean(r[name]["f1"] for name in collected)
            if best is None or objective > best[0]:
                best = (objective, r)
        if best:
            best[1]["system"] = "reader (best on dev)"
            rows.append(best[1])

    print(
        "| system | passages read | policy (rank penalty, min margin, weak margin, min margin en) | negatives answered | "
        + " | ".join(f"{n} EM / F1 / abstained / read one / changed" for n in collected)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(collected))
    for r in rows:
        print(
            f"| {r['system']} | {r['passages']} | {r['policy']} | {r['negatives_answered']:.3f} | "
            + " | ".join(
                f"{r[n]['em']:.3f} / {r[n]['f1']:.3f} / {r[n]['abstained']:.3f} / {r[n]['read_one']:.2f} / {int(r[n]['changed'])}"
                for n in collected
            )
            + " |"
        )
    for name, items in collected.items():
        read = sorted(it["read_ms"] for it in items)
        print(
            f"{name}: retrieval p50 {statistics.median(it['retrieve_ms'] for it in items):.0f} ms, "
            f"reading 5 passages p50 {read[len(read) // 2]:.0f} ms"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
