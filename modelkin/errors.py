"""Errors a user can cause.

Every problem with an input file, an ID or a flag is raised as a `ModelkinError`
naming where it is (a file, a field, an ID) and what is wrong. The CLI turns it
into one line on stderr and an exit code; nothing else in the package prints.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INCONSISTENT = 1  # the input was read but disagrees with itself (inspect findings)
EXIT_BAD_INPUT = 2  # the input could not be read, or a flag/ID/field is wrong


class ModelkinError(Exception):
    """A problem with the user's input: `where` names the file, field or ID."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, where: str | None, message: str):
        self.where = where
        self.message = message
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class UnreadableInput(ModelkinError):
    """The file cannot be parsed at all (truncated, not JSON, hostile header ...)."""


class InvalidSpec(ModelkinError):
    """A configuration was parsed but does not describe a valid architecture."""


class UnknownModel(ModelkinError):
    """A catalog ID that does not exist; the message suggests close IDs."""
