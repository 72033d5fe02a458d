"""German formatting of money, numbers and dates (Babel), with commercial rounding.

Figures are rounded half up ("kaufmännisch") with ``decimal`` *before* Babel
formats them, so Babel's own half-even rounding never sees a digit to round.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

LOCALE = "de_DE"
CENT = Decimal("0.01")


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    """Round ``value`` commercially (half up) to ``places`` decimal places."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def money(value: Decimal, places: int = 2) -> str:
    """'1,22 €' – amount in euros, rounded half up to ``places`` digits."""
    rounded = round_half_up(value, places)
    pattern = "#,##0." + "0" * places + "\xa0¤" if places else "#,##0\xa0¤"
    return format_currency(rounded, "EUR", format=pattern, locale=LOCALE, currency_digits=False)


def integer(value: int) -> str:
    """'242.805' – a whole number with German thousands separators."""
    return format_decimal(value, format="#,##0", locale=LOCALE)


def decimal_number(value: Decimal, places: int) -> str:
    """'1,2189' – a decimal rounded half up and shown with exactly ``places`` digits."""
    rounded = round_half_up(value, places)
    return format_decimal(rounded, format="#,##0." + "0" * places, locale=LOCALE, decimal_quantization=False)


def date(value: dt.date) -> str:
    """'08.04.2022' – the numeric date form of DIN 5008."""
    return format_date(value, "dd.MM.yyyy", locale=LOCALE)


def long_date(value: dt.date) -> str:
    """'8. April 2022' – the date as written in running text."""
    return format_date(value, "d. MMMM yyyy", locale=LOCALE)
