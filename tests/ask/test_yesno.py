"""Yes/no labels and sentence answers (qa/ask/yesno.py, qa/ask/yesno_model.py, qa/ask/labelling.py, the
sentence reply in qa/ask/answer.py)."""

from __future__ import annotations

from conftest import ROOT

from qa.ask.answer import sentence_reply
from qa.ask.labelling import Labeller, labeller
from qa.ask.question import analyse
from qa.ask.yesno import YesNo, features
from qa.ask.yesno_model import PairLabeller
from qa.training.yesno import labelled

ID_SENTENCE = "Meski demikian, ucap pernyataan itu, Jack Ma kemungkinan akan menerima tawaran itu."


def test_a_sentence_in_the_other_language_is_said_to_be_the_articles() -> None:
    assert sentence_reply("en", ID_SENTENCE, "uncertain", "1") == (
        f"Not certain. The article says (in Indonesian): “{ID_SENTENCE}” [1]"
    )
    assert sentence_reply("id", ID_SENTENCE, "", "1") == f"Artikel menyebutkan: “{ID_SENTENCE}” [1]"
    english = "The meeting was postponed until next week because the minister was ill."
    assert sentence_reply("id", english, "no", "2") == f"Tidak. Artikel menyebutkan (dalam bahasa Inggris): “{english}” [2]"
    assert sentence_reply("en", english, "yes", "1][2") == f"Yes. The article says: “{english}” [1][2]"


def test_the_label_features_see_negation_doubt_and_missing_numbers() -> None:
    q = analyse("Was the meeting held on 12 March?")
    said = features(q, "Rapat itu tidak jadi digelar pada 14 Maret karena menteri sakit.")
    assert said["neg_sentence"] == 1 and said["neg_one_side"] == 1 and said["numbers_missing"] == 1
    doubt = features(analyse("Apakah Jack Ma menerima tawaran itu?"), ID_SENTENCE)
    assert doubt["doubt_sentence"] >= 2 and doubt["neg_one_side"] == 0
    opposite = features(analyse("Did corporate bond trading fall?"), "Corporate bond trading rose 44 percent.")
    assert opposite["opposite"] == 1


def test_the_shipped_label_model_labels_only_when_sure() -> None:
    model = YesNo.shipped()
    assert model is not None and 0 < model.min_probability <= 1
    q = analyse("Apakah Jack Ma menerima tawaran itu?")
    probs = model.probabilities(q, ID_SENTENCE)
    assert abs(sum(probs.values()) - 1) < 1e-9
    verdict = model.verdict(q, ID_SENTENCE)
    assert verdict is None or (
        verdict.probability >= model.min_probability and verdict.label == max(probs, key=probs.__getitem__)
    )


def test_sentence_answers_have_a_threshold_of_their_own() -> None:
    from qa.ask.decision import Confidence
    from qa.linear import LinearModel

    decision = Confidence(LinearModel({"margin": 1.0}, meta={"threshold": 0.2, "thresholds": {"sentence": 0.45}}))
    assert decision.threshold_for(analyse("Siapa yang menawari Jack Ma menjadi penasehat?")) == 0.2
    assert decision.threshold_for(analyse("Apakah Jack Ma menerima tawaran itu?")) == 0.45
    assert decision.threshold_for(analyse("Why was Jack Ma confused?")) == 0.45
    shipped = Confidence.shipped()
    assert shipped is not None and shipped.sentence_threshold >= shipped.threshold


def test_the_shipped_pair_model_labels_more_dev_questions_right_than_the_linear_one() -> None:
    labels = labeller()
    assert isinstance(labels, PairLabeller) and labels.min_probability == labels.meta["min_probability"]
    dev = labelled([ROOT / "data" / "dev" / "sentence-dev.jsonl"])
    linear = YesNo.shipped()
    assert linear is not None and len(dev) > 40

    def right_and_given(model: Labeller) -> tuple[int, int]:
        verdicts = [(model.verdict(analyse(r["question"]), r["answers"][0]), r["label"]) for r in dev]
        given = [v.label == gold for v, gold in verdicts if v is not None]
        return sum(given), len(given)

    (pair_right, pair_given), (linear_right, _) = right_and_given(labels), right_and_given(linear)
    assert pair_right > linear_right and pair_right >= 0.85 * pair_given
