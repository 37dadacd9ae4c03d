"""User-facing errors.

A `GeobatchError` is a problem with what the user gave us (an input, an option, a model directory).
The CLI prints it as one line, `error: <problem>; <fix>`, and exits with code 2: never a traceback.
"""

from __future__ import annotations


class GeobatchError(Exception):
    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ") if fix else None
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


class InputError(GeobatchError):
    """A whole input (file, directory, column) cannot be used."""


class ModelError(GeobatchError):
    """The model directory cannot be used."""


def first_line(e: BaseException) -> str:
    """The first non-blank line of an exception's message, else its type name: loaders (Ray, the
    Hugging Face hub, pyarrow.fs) raise messages that run over many lines, and a one-line error
    quotes only their head."""
    return next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
