"""Calibrate the abstention threshold (QA_MIN_SUPPORT) on FacQA dev.

    python -m benchmarks.abstention [--data ../shared/data/facqa-id] [--index-dir /tmp/facqa]

Positives: dev questions over the index of the 1,355 FacQA articles (an abstention there is wrong).
Negatives: the same questions over an index of the seed article alone, which answers none of them
(an answer there is a guess). For each threshold: the share of positives wrongly abstained, the
share of negatives wrongly answered, and answer F1 on the positives.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Settings, Tanya
from qa.training.evaluation import load_questions, token_f1

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.abstention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "facqa-id")
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/facqa"))
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()

    questions = load_questions(args.data / f"questions-{args.split}.jsonl")
    full = Tanya(Settings.from_env(index_dir=args.index_dir, min_support=0.0))
    full.articles.index([args.data / "articles"])
    with tempfile.TemporaryDirectory() as tmp:
        seed = Tanya(Settings.from_env(index_dir=Path(tmp) / "index", min_support=0.0))
        seed.articles.index([ROOT / "seeds"])
        positives = [(full.ask(q["question"]), q["answers"]) for q in questions]
        negatives = [seed.ask(q["question"]) for q in questions]

    print(f"FacQA {args.split}: {len(questions)} questions; current default QA_MIN_SUPPORT={Settings().reader.min_support}")
    print("| threshold | positives abstained (wrong) | negatives answered (wrong) | answer F1 (positives) |")
    print("|---|---|---|---|")
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
        wrong_abstain = sum(a.support_score < threshold for a, _ in positives) / len(positives)
        wrong_answer = sum(a.support_score >= threshold for a in negatives) / len(negatives)
        f1 = sum(token_f1(a.text, g) if a.support_score >= threshold else 0.0 for a, g in positives) / len(positives)
        print(f"| {threshold:.2f} | {wrong_abstain:.3f} | {wrong_answer:.3f} | {f1:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
