"""`python -m qa` / `tanya`: index, ask, eval, serve. Parses arguments, calls the library, prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .ask.when import Dates
from .errors import EXPECTED_ERRORS, InputError, QuestionError
from .ingest.web import is_url
from .library import Library
from .pipeline import Asker, Tanya
from .records import Answer
from .settings import DEFAULT_COLLECTION, Settings


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(index_dir=getattr(args, "index_dir", None), top_k=getattr(args, "k", None))
        library = Library(settings)
        if getattr(args, "library", False):
            return int(args.func(args, library) or 0)
        names = str(getattr(args, "collection", None) or DEFAULT_COLLECTION).split(",")
        if args.command == "index":
            member: Asker = library.create(names[0])
        elif args.command == "ask":
            member = library.asker(names)
        else:
            member = library.get(names[0])
        return int(args.func(args, member) or 0)
    except EXPECTED_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa", description="Tanya: cited answers from news articles.")
    sub = parser.add_subparsers(dest="command")

    def command(name: str, func: Any, help: str, collection: str = "", library: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--index-dir", type=Path, help="index directory (default: $QA_INDEX_DIR or index/)")
        if collection:
            p.add_argument("--collection", metavar="NAME", default=DEFAULT_COLLECTION, help=collection)
        p.set_defaults(func=func, library=library)
        return p

    p = command(
        "index",
        _index,
        "build or update the index from article files",
        "the collection to index into (made if new; its folders are remembered for later updates; default: default)",
    )
    p.add_argument(
        "paths",
        nargs="*",
        help="files, folders, or http(s) URLs of articles, RSS/Atom feeds and sitemaps (their articles are "
        "fetched and added; default: the collection's folders, $QA_SEEDS_DIR or seeds/)",
    )
    p.add_argument("--rebuild", action="store_true", help="re-embed everything instead of reusing vectors")
    p.add_argument("--keep-missing", action="store_true", help="keep indexed articles whose files are gone")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("list", _list, "list the indexed articles", "the collection (default: default)")
    p.add_argument("--json", action="store_true", help="print the manifest's file records as JSON")

    p = command("remove", _remove, "take articles out of the index by doc_id", "the collection (default: default)")
    p.add_argument("doc_ids", nargs="+")

    p = command(
        "ask",
        _ask,
        "answer a question (or one per line from standard input) with citations",
        "the collection to ask; several as a,b (their passages are searched together; default: default)",
    )
    p.add_argument(
        "question",
        nargs="?",
        help='the question; omit to read stdin: per line a question, or a JSON object {"messages": [...]} (a conversation) or {"question": ...}; one JSON line out per line',
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--k", type=int, help="passages to retrieve (default 5)")
    p.add_argument("--retriever", choices=("hybrid", "dense", "bm25"))
    p.add_argument(
        "--llm",
        metavar="SPEC",
        help="write the answer with a language model, citations checked: "
        "ollama:MODEL, openai:MODEL, gguf:PATH or gguf:gemma3-270m (default: $QA_LLM; '' = extractive)",
    )
    p.add_argument("--stream", action="store_true", help="print a written answer as it is generated")
    _date_options(p)

    p = command("eval", _eval, "measure retrieval and answers on a JSONL file of questions", "the collection (default: default)")
    p.add_argument("questions", type=Path)
    p.add_argument("--retriever", choices=("hybrid", "dense", "bm25"))
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--limit", type=int, help="only the first N questions")
    _date_options(p, '(a question\'s own "since"/"until"/"today" fields win)')

    p = command("train", _train, "fit the passage reranker and answer scorer on questions with answers (qa/data/*.json)")
    p.add_argument("questions", type=Path, help="JSONL questions, e.g. FacQA train, over an index of their articles")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument(
        "--support",
        type=Path,
        nargs="+",
        metavar="DEV",
        help="instead: fit the citation check's support model on QUESTIONS and pick its threshold on DEV files",
    )
    p.add_argument(
        "--reader",
        nargs="*",
        metavar="MORE",
        help="instead: fine-tune the reader on QUESTIONS (and MORE question files, e.g. TyDi QA train; "
        "FILE:N samples N of a file's questions, a file named twice is read twice an epoch); "
        "gold passages come from corpus.jsonl beside each file, hard negatives from the index or BM25; "
        "questions with no answers are taught as 'no answer' on their own passage",
    )
    p.add_argument(
        "--yesno",
        nargs="*",
        metavar="MORE",
        help="instead: fit the yes/no label model on QUESTIONS and MORE (yes/no questions with a `label` and "
        "their answer sentence); --dev chooses the probability below which no label is given (qa/data/yesno.json)",
    )
    p.add_argument(
        "--pair",
        action="store_true",
        help="with --yesno: fine-tune the pair model instead (the encoder reads question and sentence; "
        "--epochs, --lr, --trained-layers, --work, --out; default out: qa/data/yesno-pair)",
    )
    p.add_argument(
        "--chooser",
        nargs="*",
        metavar="MORE",
        help="instead: fine-tune the sentence chooser (which sentence answers a yes/no, why or how question) on "
        "QUESTIONS and MORE (sentence sets, and span sets: FILE:N samples N); --dev chooses the probability "
        "below which no sentence answers (--epochs, --lr, --trained-layers, --negatives, --init, --work; default out: "
        "qa/data/sentence-chooser)",
    )
    p.add_argument(
        "--forms",
        nargs="*",
        metavar="MORE",
        help="instead: fit the model that tells 'Apakah …' = whether from = what, on QUESTIONS and MORE "
        "(yes/no sentence sets and span sets); --dev files are scored (qa/data/apakah.json)",
    )
    p.add_argument(
        "--confidence",
        nargs="*",
        metavar="MORE",
        help="instead: fit the decision to answer on dev sets QUESTIONS and MORE, each NAME=FILE@INDEX_DIR, read "
        "end to end with the configured reader (QA_READER); or on the readings file QUESTIONS written before. "
        "Prints cross-fitted dev figures; --out qa/data/confidence.json ships it",
    )
    p.add_argument("--readings", type=Path, help="with --confidence: where the readings go (default: confidence-readings.jsonl)")
    p.add_argument(
        "--init",
        type=Path,
        help="with --reader: start from this trained reader (e.g. qa/data/reader) instead of a fresh span head; "
        "with --chooser: from this trained chooser (e.g. qa/data/sentence-chooser)",
    )
    p.add_argument("--checkpoint-every", type=int, default=200, help=argparse.SUPPRESS)
    p.add_argument(
        "--work",
        type=Path,
        help="with --reader: checkpoints (default ~/.cache/tanya/reader-runs/RUN); the same command run again resumes from them",
    )
    p.add_argument("--dev", type=Path, nargs="+", default=[], help="with --reader: dev question files read after each epoch")
    p.add_argument("--epochs", type=int, default=2, help="with --reader: passes over the training windows")
    p.add_argument(
        "--negatives",
        type=int,
        help="with --reader: hard negatives per question (default 1); with --chooser: sentences of the question's "
        "own passage taught as not answering (default 3)",
    )
    p.add_argument(
        "--trained-layers",
        type=int,
        help="with --reader: how many top layers are fine-tuned (default 6; with --init, as many as it trained)",
    )
    p.add_argument("--lr", type=float, default=1.5e-4, help="with --reader: peak learning rate")
    p.add_argument(
        "--out",
        type=Path,
        help="with --reader: where to write the weights (default: qa/data/reader, the shipped ones); "
        "with --confidence: where to write the decision (default: nowhere)",
    )

    p = command("user", _user, "manage who may use the server: readers ask, editors also add, remove and rebuild")
    users = p.add_subparsers(dest="action", required=True)
    u = users.add_parser("add", help="add a user or change one's role and password (from a prompt, or a line of stdin)")
    u.add_argument("name")
    u.add_argument("--role", choices=("reader", "editor"), default="reader")
    u.add_argument("--group", action="append", metavar="G", help="a group the user is in (repeat for several)")
    users.add_parser("remove", help="remove a user and its API keys").add_argument("name")
    users.add_parser("list", help="list users, roles and how many API keys each has")
    users.add_parser("key", help="make a new API key for a user (printed once)").add_argument("name")
    users.add_parser("revoke", help="revoke all of a user's API keys").add_argument("name")
    for u in users.choices.values():
        u.add_argument("--users-file", type=Path, help="default: $QA_USERS_FILE or users.json")

    p = command("source", _source, "remember feeds, article URLs and folders to keep a collection current", "the collection")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("add", help="a feed or article URL (http/https), or a folder on this machine").add_argument("source")
    actions.add_parser("remove", help="forget a source (its articles stay indexed)").add_argument("source")
    actions.add_parser("list", help="each source, its last fetch and its last error")
    actions.add_parser("fetch", help="fetch and index every source once")

    p = command("watch", _watch, "keep the collection's sources current until stopped (Ctrl-C)", "the collection")
    p.add_argument(
        "--every",
        default="15m",
        help="how often feeds and URLs are fetched (90s, 15m, 2h; default 15m); folders are looked at every 2 s",
    )

    p = command("feedback", _feedback, "readers' ratings of answers: export them as an evaluation set", library=True)
    actions = p.add_subparsers(dest="action", required=True)
    e = actions.add_parser(
        "export",
        help="write the rated answers as JSONL questions for `qa eval` (a 👍 keeps its answer as gold, "
        "a 👎 'should not have answered' is an unanswerable question, other 👎 have no known gold)",
    )
    e.add_argument(
        "--collection", action="append", metavar="NAME", help="only answers from this collection (repeat; default: all)"
    )
    e.add_argument("--since", metavar="YYYY-MM-DD", default="", help="only answers given since this day")
    e.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    e.add_argument("--index-dir", type=Path, help="index directory (default: $QA_INDEX_DIR or index/)")
    e.add_argument("--feedback-file", type=Path, help="default: $QA_FEEDBACK_FILE, or feedback.sqlite3 beside the users file")

    p = command("collection", _collection, "list the collections, or remove one", library=True)
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="each collection, its articles and passages, who may read and edit it")
    actions.add_parser("remove", help="delete a collection: its index, its uploads, its grants").add_argument("name")
    for c in actions.choices.values():
        c.add_argument("--index-dir", type=Path, help="index directory (default: $QA_INDEX_DIR or index/)")
        c.add_argument("--users-file", type=Path, help="default: $QA_USERS_FILE or users.json")
    actions.choices["remove"].add_argument("--yes", action="store_true", help="do not ask to confirm")
    for name, verb in (("grant", "let"), ("revoke", "stop")):
        p = command(name, _grant, f"{verb} a user or @group read (or edit) a collection", library=True)
        p.add_argument("who", help="a user name, or @group")
        p.add_argument("right", choices=("read", "edit") if name == "grant" else ("read", "edit", "all"))
        p.add_argument("collection")
        p.add_argument("--users-file", type=Path, help="default: $QA_USERS_FILE or users.json")

    p = command(
        "serve-llm",
        _serve_llm,
        "serve a GGUF model over the OpenAI API (llama-cpp-python's server), "
        "for QA_LLM=openai:NAME with QA_LLM_URL=http://HOST:PORT/v1",
    )
    p.add_argument("model", nargs="?", default="gemma3-270m", help="a GGUF file, or gemma3-270m (packaged; the default)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--threads", type=int, default=0, help="llama.cpp threads (default: all cores)")
    p.add_argument("--api-key", default=None, help="required of clients (default: $QA_LLM_KEY; none)")

    p = command(
        "settings", _settings, "list every QA_* variable: its value here, section by section, and what it does", library=True
    )
    p.add_argument(
        "--markdown", action="store_true", help="print the tables of docs/configuration.md instead (defaults, not values)"
    )

    p = command("serve", _serve, "start the chat page and the API (same as python app.py)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="let visitors who have not logged in ask (never edit), e.g. on a network with no users",
    )
    return parser


def _index(args: argparse.Namespace, tanya: Tanya) -> int:
    bar = None if args.quiet or not sys.stderr.isatty() else _ProgressBar()
    report = tanya.articles.index(
        [p if is_url(p) else Path(p) for p in args.paths] or None,
        rebuild=args.rebuild,
        progress=bar,
        keep_missing=args.keep_missing,
        remember=tanya.name != DEFAULT_COLLECTION,
    )
    if bar:
        bar.close()
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    print(f"indexed into {report.index_dir}: {report.summary()}")
    return 0


class _ProgressBar:
    """tqdm bars for the build stages."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(
                total=total, desc=stage, unit="chunk" if stage == "embedding" else "step", file=sys.stderr
            )
        bar.total = total
        bar.n = done
        bar.refresh()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def _list(args: argparse.Namespace, tanya: Tanya) -> int:
    manifest, files = tanya.manifest, tanya.articles.files()
    if args.json:
        print(json.dumps(files, ensure_ascii=False, indent=1))
        return 0
    for f in files:
        print(f"{f['doc_id']}\t{f['chunks']} chunks\t{f['added_at']}\t{f['title']}")
    print(
        f"{manifest['documents']} articles, {manifest['chunks']} chunks, model {manifest['model']['name']}, "
        f"built {manifest['built_at']}"
    )
    return 0


def _remove(args: argparse.Namespace, tanya: Tanya) -> int:
    report = tanya.articles.remove(args.doc_ids)
    print(f"removed {', '.join(report.removed)}: {report.summary()}")
    return 0


def _date_options(p: argparse.ArgumentParser, note: str = "") -> None:
    p.add_argument("--since", metavar="DATE", help=f"only articles published on or after DATE (YYYY-MM-DD) {note}".strip())
    p.add_argument("--until", metavar="DATE", help="only articles published on or before DATE (YYYY-MM-DD)")
    p.add_argument(
        "--today", metavar="DATE", help="the day questions are asked on: what 'tahun lalu'/'last year' mean (default: today)"
    )


def _dates(args: argparse.Namespace) -> Dates | None:
    return Dates.of(args.since, args.until, args.today)


def _ask(args: argparse.Namespace, tanya: Asker) -> int:
    args.dates = _dates(args)
    if args.question is None:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(_answer_line(tanya, line, args), ensure_ascii=False), flush=True)
        return 0
    answer = None
    shown = 0
    for event in tanya.ask_stream(args.question, retriever=args.retriever, llm=args.llm, dates=args.dates):
        if isinstance(event, Answer):
            answer = event
        elif args.stream and not args.json:
            print(event[shown:], end="", flush=True, file=sys.stderr)
            shown = len(event)
    if shown:
        print(file=sys.stderr)
    assert answer is not None
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=1))
    else:
        print(format_answer(answer))
    return 0


def _answer_line(tanya: Asker, line: str, args: argparse.Namespace) -> dict[str, Any]:
    """One line of `ask` on stdin: plain text is a question; a JSON object holds `messages` (a
    conversation, its last user message answered in its context) or `question`."""
    request: Any = line.strip()
    try:
        if request.startswith("{"):
            try:
                request = json.loads(request)
            except json.JSONDecodeError as exc:
                raise QuestionError(f"the line is not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(request, dict) or ("messages" in request) == ("question" in request):
                raise QuestionError('a JSON line must be an object with either "messages" or "question"')
            if "messages" in request:
                return tanya.converse(request["messages"], retriever=args.retriever, llm=args.llm, dates=args.dates).to_json()
            request = request["question"]
        return tanya.ask(request, retriever=args.retriever, llm=args.llm, dates=args.dates).to_json()
    except QuestionError as exc:
        return {"question": line.strip()[:200], "error": str(exc)}


def format_answer(answer: Answer) -> str:
    """The answer for a terminal: reply, then the cited (or, on abstention, the closest) passages."""
    lines = ([f"note: {answer.notice}"] if answer.notice else []) + [answer.reply, ""]
    if answer.statements:
        lines.append("Citation check:" if answer.language == "en" else "Pemeriksaan kutipan:")
        for st in answer.statements:
            verdict = "corrected" if st.corrected else "supported" if st.supported else "UNSUPPORTED"
            cited = ",".join(map(str, st.cited)) or "-"
            kept = ",".join(map(str, st.citations)) or "-"
            lines.append(f"  {verdict:<11} model cited passage {cited} → {kept}: {_clip(st.text, 100)}")
        q = answer.citation_quality
        lines.append(
            f"  citation recall {q['recall_before']:.2f} → {q['recall_after']:.2f}, "
            f"precision {q['precision_before']:.2f} → {q['precision_after']:.2f} (model → checked)"
        )
        lines.append("")
    if answer.abstained:
        lines.append(
            "Closest passages (they do not answer it):" if answer.language == "en" else "Bagian terdekat (tidak menjawabnya):"
        )
        for hit in answer.hits[:3]:
            lines.append(f"  - {hit.chunk.doc_id} ¶{hit.chunk.paragraph}: {_clip(hit.chunk.text)}")
    for c in answer.citations:
        page = f" · page {c.page}" if c.page else ""
        dated = f" · {c.date}" if c.date else ""
        lines.append(f"[{c.n}] {c.doc_id} · {c.source}{dated}{page} · paragraph {c.paragraph}")
        lines.append(f"    {_clip(c.text, 300)}")
    lines.append(f"({answer.timings_ms.get('total', 0):.0f} ms)")
    return "\n".join(lines)


def _clip(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _eval(args: argparse.Namespace, tanya: Tanya) -> int:
    from .training.evaluation import evaluate, load_questions

    questions = load_questions(args.questions)[: args.limit]
    result = evaluate(tanya, questions, retriever=args.retriever, dates=_dates(args))
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _pair_options(args: argparse.Namespace) -> dict[str, Any]:
    """The pair model's training options given on the command line (the rest keep their defaults)."""
    given = {"out": args.out, "work": args.work, "epochs": args.epochs, "lr": args.lr, "checkpoint_every": args.checkpoint_every}
    return {k: v for k, v in given.items() if v is not None}


def _train(args: argparse.Namespace, tanya: Tanya) -> int:
    from .training.evaluation import load_questions
    from .training.ranking import train

    if args.reader is not None:
        return _train_reader(args, tanya)
    if args.confidence is not None:
        from .training.confidence import fit, read_sets

        sets = [str(args.questions), *args.confidence]
        readings = args.readings or Path("confidence-readings.jsonl")
        if len(sets) == 1 and "=" not in sets[0]:
            readings = args.questions  # readings written before
        else:
            read_sets(sets, readings)
        fit(readings, args.out)
        return 0
    if args.forms is not None:
        from .training.forms import train_forms

        print(json.dumps(train_forms([args.questions, *args.forms], args.dev)))
        return 0
    if args.chooser is not None:
        from .training.chooser import train_chooser

        if not args.dev:
            raise InputError("--chooser needs --dev files to choose the probability below which no sentence answers")
        if args.init is not None and args.trained_layers is not None:
            raise InputError(
                "--trained-layers cannot be given with --init for --chooser: the run trains as many layers as the "
                "chooser it starts from"
            )
        layers = args.trained_layers or 6
        options = _pair_options(args) | {"init": args.init} | ({} if args.negatives is None else {"same": args.negatives})
        found = train_chooser([args.questions, *args.chooser], args.dev, **options, split=12 - layers)
        print(json.dumps(found))
        return 0
    if args.yesno is not None:
        from .training.yesno import train_yesno

        if not args.dev:
            raise InputError("--yesno needs --dev files to choose where a label is given")
        if args.pair:
            from .training.yesno_pair import train_pair

            layers = args.trained_layers or 6
            found = train_pair([args.questions, *args.yesno], args.dev, **_pair_options(args), split=12 - layers)
            print(json.dumps(found))
            return 0
        print(json.dumps(train_yesno([args.questions, *args.yesno], args.dev)))
        return 0
    questions = load_questions(args.questions)[: args.limit]
    if args.support:
        from .training.ranking import train_support

        dev = [q for path in args.support for q in load_questions(path)]
        model = train_support(tanya, questions, dev, source=f"{args.questions.name} → {', '.join(p.name for p in args.support)}")
        print(
            f"support: {len(model.weights)} weights, threshold {model.meta['threshold']} "
            f"(dev precision {model.meta.get('dev_precision')}, recall {model.meta.get('dev_recall')})"
        )
        return 0
    models = train(tanya, questions, source=args.questions.name)
    for name, model in models.items():
        print(f"{name}: {len(model.weights)} weights")
    return 0


def _train_reader(args: argparse.Namespace, tanya: Tanya) -> int:
    from .training.reader import train_reader_on_files

    result = train_reader_on_files(
        tanya,
        [args.questions, *args.reader],
        args.dev,
        limit=args.limit,
        negatives=1 if args.negatives is None else args.negatives,
        epochs=args.epochs,
        trained_layers=args.trained_layers,
        lr=args.lr,
        out=args.out,
        init=args.init,
        work=args.work,
        checkpoint_every=args.checkpoint_every,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(json.dumps(result["history"][-1]))
    return 0


def _feedback(args: argparse.Namespace, library: Library) -> int:
    from .server.feedback import FeedbackStore, feedback_path
    from .server.quality import evaluation_set, jsonl

    settings = library.settings
    path = args.feedback_file or feedback_path(settings.server.users_file, settings.server.feedback_file)
    if not Path(path).is_file():
        raise InputError(f"no feedback store at {path} (QA_FEEDBACK_FILE): nothing has been rated there yet")
    names = args.collection or library.names()
    records = evaluation_set(FeedbackStore(path).answers(names, since=args.since))
    text = jsonl(records)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"{len(records)} rated answers written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _user(args: argparse.Namespace, tanya: Tanya) -> int:
    from .server.users import UserStore

    store = UserStore(args.users_file or tanya.settings.server.users_file)
    if args.action == "add":
        if sys.stdin.isatty():
            import getpass

            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                raise InputError("the passwords differ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        store.add(args.name, args.role, password, args.group)
        member_of = ", ".join("@" + g for g in store.groups_of(args.name))
        print(f"{args.name}: {args.role}{' in ' + member_of if member_of else ''} ({store.path})")
    elif args.action == "remove":
        store.remove(args.name)
        print(f"removed {args.name}")
    elif args.action == "list":
        for u in store.list():
            in_groups = " ".join("@" + g for g in u["groups"]) or "-"
            print(f"{u['name']}\t{u['role']}\t{in_groups}\t{u['keys']} API keys\tadded {u['added']}")
    elif args.action == "key":
        print(store.new_key(args.name))
    elif args.action == "revoke":
        print(f"revoked {store.revoke_keys(args.name)} API keys of {args.name}")
    return 0


def _source(args: argparse.Namespace, tanya: Tanya) -> int:
    sources = tanya.articles.sources()
    if args.action == "add":
        entry = sources.add(args.source)
        print(f"{entry['source']} ({entry['kind']}) is a source of '{tanya.name}'; `python -m qa watch` keeps it current")
    elif args.action == "remove":
        sources.remove(args.source)
        print(f"{args.source} is no longer a source (its articles stay indexed)")
    elif args.action == "fetch":
        print(tanya.articles.refresh().summary())
    else:
        for s in sources.all():
            last = s.get("last") or {}
            said = (
                f"last {last['at']}: "
                + (f"error: {last['error']}" if last.get("error") else f"{last.get('added', 0)} new or changed")
                if last
                else "never fetched"
            )
            print(f"{s['source']}\t{s['kind']}\t{said}")
    return 0


def _watch(args: argparse.Namespace, tanya: Tanya) -> int:
    from .ingest.sources import parse_every

    every = parse_every(args.every)
    if not tanya.articles.sources().all():
        raise InputError("no sources to watch: add one with `python -m qa source add URL|FOLDER`")
    print(f"watching the sources of '{tanya.name}' (feeds every {args.every}, folders every 2 s); Ctrl-C stops", flush=True)
    tanya.articles.watcher(every, log=lambda line: print(line, flush=True)).run()
    return 0


def _collection(args: argparse.Namespace, library: Library) -> int:
    from .server.users import UserStore

    if args.action == "list":
        grants = UserStore(args.users_file or library.settings.server.users_file).grants()
        for name in library.names():
            tanya = library.get(name)
            if tanya.has_index():
                m = tanya.manifest
                size = f"{m['documents']} articles, {m['chunks']} passages"
            else:
                size = "not indexed yet"
            rights = grants.get(name)
            who = "; ".join(f"{r}: {', '.join(rights[r])}" for r in ("edit", "read") if rights and rights[r])
            print(f"{name}\t{size}\t{who or _ungranted(name)}")
        return 0
    library.get(args.name)  # no such collection: said before asking
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError(f"removing '{args.name}' deletes its index and uploads: confirm with --yes")
        if input(f"delete the collection '{args.name}', its index and its uploads? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    library.remove(args.name)
    UserStore(args.users_file or library.settings.server.users_file).forget_collection(args.name)
    print(f"removed the collection '{args.name}'")
    return 0


def _ungranted(name: str) -> str:
    if name == DEFAULT_COLLECTION:
        return "nothing granted: every user reads it, editors edit it"
    return "nothing granted: no one may read it (python -m qa grant USER read " + name + ")"


def _grant(args: argparse.Namespace, library: Library) -> int:
    from .server.users import UserStore

    store = UserStore(args.users_file or library.settings.server.users_file)
    if args.command == "grant":
        library.get(args.collection)  # a grant on a collection that does not exist is a typo
        store.grant(args.who, args.right, args.collection)
        print(f"{args.who} may {args.right} '{args.collection}'")
    else:
        taken = store.revoke(args.who, None if args.right == "all" else args.right, args.collection)
        print(f"took {taken} right{'s' if taken != 1 else ''} of {args.who} on '{args.collection}'")
    return 0


def _serve_llm(args: argparse.Namespace, tanya: Tanya) -> int:
    from .ask.llm import serve_gguf
    from .errors import LLMUnavailable

    try:
        key = args.api_key if args.api_key is not None else tanya.settings.llm.key
        serve_gguf(args.model, args.host, args.port, args.threads, key)
    except LLMUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _settings(args: argparse.Namespace, library: Library) -> int:
    rows = library.settings.describe()
    for section, about in Settings.sections():
        mine = [r for r in rows if r.section == section]
        if args.markdown:
            print(f"### {section}\n\n{about}\n\n| variable | field | default | what |\n| --- | --- | --- | --- |")
            for r in mine:
                default = f"`{r.default}`" if r.default else "unset"
                what = r.help.replace("|", "\\|")
                print(f"| `{r.variable}` | `{section}.{r.name}` | {default} | {what} |")
        else:
            print(f"{section}: {about}")
            for r in mine:
                value = f"={r.value}" if r.value else " (unset)"
                print(f"  {r.variable}{value}  [settings.{section}.{r.name}]\n      {r.help}")
        print()
    return 0


def _serve(args: argparse.Namespace, tanya: Tanya) -> int:
    from .server.app import serve, with_address

    return serve(with_address(tanya.settings, args.host, args.port), allow_anonymous=args.allow_anonymous)
