"""What the CLI, the page and the API turn into a message for people (rather than a traceback).

For now this gathers the library's user-facing errors from the modules that raise them; the single
`TanyaError` hierarchy (issue #22) will replace the tuple.
"""

from __future__ import annotations

from .ask.question import QuestionError
from .index.base import IndexProblem
from .index.build import BuildInProgress, NothingToIndex
from .index.embedding import EmbedderError

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    IndexProblem,
    QuestionError,
    NothingToIndex,
    BuildInProgress,
    EmbedderError,
    OSError,
    ValueError,
)
