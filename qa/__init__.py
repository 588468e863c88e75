"""Tanya: cited answers from a collection of news articles, in Indonesian and English."""

from .errors import QuestionError
from .pipeline import Tanya
from .records import Answer, Chunk, Citation, Document, Hit
from .settings import Settings

__all__ = ["Answer", "Chunk", "Citation", "Document", "Hit", "QuestionError", "Settings", "Tanya"]
__version__ = "0.1.0"
