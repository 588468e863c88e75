"""Written answers with checked citations, and the small model as a short-answer proposer, on FacQA dev.

    python -m benchmarks.generative [--llm gguf:gemma3-270m] [--n 50] [--proposer-n 311] [--index-dir /tmp/facqa]

Part 1, written answers (first N answerable dev questions, Indonesian; `--en` for the 50 English ones):
- answer accuracy: the gold answer (normalised) occurs in the model's reply as written, and in the
  answer shown (the written one, or the extracted one when nothing written was supported);
- citation recall/precision in the ALCE sense, per answer, averaged: for the markers the model wrote
  (before) and for those that stand after the check (after);
- gold-passage citations: the share of citations that point at the passage the question was written
  from (a check of the checker that does not depend on it);
- seconds per answer (retrieval + generation + check), and 3 examples.
Part 2, proposer (QA_LLM_MODE=proposer): the project picks the passage (the extractive answer's), the
model proposes a short answer, kept only if it occurs in that passage and the support model judges the
passage to support it better than the heuristic span; token F1 and exact match against the heuristic.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Settings, Tanya
from qa.training.evaluation import exact_match, is_gold, load_questions, normalise_answer, token_f1

ROOT = Path(__file__).resolve().parent.parent


def contains(text: str, golds: list[str]) -> bool:
    """Whether any gold answer occurs in the text, after normalisation."""
    norm = normalise_answer(text)
    return any(normalise_answer(g) and normalise_answer(g) in norm for g in golds)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generative", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "facqa-id")
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/facqa"))
    parser.add_argument("--llm", default="gguf:gemma3-270m")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--en", action="store_true", help="the 50 English dev questions (data/dev/facqa-dev-en.jsonl)")
    parser.add_argument("--proposer-n", type=int, default=311, help="questions for the proposer comparison (0: skip)")
    parser.add_argument("--proposer-split", default="dev", help="FacQA split for the proposer comparison (dev, test)")
    args = parser.parse_args()

    tanya = Tanya(Settings.from_env(index_dir=args.index_dir, llm=args.llm))
    tanya.articles.index([args.data / "articles"])
    source = ROOT / "data" / "dev" / "facqa-dev-en.jsonl" if args.en else args.data / "questions-dev.jsonl"
    questions = [q for q in load_questions(source) if q["answers"]]
    tanya.ask(questions[0]["question"])  # load the model and the index before timing

    rows = []
    for q in questions[: args.n]:
        started = time.perf_counter()
        answer = tanya.ask(q["question"])
        seconds = time.perf_counter() - started
        gold_cites = {
            when: [is_gold(answer.hits[n - 1], q) for st in answer.statements for n in getattr(st, markers)]
            for when, markers in (("before", "cited"), ("after", "citations"))
        }
        rows.append((q, answer, seconds, gold_cites))

    n = len(rows)
    written = [a for _, a, _, _ in rows if a.statements]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    print(f"## Written answers — {args.llm}, {n} FacQA dev questions ({'English' if args.en else 'Indonesian'})\n")
    print("| measure | value |\n|---|---|")
    print(f"| gold answer in the reply as written | {mean([contains(a.raw_reply, q['answers']) for q, a, _, _ in rows]):.2f} |")
    print(
        f"| gold answer in the extracted answer (default mode, no model) | {mean([contains(tanya.ask(q['question'], llm='').text, q['answers']) for q, _, _, _ in rows]):.2f} |"
    )
    print(
        f"| gold answer in the answer shown (written, or extracted on fallback) | {mean([contains(a.text, q['answers']) for q, a, _, _ in rows]):.2f} |"
    )
    shown_written = [(q, a) for q, a, _, _ in rows if a.mode == "generative" and not a.abstained]
    print(
        f"| answers shown as written by the model | {len(shown_written)}/{n}, of which {sum(contains(a.text, q['answers']) for q, a in shown_written)} hold the gold answer |"
    )
    print(f"| fell back to the extracted answer | {sum(a.mode == 'extractive' for _, a, _, _ in rows)}/{n} |")
    print(f"| abstained | {sum(a.abstained for _, a, _, _ in rows)}/{n} |")
    for key, label in (("recall", "citation recall"), ("precision", "citation precision")):
        before = mean([a.citation_quality[f"{key}_before"] for a in written])
        after = mean([a.citation_quality[f"{key}_after"] for a in written])
        print(f"| {label} (ALCE, our support model as judge): as written → after the check | {before:.2f} → {after:.2f} |")
    for when in ("before", "after"):
        cites = [g for *_, gc in rows for g in gc[when]]
        print(
            f"| citations pointing at the gold passage, {'as written' if when == 'before' else 'after the check'} | "
            f"{mean(cites):.2f} ({len(cites)} citations) |"
        )
    statements = [st for a in written for st in a.statements]
    print(
        f"| sentences: supported as cited / corrected / unsupported | {sum(st.supported and not st.corrected for st in statements)} / "
        f"{sum(st.corrected for st in statements)} / {sum(not st.supported for st in statements)} |"
    )
    pairs = [(contains(st.text, q["answers"]), st.supported) for q, a, _, _ in rows for st in a.statements]
    right = [sup for gold, sup in pairs if gold]
    wrong = [sup for gold, sup in pairs if not gold]
    print(f"| check vs gold: sentences holding the gold answer judged supported | {sum(right)}/{len(right)} |")
    print(f"| check vs gold: sentences without the gold answer judged supported | {sum(wrong)}/{len(wrong)} |")
    times = [s for _, _, s, _ in rows]
    print(f"| seconds per answer: mean / p50 / max | {mean(times):.2f} / {statistics.median(times):.2f} / {max(times):.2f} |")

    print("\n### Examples\n")
    picks = [r for r in rows if r[1].mode == "generative" and any(st.corrected for st in r[1].statements)][:1]
    picks += [r for r in rows if r[1].mode == "generative" and r not in picks][:1]
    picks += [r for r in rows if r[1].mode == "extractive" and r[1].statements][:1]
    for q, a, s, _ in picks:
        checks = "; ".join(
            f"“{st.text}” cited {list(st.cited) or 'nothing'} → {list(st.citations) or 'unsupported'}" for st in a.statements
        )
        print(
            f"- **{q['question']}** (gold: {q['answers'][0]})  \n  model wrote: `{a.raw_reply.strip()}`  \n"
            f"  check: {checks}  \n  shown: `{a.reply.splitlines()[0]}`{' — ' + a.notice if a.notice else ''} ({s:.1f} s)"
        )

    if args.proposer_n:
        split = [q for q in load_questions(args.data / f"questions-{args.proposer_split}.jsonl") if q["answers"]]
        proposer(tanya, split[: args.proposer_n], args.llm, args.proposer_split)
    return 0


def proposer(tanya: Tanya, questions: list[dict], spec: str, split: str) -> None:
    """Heuristic span vs the span the model proposes (QA_LLM_MODE=proposer), on the same questions."""
    with_model = Tanya(tanya.settings.with_values(llm_mode="proposer"))
    heuristic, proposed, replaced, seconds = [], [], 0, []
    for q in questions:
        golds = [str(g) for g in q["answers"]]
        answer = tanya.ask(q["question"], llm="")
        heuristic.append((token_f1(answer.text, golds), exact_match(answer.text, golds)))
        started = time.perf_counter()
        answer = with_model.ask(q["question"])
        seconds.append(time.perf_counter() - started)
        replaced += answer.mode == "extractive+proposer"
        proposed.append((token_f1(answer.text, golds), exact_match(answer.text, golds)))
    n = len(questions)
    print(f"\n## Short-answer proposer — {spec}, {n} answerable FacQA {split} questions (Indonesian)\n")
    print("| answer span | F1 | EM |\n|---|---|---|")
    print(f"| heuristic extractor (default) | {sum(f for f, _ in heuristic) / n:.3f} | {sum(e for _, e in heuristic) / n:.3f} |")
    print(
        f"| QA_LLM_MODE=proposer: the model's span where the support model prefers it | {sum(f for f, _ in proposed) / n:.3f} | "
        f"{sum(e for _, e in proposed) / n:.3f} |"
    )
    print(f"\nspans replaced by the model's: {replaced}/{n}; seconds per answer with the proposer: mean {sum(seconds) / n:.2f}")


if __name__ == "__main__":
    sys.exit(main())
