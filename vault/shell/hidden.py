"""Typing a secret shows nothing: not the characters, not a '*' for each one.

prompt_toolkit's `is_password=True` draws one '*' per character, which tells anyone who sees the
screen (or a screen recording) how long the passphrase is. `HIDE` replaces what was typed with
nothing and keeps the cursor right after the prompt, as getpass and sudo do.
"""

from __future__ import annotations

from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput


class HideInput(Processor):
    """Show none of the input line; the cursor stays where the input begins."""

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        return Transformation([], source_to_display=lambda i: 0, display_to_source=lambda i: 0)


HIDE = HideInput()
