"""qa/text.py: where sentences end, and when a question is in a language Tanya does not read."""

from qa.text import other_language, sentence_spans


def split(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_a_reference_mark_after_the_full_stop_ends_the_sentence_with_it() -> None:
    # Wikipedia text keeps its reference marks: the sentence chooser must see three sentences here,
    # not one (the answer to "Do most cacti live in deserts?" is the first alone)
    text = "Hanya seperempat spesies kaktus hidup di gurun.[5] Sisanya hidup di semi-gurun.[5][6] Umumnya tropis.[note 2]"
    assert split(text) == [
        "Hanya seperempat spesies kaktus hidup di gurun.[5]",
        "Sisanya hidup di semi-gurun.[5][6]",
        "Umumnya tropis.[note 2]",
    ]
    assert split('He said "it is over."[10] The shorter cut came later.') == [
        'He said "it is over."[10]',
        "The shorter cut came later.",
    ]


def test_abbreviations_initials_and_marks_inside_a_sentence_do_not_end_it() -> None:
    assert split("Dr. Budi tinggal di Jl. Sudirman sejak 2001. Ia pindah pada 2005.") == [
        "Dr. Budi tinggal di Jl. Sudirman sejak 2001.",
        "Ia pindah pada 2005.",
    ]
    assert split("The act [1] was signed by John F. Kennedy in 1963.") == ["The act [1] was signed by John F. Kennedy in 1963."]


def test_english_titles_ranks_and_degrees_do_not_end_a_sentence() -> None:
    assert split("Union Maj. Gen. William Sherman took Atlanta. He then marched to the sea.") == [
        "Union Maj. Gen. William Sherman took Atlanta.",
        "He then marched to the sea.",
    ]
    assert split("It lies near Sault Ste. Marie in Ontario. She earned a Ph.D. in physics in 1970.") == [
        "It lies near Sault Ste. Marie in Ontario.",
        "She earned a Ph.D. in physics in 1970.",
    ]


def test_a_question_naming_a_title_in_another_language_is_in_ours() -> None:
    # a film or a book named in French, German or Spanish does not make the question theirs
    for question in (
        "Kapan film Le Voyage dans la Lune dirilis?",
        "Who directed Le Voyage dans la Lune?",
        "Siapa penulis Les Misérables dan La Peste?",
        "Is Der Untergang a film about the last days of the war?",
    ):
        assert other_language(question) is None, question


def test_a_question_in_another_language_is_taken_for_it_even_with_names_in_it() -> None:
    assert other_language("Qui a proposé à Jack Ma le rôle de conseiller ?") == "French"
    assert other_language("Wer hat Jack Ma die Rolle als Berater angeboten?") == "German"
    assert other_language("¿Quién le ofreció a Jack Ma el papel de asesor?") == "Spanish"
    assert other_language("Quel est le point d'ébullition du mercure ?") == "French"
