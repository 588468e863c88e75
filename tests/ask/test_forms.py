"""Which form of answer a question asks for (qa/ask/forms.py): span, yes/no, or reason."""

from __future__ import annotations

import pytest

from qa.ask.forms import REASON, SPAN, YESNO, form_of


@pytest.mark.parametrize(
    "question, form",
    [
        ("Siapa yang menawari Jack Ma menjadi penasehat?", SPAN),
        ("Apakah nama topan yang menyerang New Orleans pada Agustus 2005?", SPAN),  # "apakah" = what
        ("Apakah kepanjangan dari JICA?", SPAN),
        ("Apakah jenis olahraga yang ingin disebarluaskan oleh Ketua Umum PB Persetasi?", SPAN),
        ("How many ministries are in the steering committee?", SPAN),
        ("Apakah Jack Ma menerima tawaran itu?", YESNO),
        ("Apakah kebanyakan jenis kaktus hidup di gurun?", YESNO),  # "apakah" = whether, told by the model
        ("Apakah tiket pergelaran itu dijual bebas untuk umum?", YESNO),
        ("Sudahkah pemerintah membentuk satgas itu?", YESNO),
        ("Masih adakah mobil inventaris yang belum dikembalikan?", YESNO),
        ("Did Jack Ma immediately accept the offer?", YESNO),
        ("According to the Vice President, was the reaction entirely positive?", YESNO),
        ("Dalam ilmu ekonomi, apakah pasar selalu harus punya tempat fisik?", YESNO),
        ("After his dismissal, was Arafat given a powerful new position?", YESNO),  # a clause of time first
        ("Setelah Perang Dunia II, apakah barak itu sempat diduduki pasukan Inggris?", YESNO),
        ("When Jack Ma was offered the role, who offered it?", SPAN),
        ("Mengapa Jack Ma sempat bingung?", REASON),
        ("How did Jack Ma feel about the offer?", REASON),
        ("Menurut Elang, bagaimana seharusnya renovasi itu dilakukan?", REASON),
        ("Setelah tawaran itu datang, mengapa Jack Ma sempat bingung?", REASON),
    ],
)
def test_the_form_of_a_question(question: str, form: str) -> None:
    assert form_of(question) == form
