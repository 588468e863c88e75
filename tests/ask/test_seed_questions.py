"""The seed article answers questions in English and Indonesian, citing the paragraph that says it."""

from __future__ import annotations

import pytest
from conftest import SEED_ID

from qa import Tanya
from qa.errors import UnsupportedLanguage

# (question, a string the answer must contain, paragraphs that state it, expected reply language)
QUESTIONS = [
    ("Who offered Jack Ma the advisor role?", "Joko Widodo", {1}, "en"),
    ("Siapa yang menawari Jack Ma menjadi penasehat?", "Joko Widodo", {1}, "id"),
    ("How many ministries are in the steering committee?", "10", {3}, "en"),
    ("Berapa kementerian yang terdiri dalam steering committee?", "10 kementerian", {3}, "id"),
    ("Who is the Minister of Communication and Informatics?", "Rudiantara", {2, 10}, "en"),
    ("Siapa Menteri Komunikasi dan Informatika?", "Rudiantara", {2, 10}, "id"),
    ("When did Alibaba Group take control of Lazada shares?", "2016", {6}, "en"),
    ("Kapan Alibaba Group menguasai saham Lazada?", "2016", {6}, "id"),
    ("What was Tmall previously called?", "Taobao Mall", {12}, "en"),
    ("Apa nama sebelumnya dari Tmall?", "Taobao Mall", {12}, "id"),
    ("Layanan pembayaran apa yang diintegrasikan Lazada Indonesia?", "Alipay", {6}, "id"),
    ("Siapa pendiri Alibaba Group?", "Jack Ma", {1, 9}, "id"),
    ("Dari situs apa pernyataan itu dikutip?", "techinasia.com", {2}, "id"),
    # which field / platform / what access (issue: a trained reader), written before the reader answered them
    ("Di bidang apa Jack Ma diminta menjadi penasehat?", "e-commerce", {1}, "id"),
    ("Melalui platform apa produk Indonesia dipasarkan ke China?", "Tmall", {12}, "id"),
    ("Ke pasar mana produk Indonesia dipasarkan melalui Tmall?", "China", {12}, "id"),
    ("Saham perusahaan apa yang dikuasai Alibaba Group pada awal 2016?", "Lazada", {6}, "id"),
    ("Perusahaan apa yang didirikan Jack Ma?", "Alibaba", {1, 9}, "id"),
    ("In which region is the e-commerce industry still very young?", "Asia Tenggara", {2}, "en"),
    # known misses until the reader was trained on unanswerable questions and English passages (the reader of 2b1a1e5)
    # known misses until the reader of a05b34f
    ("Apa nama Tmall sebelumnya?", "Taobao Mall", {12}, "id"),
    # known misses until the reader of 327b093 (ten layers trained)
    ("Which company's shares did Alibaba take control of in early 2016?", "Lazada", {6}, "en"),
    ("Through which platform are Indonesian products marketed in China?", "Tmall", {12}, "en"),
    # known misses until the sentence chooser (qa/data/sentence-chooser); the second is the reader issue's
    # own example, answered from paragraph 8 before it
    ("Did Jack Ma immediately accept the offer?", "menerima", {4, 5}, "en"),
    ("Apakah Jack Ma menerima tawaran itu?", "kemungkinan akan menerima", {5}, "id"),
]

# Written with the ones above, before the reader answered them; it gets these wrong (issue: a trained
# reader, closing note). Strict: a reader that gets one right makes the run fail until it moves up.
KNOWN_MISSES = [
    # since 2b1a1e5: the calibrated decision withholds these (confidence under its threshold) or the new
    # reader cuts the span short ("teknologi" for "akses terhadap teknologi"); the other tests ask the
    # Tmall question as "Apa nama sebelumnya dari Tmall?", which is answered
    ("Apa yang harus diberikan kepada UKM menurut Jokowi dan Jack Ma?", "akses terhadap teknologi", {10}, "id"),
    ("Where are Indonesian products sold through Tmall?", "China", {12}, "en"),
    ("What is Rudiantara's position?", "Menteri Komunikasi dan Informatika", {2, 10}, "en"),
    ("Apakah Jack Ma langsung menerima tawaran itu?", "menerima", {4, 5}, "id"),
    # (with the sentence chooser: paragraph 8, "secara langsung memengaruhi kebijakan", is chosen for "langsung")
    # the reader of 327b093 (ten layers trained): "Tmall" for the payment service (a platform named in
    # another paragraph), "industri e-commerce Indonesia" cited from paragraph 8 (the advisor's possible
    # influence on e-commerce policy), and the access question withheld (confidence 0.16)
    ("Which Alibaba payment service is integrated with Lazada Indonesia?", "Alipay", {6}, "en"),
    ("What sector was Jack Ma invited to advise on?", "e-commerce", {1}, "en"),
    ("What did Rudiantara say small firms need access to?", "teknologi", {10}, "en"),
]

NO_ANSWER = [
    "What is the boiling point of mercury?",
    "Siapa pemenang Piala Dunia 2018?",
    "Who won the 2018 World Cup?",
    "Berapa harga saham Apple hari ini?",
    # about the article's people and companies, asking what it does not say (issue: "not in the
    # articles" when it is not), written before the reader answered them; checked against the text
    "Siapa penemu bola lampu pijar?",
    "Siapa presiden pertama Amerika Serikat?",
    "When was Lazada founded?",
    "Berapa nilai investasi Alibaba di Lazada?",
    "How old is Jack Ma?",
    "Kapan Jack Ma lahir?",
    "In which city is Alibaba headquartered?",
    # refused since the reader of a05b34f
    "Siapa istri Presiden Joko Widodo?",
]

# Written with the ones above; still answered (a name from the passage, with confidence over the
# threshold). Strict: when one starts being refused, it moves up.
KNOWN_WRONG_ANSWERS = [
    "Who succeeded Rudiantara as minister?",
    "Siapa nama juru bicara Alibaba Group yang memberi pernyataan itu?",
]


@pytest.mark.parametrize("question,expected,paragraphs,language", QUESTIONS)
def test_answered_and_cited(seed_tanya: Tanya, question: str, expected: str, paragraphs: set[int], language: str) -> None:
    answer = seed_tanya.ask(question)
    assert not answer.abstained, answer.reply
    assert expected in answer.text
    assert answer.language == language
    first = answer.citations[0]
    assert first.n == 1 and first.doc_id == SEED_ID
    assert first.paragraph in paragraphs
    # the citation points at the exact supporting sentence, and the answer lies inside it
    sentence = first.text[slice(*first.sentence)]
    assert sentence == answer.support
    assert answer.text in sentence
    assert answer.span is not None and first.start <= answer.span[0] < answer.span[1] <= first.end
    assert "[1]" in answer.reply


@pytest.mark.xfail(strict=True, reason="known misses of the shipped reader (BENCHMARKS.md, The reader)")
@pytest.mark.parametrize("question,expected,paragraphs,language", KNOWN_MISSES)
def test_known_misses(seed_tanya: Tanya, question: str, expected: str, paragraphs: set[int], language: str) -> None:
    test_answered_and_cited(seed_tanya, question, expected, paragraphs, language)


@pytest.mark.parametrize("question", NO_ANSWER)
def test_abstains_when_the_article_does_not_say(seed_tanya: Tanya, question: str) -> None:
    answer = seed_tanya.ask(question)
    assert answer.abstained, answer.reply
    assert answer.citations == [] and answer.text == ""
    assert answer.hits, "the closest passages are still returned, to show what was found"


@pytest.mark.xfail(strict=True, reason="answered though the article does not say (BENCHMARKS.md, The reader; since 2b1a1e5)")
@pytest.mark.parametrize("question", KNOWN_WRONG_ANSWERS)
def test_known_wrong_answers(seed_tanya: Tanya, question: str) -> None:
    test_abstains_when_the_article_does_not_say(seed_tanya, question)


def test_abstention_is_said_in_the_question_language(seed_tanya: Tanya) -> None:
    assert "could not find" in seed_tanya.ask("What is the boiling point of mercury?").reply
    assert "tidak ditemukan" in seed_tanya.ask("Siapa pemenang Piala Dunia 2018?").reply


SAID = [
    {"role": "user", "content": "Who offered Jack Ma the advisor role?"},
    {"role": "assistant", "content": "Presiden Joko Widodo [1]"},
]


def test_follow_up_names_the_ministry(seed_tanya: Tanya) -> None:
    """The reader of a05b34f answered 'Alibaba Group Holding' (confidence 0.17, at the threshold)."""
    answer = seed_tanya.converse(SAID + [{"role": "user", "content": "Which ministry was involved?"}])
    assert "Komunikasi dan Informatika" in answer.text


def test_follow_up_questions_are_answered_in_the_conversation(seed_tanya: Tanya) -> None:
    field = seed_tanya.converse(SAID + [{"role": "user", "content": "In which field?"}])
    assert field.asked == "In which field?"
    assert "Jack Ma" in field.question and "e-commerce" in field.text
    # a question that names its own subject stays as it is, after any turn
    alone = seed_tanya.converse(SAID + [{"role": "user", "content": "Siapa Menteri Komunikasi dan Informatika?"}])
    assert alone.question == "Siapa Menteri Komunikasi dan Informatika?" and "Rudiantara" in alone.text


# Written before the change: questions in a language Tanya does not read, and questions in its two
# languages that name things in another one (they must still be answered).
OTHER_LANGUAGES = [
    "Qui a proposé à Jack Ma le rôle de conseiller ?",
    "Quel est le point d'ébullition du mercure ?",
    "¿Quién le ofreció a Jack Ma el papel de asesor?",
    "Wer hat Jack Ma die Rolle als Berater angeboten?",
    "Quem ofereceu a Jack Ma o papel de conselheiro?",
]


@pytest.mark.parametrize("question", OTHER_LANGUAGES)
def test_a_question_in_another_language_is_refused_with_a_clear_message(seed_tanya: Tanya, question: str) -> None:
    with pytest.raises(UnsupportedLanguage, match="Indonesian or English") as refused:
        seed_tanya.ask(question)
    assert "bahasa Indonesia atau Inggris" in str(refused.value)


@pytest.mark.parametrize(
    "question",
    [
        "Siapa yang menawari Jack Ma menjadi penasehat di Jakarta de la Indonesia?",
        "Who offered Jack Ma the role of le conseiller?",
    ],
)
def test_a_question_that_names_something_in_another_language_is_still_answered(seed_tanya: Tanya, question: str) -> None:
    assert "Joko Widodo" in seed_tanya.ask(question).text
