"""Conversations: is the last turn of a dialogue answered right?

    python -m benchmarks.conversations                    # Tanya.converse (messages in)
    python -m benchmarks.conversations --legacy           # the page's old way: rewrite() + ask()

`data/dev/conversations.jsonl` (the default) holds 44 dialogues of 2–3 user turns, written before any
answer was looked at, over the seed article (`corpus: seed`, an index of it is built in a temporary
folder) and FacQA articles (`corpus: facqa`, `--facqa-index`, built if missing). Earlier turns get the
answers the system itself gave (as an assistant message with its reply). The last turn is right when
its answer has token F1 ≥ 0.5 with an expected answer, or, when none is expected, when it abstains.
`full` is the last question written out in full and asked alone: the goal is that the last turn is
right wherever the full question is. `--dialogues data/test/conversations-heldout.jsonl`: the 20
held-out dialogues (a test set: data/test/README.md).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import Settings, Tanya
from qa.training.evaluation import token_f1

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def right(answer, expected: list[str]) -> bool:
    if not expected:
        return answer.abstained
    return not answer.abstained and token_f1(answer.text, expected) >= 0.5


def run_dialogue(tanya: Tanya, turns: list[str], legacy: bool, timed: list[float]):
    """Ask each turn in the conversation so far; returns the last answer (its time, rewriting and
    every form tried included, goes to `timed`)."""
    history: list = []
    messages: list[dict] = []
    for q in turns:
        started = time.perf_counter()
        if legacy:
            from qa.ask.conversation import Turn, rewrite

            answer = tanya.ask(rewrite(q, history))
            history.append(Turn(answer.question, "" if answer.abstained else answer.text))
        else:
            messages.append({"role": "user", "content": q})
            answer = tanya.converse(messages)
            messages.append({"role": "assistant", "content": answer.reply})
        elapsed = time.perf_counter() - started
    timed.append(elapsed)
    return answer


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conversations", description=__doc__.split("\n")[0])
    parser.add_argument("--legacy", action="store_true", help="rewrite() + ask(), as the page did before messages")
    parser.add_argument("--facqa-index", type=Path, default=Path("/tmp/facqa"))
    parser.add_argument("--dialogues", type=Path, default=ROOT / "data" / "dev" / "conversations.jsonl")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    dialogues = [json.loads(line) for line in args.dialogues.open(encoding="utf-8") if line.strip()]
    seed = Tanya(Settings.from_env(env={}, index_dir=Path(tempfile.mkdtemp()) / "index", seeds_dir=ROOT / "seeds"))
    seed.articles.index()
    facqa = Tanya(Settings.from_env(env={}, index_dir=args.facqa_index))
    if not facqa.has_index():
        facqa.articles.index([DATA / "facqa-id" / "articles"])
    by_kind: dict[str, list[bool]] = collections.defaultdict(list)
    full_right = turn_right = both = 0
    seconds: list[float] = []
    for d in dialogues:
        tanya = seed if d["corpus"] == "seed" else facqa
        last = run_dialogue(tanya, d["turns"], args.legacy, timed=seconds)
        alone = tanya.ask(d["full"])
        ok, ok_full = right(last, d["expected"]), right(alone, d["expected"])
        by_kind[d["kind"]].append(ok)
        turn_right += ok
        full_right += ok_full
        both += ok and ok_full
        if args.verbose or not ok:
            mark = "ok " if ok else "BAD"
            print(
                f"{mark} {d['id']} [{d['kind']}] {d['turns'][-1]!r} → understood {last.question!r} → "
                f"{'(abstained)' if last.abstained else last.text!r}; full alone {'right' if ok_full else 'wrong'}",
                file=sys.stderr,
            )
    n = len(dialogues)
    result = {
        "method": "rewrite+ask (legacy)" if args.legacy else "converse(messages)",
        "dialogues": n,
        "last_turn_right": round(turn_right / n, 3),
        "full_question_right": round(full_right / n, 3),
        "last_turn_right_where_full_right": round(both / max(full_right, 1), 3),
        "by_kind": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())},
        "last_turn_ms_p50": round(statistics.median(seconds) * 1000, 1),
        "last_turn_ms_p95": round(sorted(seconds)[int(0.95 * (len(seconds) - 1))] * 1000, 1),
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
