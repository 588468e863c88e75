"""How the sentence chooser's probability, the reader's span and the retrieval rank are weighed, chosen
on dev: every candidate sentence of the passages read, scored, then a grid over the weights.

    python -m benchmarks.sentence_choice SET… [--rows OUT.jsonl]

A SET is QUESTIONS@INDEX_DIR (as in benchmarks.sentences; dev sets only: this chooses). For each
question: the retrieved passages, the chooser's probability for every sentence of the first three, the
reader's span in each (`holds`: the sentence holds it), and each sentence's token F1 against the gold
one. Then, for each reader weight and rank penalty: how often the best-scored sentence is the answer's
(F1 ≥ 0.5); and for the chosen weights, what each threshold on the score gives (useful, wrong,
withheld, unanswerables refused). The shipped weights are in qa/data/sentence-chooser/meta.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Settings, Tanya
from qa.ask.choosing import candidates, chooser, log_odds
from qa.ask.question import analyse
from qa.training.evaluation import load_questions, token_f1

RIGHT_F1 = 0.5


def candidate_rows(sets: list[str], passages: int = 3) -> list[dict]:
    model = chooser()
    if model is None:
        raise SystemExit("no sentence chooser is shipped (qa/data/sentence-chooser) or torch is missing")
    rows = []
    for spec in sets:
        questions_file, _, index_dir = spec.partition("@")
        tanya = Tanya(Settings.from_env(index_dir=Path(index_dir)))
        retriever, reader = tanya.retriever(), tanya.reader
        for record in load_questions(Path(questions_file)):
            q = analyse(record["question"])
            golds = [str(a) for a in record.get("answers") or []]
            hits = retriever.search(q)
            found = candidates(hits, passages)
            p = model.probabilities(q, [c.text for c in found]) if found else []
            spans = {id(r.hit): (r.start, r.end) for r in (reader.read(q, hits[:passages]) if reader else [])}
            cands = []
            for c, prob in zip(found, p, strict=True):
                a, b = spans.get(id(c.hit), (0, 0))
                f1 = token_f1(c.text, golds) if golds else 0.0
                cands.append({"rank": c.hit.rank, "p": prob, "holds": a < b and a < c.end and c.start < b, "f1": f1})
            rows.append({"id": record["id"], "answerable": bool(golds), "cands": cands})
    return rows


def best(row: dict, weight: float, penalty: float) -> tuple[dict | None, float]:
    """The best-scored candidate of a question and its score (None when there is none)."""
    scored = [(log_odds(c["p"]) + weight * c["holds"] - penalty * (c["rank"] - 1), k) for k, c in enumerate(row["cands"])]
    if not scored:
        return None, -math.inf
    score, k = max(scored)
    return row["cands"][k], score


def grid(rows: list[dict], weights: list[float], penalties: list[float]) -> dict[tuple[float, float], float]:
    pos = [r for r in rows if r["answerable"]]
    out = {}
    for w in weights:
        for pen in penalties:
            right = sum(1 for r in pos if (c := best(r, w, pen)[0]) is not None and c["f1"] >= RIGHT_F1)
            out[(w, pen)] = round(right / max(len(pos), 1), 3)
    return out


def thresholds(rows: list[dict], weight: float, penalty: float, probabilities: list[float]) -> dict[float, dict]:
    pos = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    out = {}
    for t in probabilities:
        cut = log_odds(t)
        chosen = [best(r, weight, penalty) for r in pos]
        given = [c for c, s in chosen if c is not None and s >= cut]
        out[t] = {
            "useful": round(sum(c["f1"] >= RIGHT_F1 for c in given) / max(len(pos), 1), 3),
            "wrong": round(sum(c["f1"] < RIGHT_F1 for c in given) / max(len(pos), 1), 3),
            "withheld": round(1 - len(given) / max(len(pos), 1), 3),
            "unanswerable_refused": round(sum(best(r, weight, penalty)[1] < cut for r in neg) / max(len(neg), 1), 3),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentence_choice", description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--rows", type=Path, help="also write every question's candidates here")
    parser.add_argument("--weight", type=float, default=2.0, help="the reader weight whose thresholds are printed")
    parser.add_argument("--penalty", type=float, default=1.5, help="the rank penalty whose thresholds are printed")
    args = parser.parse_args()
    rows = candidate_rows(args.sets)
    if args.rows:
        args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    oracle = [r for r in rows if r["answerable"]]
    print(
        f"questions {len(rows)}; a right sentence among the candidates: "
        f"{sum(any(c['f1'] >= RIGHT_F1 for c in r['cands']) for r in oracle) / max(len(oracle), 1):.3f}"
    )
    print("best sentence right, by reader weight × rank penalty:")
    for (w, pen), right in grid(rows, [0, 1, 2, 3, 5], [0, 0.5, 1, 1.5, 2]).items():
        print(f"  weight {w:<4} penalty {pen:<4} {right}")
    print(f"thresholds at weight {args.weight}, penalty {args.penalty}:")
    for t, figures in thresholds(rows, args.weight, args.penalty, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]).items():
        print(f"  {t:<5} {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
