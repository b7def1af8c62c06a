"""Help texts laid out by the terminal, not by the source.

A command's help is its docstring, hard-wrapped at the source's line length. Typer's Rich
help keeps those line breaks, so at 80 columns a line of 88 characters leaves its last
word alone on a line. Here each paragraph becomes one line again, for Rich to wrap at the
terminal's width, and each example of an epilog (``Examples:  a    b``) gets a line of
its own, so that no example is broken where it cannot be copied.

>>> unwrapped("Fit the model\\non the training split.\\n\\nA run records it.")
'Fit the model on the training split.\\n\\nA run records it.'
>>> examples("Examples:  prodml fit    prodml fit --search")
'Examples:\\nprodml fit\\nprodml fit --search'
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from typer.core import TyperGroup

#: What separates the examples of an epilog.
_GAP = re.compile(r" {4,}")


class HelpGroup(TyperGroup):
    """The ``prodml`` group: its help and every command's under it laid out as above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _lay_out(self)


def unwrapped(text: str) -> str:
    """Each paragraph of ``text`` on one line; paragraphs still apart."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def examples(epilog: str) -> str:
    """``Examples:  a    b`` as paragraphs: the heading, then one example each."""
    heading, _, rest = epilog.partition(":  ")
    if not rest:
        return epilog
    return "\n".join([f"{heading}:", *_GAP.split(rest.strip())])


def _lay_out(command: Any) -> None:  # a command of Typer's own copy of click
    if command.help:
        command.help = unwrapped(command.help)
    if command.epilog:
        command.epilog = examples(command.epilog)
    if isinstance(command, TyperGroup):
        for child in command.commands.values():
            _lay_out(child)
