"""What collections cost a question: the same questions asked, interleaved in one run, of

  single   today's single index (a Tanya over the index folder, as before collections)
  default  the same index as the `default` collection of a Library
  one      one collection of three (FacQA's articles split in three, by doc id)
  three    the three collections asked together (passages fused by score)

    python -m benchmarks.collections [--articles ../shared/data/facqa-id/articles] [--work /tmp/bench-collections]
                                     [--questions ../shared/data/facqa-id/questions-dev.jsonl] [--n 120]

Printed: p50 and p95 of the whole question (ms) for each, and answer F1 for each (the three-way split
answers from the same articles as the single index, so F1 should hold).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from qa import Settings, Tanya
from qa.library import Library
from qa.training.evaluation import token_f1

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.collections")
    parser.add_argument("--articles", type=Path, default=ROOT.parent / "shared/data/facqa-id/articles")
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared/data/facqa-id/questions-dev.jsonl")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-collections"))
    parser.add_argument("--n", type=int, default=120)
    args = parser.parse_args()

    settings = Settings.from_env(env={}, index_dir=args.work / "index", upload_dir=args.work / "uploads")
    library = Library(settings)
    files = sorted(args.articles.glob("*.txt"))
    if not (args.work / "index" / "CURRENT").exists():
        args.work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        library.get("default").articles.index([args.articles])
        for part, name in enumerate(("a", "b", "c")):
            folder = args.work / "split" / name
            folder.mkdir(parents=True, exist_ok=True)
            for f in files[part::3]:
                shutil.copy(f, folder / f.name)
            library.create(name).articles.index([folder], remember=True)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    single = Tanya(settings)
    askers = {
        "single": single,
        "default": library.get("default"),
        "one": library.get("a"),
        "three": library.asker(["a", "b", "c"]),
    }
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()][: args.n]
    for asker in askers.values():  # load indexes and models before timing
        asker.ask(questions[0]["question"])
    times: dict[str, list[float]] = {k: [] for k in askers}
    f1: dict[str, list[float]] = {k: [] for k in askers}
    in_a = {f.stem for f in files[0::3]}
    for q in questions:
        for name, asker in askers.items():  # interleaved: the machine's drift falls on all alike
            started = time.perf_counter()
            answer = asker.ask(q["question"])
            times[name].append((time.perf_counter() - started) * 1000)
            if name != "one" or q["doc_id"] in in_a:
                f1[name].append(0.0 if answer.abstained else token_f1(answer.text, q["answers"]))
    print(
        f"{len(questions)} questions of {args.questions.name}; {len(files)} articles, split {len(files[0::3])}/"
        f"{len(files[1::3])}/{len(files[2::3])}"
    )
    print(f"{'':8} {'p50 ms':>8} {'p95 ms':>8} {'F1':>6} {'n':>4}")
    for name in askers:
        t = sorted(times[name])
        print(
            f"{name:8} {statistics.median(t):8.0f} {t[int(0.95 * (len(t) - 1))]:8.0f} {statistics.mean(f1[name]):6.3f} {len(f1[name]):4}"
        )


if __name__ == "__main__":
    main()
