"""Yes/no, why and how questions end to end: is the answer useful, is the yes/no label right?

    python -m benchmarks.sentences SET… [--json OUT] [--sweep T…]

A SET is QUESTIONS@INDEX_DIR (e.g. data/dev/sentence-dev.jsonl split by corpus, each asked of an index
of its corpus's articles). Each question is asked as a user would (`Tanya.ask`, the shipped decision).
An answerable question's answer is **useful** when it is given and its sentence is the gold one
(token F1 ≥ 0.5 against the gold sentence); its yes/no **label** is scored against the gold label
(right, wrong, or none given). An unanswerable question should get "not in the articles". Figures
per question language × passage language × kind, and in all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Settings, Tanya
from qa.ask.question import analyse
from qa.text import detect_language
from qa.training.evaluation import load_questions, token_f1

ROOT = Path(__file__).resolve().parent.parent

RIGHT_F1 = 0.5


def gold_rank(hits, golds: list[str]) -> int | None:
    """The rank (1-based) of the first retrieved passage that holds a gold sentence, or None."""
    for rank, hit in enumerate(hits, 1):
        if any(gold in hit.chunk.text for gold in golds):
            return rank
    return None


def ask_all(sets: list[str]) -> list[dict]:
    rows = []
    for spec in sets:
        questions_file, _, index_dir = spec.partition("@")
        tanya = Tanya(Settings.from_env(index_dir=Path(index_dir)))
        for record in load_questions(Path(questions_file)):
            answer = tanya.ask(record["question"])
            golds = [str(a) for a in record.get("answers") or []]
            f1 = token_f1(answer.text, golds) if golds and not answer.abstained else 0.0
            passage = answer.citations[0].text if answer.citations else (answer.hits[0].chunk.text if answer.hits else "")
            rows.append(
                {
                    "id": record["id"],
                    "kind": record.get("kind"),
                    "lang": record.get("lang"),
                    "passage_lang": detect_language(golds[0]) if golds else detect_language(passage),
                    "answerable": bool(golds),
                    "abstained": answer.abstained,
                    "f1": round(f1, 4),
                    "useful": bool(golds) and not answer.abstained and f1 >= RIGHT_F1,
                    "label": getattr(answer, "label", ""),
                    "gold_label": record.get("label"),
                    "form": analyse(record["question"]).form,
                    "confidence": answer.confidence,
                    "gold_rank": gold_rank(answer.hits, golds),
                }
            )
    return rows


def report(rows: list[dict]) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups["all"].append(r)
        groups[f"{r['lang']}>{r['passage_lang']}"].append(r)
        groups[f"kind {r['kind']}"].append(r)
    out = {}
    for name, members in sorted(groups.items()):
        pos = [r for r in members if r["answerable"]]
        neg = [r for r in members if not r["answerable"]]
        labelled = [r for r in pos if r["kind"] == "yesno" and r["gold_label"]]
        given = [r for r in labelled if r["label"]]
        out[name] = {
            "n": len(members),
            "useful": round(sum(r["useful"] for r in pos) / len(pos), 3) if pos else None,
            "withheld": round(sum(r["abstained"] for r in pos) / len(pos), 3) if pos else None,
            "unanswerable_refused": round(sum(r["abstained"] for r in neg) / len(neg), 3) if neg else None,
            "yesno_n": len(labelled),
            "label_given": round(len(given) / len(labelled), 3) if labelled else None,
            "label_right_of_all": round(sum(r["label"] == r["gold_label"] for r in labelled) / len(labelled), 3)
            if labelled
            else None,
            "label_right_of_given": round(sum(r["label"] == r["gold_label"] for r in given) / len(given), 3) if given else None,
            "form_found": round(sum(r["form"] != "span" for r in members) / len(members), 3),
        }
    return out


def sweep(rows: list[dict], thresholds: list[float]) -> dict[float, dict]:
    """What each threshold on the answers' confidence would give, from rows asked with every answer
    given (QA_READER_MIN_CONFIDENCE=0): useful, withheld though answerable, unanswerables refused."""
    pos = [r for r in rows if r["answerable"]]
    neg = [r for r in rows if not r["answerable"]]
    out = {}
    for t in thresholds:
        given = [r for r in pos if (r["confidence"] or 0) >= t]
        out[t] = {
            "useful": round(sum(r["f1"] >= RIGHT_F1 for r in given) / max(len(pos), 1), 3),
            "wrong": round(sum(r["f1"] < RIGHT_F1 for r in given) / max(len(pos), 1), 3),
            "withheld": round(1 - len(given) / max(len(pos), 1), 3),
            "unanswerable_refused": round(sum((r["confidence"] or 0) < t for r in neg) / max(len(neg), 1), 3),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentences", description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--json", type=Path, help="also write every question's row here")
    parser.add_argument(
        "--sweep",
        type=float,
        nargs="+",
        help="also: what these confidence thresholds would give (ask with QA_READER_MIN_CONFIDENCE=0)",
    )
    args = parser.parse_args()
    rows = ask_all(args.sets)
    if args.sweep:
        for t, figures in sweep(rows, args.sweep).items():
            print(f"at {t:<12} {json.dumps(figures)}")
    if args.json:
        args.json.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for name, figures in report(rows).items():
        print(f"{name:16s} {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
