"""The sentence chooser shipped in qa/data/sentence-chooser: which sentence answers a yes/no, why or how
question."""

from __future__ import annotations

import pytest
from conftest import ROOT

from qa.ask.chooser_model import SentenceChooser
from qa.ask.choosing import Candidate, chooser, with_reason
from qa.ask.question import analyse
from qa.records import Chunk, Hit
from qa.text import sentence_spans, terms
from qa.training.chooser import answering, asked_from


def test_the_shipped_chooser_answers_and_weighs_the_readers_span() -> None:
    model = chooser()
    assert isinstance(model, SentenceChooser), "qa/data/sentence-chooser is not shipped"
    assert model.reader_weight > 0 and model.rank_penalty > 0 and 0 < model.min_probability < 1


@pytest.mark.slow
@pytest.mark.shared
def test_on_dev_the_chooser_finds_the_answer_sentence_far_more_often_than_the_words_the_question_shares() -> None:
    """Dev questions (never trained on) over their passage and the one BM25 ranks next: the chooser's
    sentence is the answer's for most, well ahead of the sentence sharing most words with the question."""
    model = chooser()
    assert model is not None
    asked = [a for a in asked_from([ROOT / "data" / "dev" / "sentence-dev.jsonl"], search_others=1) if a.answer]
    by_model = by_words = 0
    for a in asked:
        assert a.answer is not None
        spans = sentence_spans(a.passage)
        texts = [a.passage[s:e] for s, e in spans] + [a.others[0][s:e] for s, e in sentence_spans(a.others[0])]
        right = {a.passage[s:e] for s, e in answering(spans, a.answer)}
        p = model.probabilities(analyse(a.question), texts)
        by_model += texts[max(range(len(texts)), key=p.__getitem__)] in right
        shared = set(terms(a.question))
        by_words += max(texts, key=lambda t: len(shared & set(terms(t)))) in right
    assert len(asked) > 100
    assert by_model / len(asked) >= 0.65 and by_model >= by_words + 0.1 * len(asked), (by_model, by_words, len(asked))


def _chosen(text: str, sentence: str) -> Candidate:
    start = text.index(sentence)
    return Candidate(Hit(Chunk("c1", "d1", "x.txt", "", 1, 0, len(text), text), 1.0, rank=1), start, start + len(sentence))


PASSAGE = "Topan Khanun melanda Suzhou dan Wuxi. Akibatnya, sekolah-sekolah ditutup. Hujan turun dua hari."


@pytest.mark.parametrize("question", ["Mengapa sekolah-sekolah di Jiangsu ditutup?", "Why did the schools in Jiangsu close?"])
def test_a_why_answer_that_points_back_is_given_with_the_sentence_before_it(question: str) -> None:
    chosen = with_reason(analyse(question), _chosen(PASSAGE, "Akibatnya, sekolah-sekolah ditutup."))
    assert chosen.text == "Topan Khanun melanda Suzhou dan Wuxi. Akibatnya, sekolah-sekolah ditutup."


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("Bagaimana sekolah-sekolah di Jiangsu menghadapi topan?", "Akibatnya, sekolah-sekolah ditutup."),  # how: as chosen
        ("Mengapa hujan turun?", "Hujan turun dua hari."),  # points at nothing before it
        ("Mengapa Suzhou dilanda topan?", "Topan Khanun melanda Suzhou dan Wuxi."),  # nothing before it
    ],
)
def test_other_sentence_answers_stay_as_chosen(question: str, sentence: str) -> None:
    chosen = _chosen(PASSAGE, sentence)
    assert with_reason(analyse(question), chosen) == chosen
