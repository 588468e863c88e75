"""Which model gives a yes/no answer its label: the pair model (qa/ask/yesno_model.py) when its weights
are shipped and torch is installed, else the linear one (qa/ask/yesno.py)."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from ..linear import DATA
from .question import Question
from .yesno import Verdict, YesNo

PAIR_DIR = DATA / "yesno-pair"


class Labeller(Protocol):
    """Gives a yes/no question's answer sentence its label, or None when not sure enough."""

    def verdict(self, q: Question, sentence: str) -> Verdict | None: ...


@lru_cache(maxsize=1)
def labeller() -> Labeller | None:
    """The label model that answers (loaded once per process), or None when none is shipped."""
    if (PAIR_DIR / "meta.json").is_file():
        try:
            from .yesno_model import PairLabeller  # needs torch
        except ImportError:
            pass
        else:
            return PairLabeller(PAIR_DIR)
    return YesNo.shipped()
