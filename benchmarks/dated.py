"""Time-bound questions (issue #24, "dates that matter"): answers with and without the date preference,
over the dated collection in data/test/dated/ (invented articles where each topic recurs in
different years; see its README).

    python -m benchmarks.dated [--split dev|test|all] [--index /tmp/dated-index] [--margins 1,2,4]

Builds the index once (if missing), then asks every question of the split with its own "today",
"since" and "until" (the question record's), once with the preference switched off and once for
each margin. Printed per setting and per kind of question: answer EM and F1, and how often the
first citation is the article holding the answer; wrongly withheld answers.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from qa import Settings, Tanya
from qa.ask.when import Dates
from qa.training.evaluation import exact_match, token_f1

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "test" / "dated"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dated")
    parser.add_argument("--split", default="dev", choices=("dev", "test", "all"))
    parser.add_argument("--index", type=Path, default=Path("/tmp/dated-index"))
    parser.add_argument("--margins", default="2", help="time_margin values to try, comma-separated")
    parser.add_argument("--show", action="store_true", help="print each question's answer")
    args = parser.parse_args()
    questions = [json.loads(line) for line in open(DATA / "questions.jsonl", encoding="utf-8") if line.strip()]
    questions = [q for q in questions if args.split == "all" or q["split"] == args.split]
    settings = Settings.from_env(index_dir=args.index)
    tanya = Tanya(settings)
    if not tanya.has_index():
        tanya.articles.index([DATA / "articles"])
    undated = [f["source"] for f in tanya.articles.files() if not f.get("date")]
    print(f"{len(tanya.articles.files())} articles, {len(undated)} without a date: {', '.join(Path(u).name for u in undated)}")
    runs = [("no date preference", settings.with_values(time_preference=False))]
    runs += [
        (f"preference, margin {m}", settings.with_values(time_preference=True, time_margin=float(m)))
        for m in args.margins.split(",")
    ]
    print(f"{len(questions)} questions ({args.split})")
    for label, run_settings in runs:
        asker = Tanya(run_settings)
        sums: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        latencies = []
        for q in questions:
            dates = Dates.of(q.get("since"), q.get("until"), q.get("today"))
            answer = asker.ask(q["question"], dates=dates)
            latencies.append(answer.timings_ms["total"])
            predicted = "" if answer.abstained else answer.text
            right_article = bool(answer.citations) and Path(answer.citations[0].source).name == q["article"]
            for group in ("all", q["kind"], q["lang"]):
                s = sums[group]
                s["n"] += 1
                s["em"] += exact_match(predicted, q["answers"])
                s["f1"] += token_f1(predicted, q["answers"])
                s["article"] += right_article
                s["withheld"] += answer.abstained
            if args.show:
                mark = "✓" if right_article else "✗"
                print(
                    f"  {mark} {q['id']} {q['kind']:<8} {q['question'][:70]!r} → {predicted[:40]!r} ({answer.citations[0].source if answer.citations else '-'})"
                )
        print(f"\n{label}  (p50 {statistics.median(latencies):.0f} ms)")
        print(f"  {'':<10} {'n':>3}  {'EM':>5}  {'F1':>5}  {'article':>7}  {'withheld':>8}")
        for group in ["all", *sorted(k for k in sums if k != "all")]:
            s = sums[group]
            n = s["n"]
            print(
                f"  {group:<10} {n:>3.0f}  {s['em'] / n:>5.3f}  {s['f1'] / n:>5.3f}  {s['article'] / n:>7.3f}  {s['withheld'] / n:>8.3f}"
            )


if __name__ == "__main__":
    main()
