"""Figures in words, shared by the checks' summaries and the report writers: a count with its
noun in the right number ("1 post", "2 posts"), a share of a whole, a duration with its unit."""

from __future__ import annotations


def plural(number: float, singular: str, plural_form: str | None = None) -> str:
    """The noun for ``number`` of it: the singular for exactly 1, else the plural."""
    if number == 1:
        return singular
    return plural_form if plural_form is not None else f"{singular}s"


def count(number: int, singular: str, plural_form: str | None = None) -> str:
    """'1 post', '2 posts', '0 posts'."""
    return f"{number} {plural(number, singular, plural_form)}"


def part_of(part: int, whole: int, singular: str, plural_form: str | None = None) -> str:
    """'3 of 138 replies', '0 of 1 reply': the noun agrees with the whole."""
    return f"{part} of {whole} {plural(whole, singular, plural_form)}"


def business_minutes(minutes: float) -> str:
    """A measured duration in business minutes, to a tenth: '15.1 business min'."""
    return f"{minutes:,.1f} business min"
