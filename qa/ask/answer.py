"""The answer from the passages, without a language model: the reader's span (or the span scorer's,
qa/ask/spans.py), kept or refused by the decision (qa/ask/decision.py), then put together with its
citations in the question's language — a short answer with its supporting sentence, a sentence
answer for yes/no, why and how questions, or "not in the articles".
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..dates import parse_date, when_said
from ..linear import LinearModel
from ..records import Answer, Citation, Hit, Reading
from ..settings import Settings
from ..text import STOPWORDS, detect_language, sentence_spans
from .choosing import Chooser, choose, with_reason
from .decision import ReaderPolicy
from .forms import SPAN, YESNO
from .labelling import labeller
from .question import NUMBER, Question
from .spans import (
    TYPED_KINDS,
    Sentence,
    SpanCandidate,
    answer_model,
    best_sentences,
    from_sentences,
    sentence_candidates,
)

_TEMPLATES = {
    "en": {
        "answer": "{answer} [{n}]",
        "support": "Supporting sentence: “{sentence}” [{n}]",
        "abstain": "I could not find the answer to that in the articles.",
    },
    "id": {
        "answer": "{answer} [{n}]",
        "support": "Kalimat pendukung: “{sentence}” [{n}]",
        "abstain": "Jawabannya tidak ditemukan dalam artikel.",
    },
}


def abstain_message(language: str) -> str:
    """'Not in the articles' in the question's language."""
    return _TEMPLATES.get(language, _TEMPLATES["en"])["abstain"]


def extract_answer(
    q: Question,
    hits: list[Hit],
    min_support: float = 0.35,
    passages: int = 3,
    model: LinearModel | None = None,
    readings: list[Reading] | None = None,
    policy: ReaderPolicy | None = None,
    chooser: Chooser | None = None,
) -> Answer:
    """The extractive answer to `q` from `hits`, or an abstention when support is weak. A yes/no, why or
    how question given a `chooser` is answered with the sentence it chooses; otherwise, with the
    reader's `readings` of the first hits, the span is the reader's; else the linear span scorer's."""
    question = q.text
    sentences = best_sentences(q, hits, passages)
    support = sentences[0].score if sentences else 0.0
    if chooser is not None and q.form != SPAN:
        policy = policy or ReaderPolicy.of(Settings())
        return _chosen_answer(q, hits, chooser, passages, readings or [], sentences, min_support, policy)
    if readings:
        return _read_answer(q, hits, sentences, readings, min_support, policy or ReaderPolicy.of(Settings()))
    if support < min_support:
        return Answer(question, q.language, "", abstain_message(q.language), abstained=True, hits=hits, support_score=support)

    model = model or answer_model()
    cands = from_sentences(q, sentences)
    # a "when" or "how many" question is answered by a date or a number whenever one is on offer,
    # looking a little further down the passages for one if need be
    wanted = TYPED_KINDS.get(q.qtype)
    if wanted and not any(c.kind in wanted for c in cands):
        wider = [x for x in best_sentences(q, hits, passages + 2)[:12] if x.score >= min_support]
        cands += [c for sent in wider for c in sentence_candidates(q, sent) if c.kind in wanted]
    if wanted and any(c.kind in wanted for c in cands):
        cands = [c for c in cands if c.kind in wanted]
    best: SpanCandidate | None = None
    for cand in cands:
        cand.score = model.score(cand.features)
        if best is None or cand.score > best.score:
            best = cand
    chosen = best.sentence if best else sentences[0]

    chunk = chosen.hit.chunk
    sentence_start, sentence_end = chunk.start + chosen.start, chunk.start + chosen.end
    short = best if best is not None and q.form == SPAN else None  # yes/no, why/how: the sentence
    text = short.text if short else chosen.text
    answer_span = (sentence_start + short.start, sentence_start + short.end) if short else (sentence_start, sentence_end)
    citations = [citation(1, chosen.hit, sentence_start, sentence_end, chosen.score)]
    if best:
        _also_cited(citations, text, sentences, min_support)
    return _answer(q, text, chosen.text, answer_span, citations, hits, support, show_support=bool(best))


def _also_cited(citations: list[Citation], text: str, sentences: list[Sentence], min_support: float) -> None:
    """Another passage whose sentence states the same answer is cited too (up to 3 citations)."""
    for s in sentences:
        if len(citations) >= 3:
            break
        if s.hit.chunk.chunk_id not in {c.chunk_id for c in citations} and text in s.text and s.score >= min_support:
            citations.append(citation(len(citations) + 1, s.hit, s.hit.chunk.start + s.start, s.hit.chunk.start + s.end, s.score))


def _answer(
    q: Question,
    text: str,
    sentence: str,
    span: tuple[int, int],
    citations: list[Citation],
    hits: list[Hit],
    support: float,
    show_support: bool = True,
) -> Answer:
    t = _TEMPLATES.get(q.language, _TEMPLATES["en"])
    markers = "][".join(str(c.n) for c in citations)
    verdict = None
    if q.form == SPAN:
        # "kemarin" means the day before its article's: say which day
        meant = when_said(text, parse_date(citations[0].date), q.language) if citations else None
        reply = t["answer"].format(answer=f"{text} ({meant})" if meant else text, n=markers)
        if show_support and text != sentence:
            reply += "\n" + t["support"].format(sentence=sentence, n=1)
    else:  # yes/no, why/how: the sentence, said to be the article's, in which language, and a yes/no label
        labels = labeller() if q.form == YESNO else None
        verdict = labels.verdict(q, text) if labels else None
        reply = sentence_reply(q.language, text, verdict.label if verdict else "", markers)
    return Answer(
        question=q.text,
        language=q.language,
        text=text,
        reply=reply,
        abstained=False,
        support=sentence,
        span=span,
        citations=citations,
        hits=hits,
        support_score=support,
        label=verdict.label if verdict else "",
    )


_SENTENCE_REPLY = {
    "en": {"yes": "Yes.", "no": "No.", "uncertain": "Not certain.", "says": "The article says", "other": " (in Indonesian)"},
    "id": {
        "yes": "Ya.",
        "no": "Tidak.",
        "uncertain": "Belum pasti.",
        "says": "Artikel menyebutkan",
        "other": " (dalam bahasa Inggris)",
    },
}


def sentence_reply(language: str, sentence: str, label: str, markers: str) -> str:
    """The reply to a yes/no or why/how question: its label if one is given ("Yes." / "Ya."), then the
    sentence quoted as the article's, saying so when it is in the other language: "Yes. The article
    says (in Indonesian): “Jack Ma kemungkinan akan menerima tawaran itu.” [1]". Never an
    untranslated sentence passed off as an answer in the question's language."""
    t = _SENTENCE_REPLY.get(language, _SENTENCE_REPLY["en"])
    other = t["other"] if detect_language(sentence) != language else ""
    lead = f"{t[label]} " if label else ""
    return f"{lead}{t['says']}{other}: “{sentence}” [{markers}]"


_UNIT = re.compile(r"\s([^\W\d_][\w-]*)")


def _with_unit(text: str, end: int) -> int:
    """A number keeps the word after it ("10" → "10 kementerian", "49,07" → "49,07 detik")."""
    m = _UNIT.match(text, end)
    if end and text[end - 1].isdigit() and m and m.group(1).lower() not in STOPWORDS:
        return m.end()
    return end


def _read_answer(
    q: Question, hits: list[Hit], sentences: list[Sentence], readings: list[Reading], min_support: float, policy: ReaderPolicy
) -> Answer:
    """The answer the reader found: its most certain passage (rank counts a little), the span it chose
    there, or for yes/no and why/how questions the sentence holding that span. `sentences` are the
    extractor's scored sentences (their best is the support that backs a weak margin)."""
    support = sentences[0].score if sentences else 0.0
    best = max(readings, key=policy.preference)
    answered, confidence = policy.decide(q, best, readings, support, min_support)
    hits = policy.reorder(hits, readings)
    if not answered:
        answer = Answer(q.text, q.language, "", abstain_message(q.language), abstained=True, hits=hits, support_score=support)
        answer.reader_margin, answer.confidence = best.margin, confidence
        return answer
    chunk = best.hit.chunk
    # the sentence holding the span (or the sentences, if the span runs over a sentence end)
    spans = [(s, e) for s, e in sentence_spans(chunk.text) if s < best.end and best.start < e] or [(0, len(chunk.text))]
    a, b = spans[0][0], spans[-1][1]
    sentence = chunk.text[a:b]
    span = (best.start, best.end) if q.form == SPAN else (a, b)  # yes/no, why/how: the sentence
    if q.form == SPAN and q.qtype == NUMBER:
        span = (span[0], _with_unit(chunk.text, span[1]))
    text = chunk.text[span[0] : span[1]]
    citations = [citation(1, best.hit, chunk.start + a, chunk.start + b, best.margin)]
    _also_cited(citations, text, sentences, min_support)
    answer = _answer(q, text, sentence, (chunk.start + span[0], chunk.start + span[1]), citations, hits, support)
    answer.reader_margin, answer.confidence = best.margin, confidence
    return answer


def _chosen_answer(
    q: Question,
    hits: list[Hit],
    chooser: Chooser,
    passages: int,
    readings: list[Reading],
    sentences: list[Sentence],
    min_support: float,
    policy: ReaderPolicy,
) -> Answer:
    """A yes/no, why or how question answered with the sentence the chooser finds likeliest to answer it
    among the first `passages` hits (helped by the reader's span), when its probability reaches the
    chooser's threshold (or the one set); the passage it comes from is listed first."""
    support = sentences[0].score if sentences else 0.0
    choice = choose(chooser, q, hits, passages, readings)
    threshold = policy.min_confidence if policy.min_confidence >= 0 else chooser.min_probability
    if choice is None or choice.probability < threshold:
        answer = Answer(q.text, q.language, "", abstain_message(q.language), abstained=True, hits=hits, support_score=support)
        answer.confidence = choice.probability if choice else 0.0
        return answer
    chosen = with_reason(q, choice.candidate)
    hit, start, end = chosen.hit, chosen.start, chosen.end
    hits = [replace(h, rank=n) for n, h in enumerate([hit, *(h for h in hits if h is not hit)], 1)]
    chunk = hit.chunk
    text = chunk.text[start:end]
    citations = [citation(1, hits[0], chunk.start + start, chunk.start + end, choice.probability)]
    _also_cited(citations, text, sentences, min_support)
    answer = _answer(q, text, text, (chunk.start + start, chunk.start + end), citations, hits, support)
    answer.confidence = choice.probability
    return answer


def citation(n: int, hit: Hit, start: int, end: int, score: float) -> Citation:
    """Citation [n] of a hit's passage, its supporting sentence at start..end (document offsets)."""
    c = hit.chunk
    return Citation(
        n,
        c.chunk_id,
        c.doc_id,
        c.source,
        c.title,
        c.paragraph,
        c.text,
        start,
        end,
        score,
        c.start,
        c.page,
        hit.collection,
        c.date,
    )
