"""EAN-18 (GSRN) codes of Dutch connection points: GS1 mod-10 check digits.

Dutch grid connection points are identified by an 18-digit GS1 code whose last digit is a
check digit: weights 3 and 1 alternate from the rightmost data digit, and the check digit
brings the weighted sum up to a multiple of ten.
"""

from __future__ import annotations

EAN_LENGTH = 18


def gs1_check_digit(data_digits: str) -> int:
    """Return the GS1 mod-10 check digit for a string of data digits."""
    if not data_digits.isdigit():
        raise ValueError(f"GS1 data must be digits only, got {data_digits!r}")
    total = 0
    for position, char in enumerate(reversed(data_digits)):
        weight = 3 if position % 2 == 0 else 1
        total += int(char) * weight
    return (10 - total % 10) % 10


def ean18_problem(code: str) -> str | None:
    """Explain why ``code`` is not a valid EAN-18, or return None when it is."""
    if len(code) != EAN_LENGTH:
        return f"EAN {code!r} has {len(code)} characters, an EAN-18 has {EAN_LENGTH} digits"
    if not code.isascii() or not code.isdigit():
        return f"EAN {code!r} contains characters other than the digits 0-9"
    expected = gs1_check_digit(code[:-1])
    if int(code[-1]) != expected:
        return f"EAN {code} has check digit {code[-1]}, expected {expected} (GS1 mod-10)"
    return None


def is_valid_ean18(code: str) -> bool:
    """Tell whether ``code`` is an 18-digit code with a correct GS1 check digit."""
    return ean18_problem(code) is None


def make_ean18(prefix17: str) -> str:
    """Complete 17 data digits with their check digit."""
    if len(prefix17) != EAN_LENGTH - 1:
        raise ValueError(f"need {EAN_LENGTH - 1} data digits, got {len(prefix17)}")
    return prefix17 + str(gs1_check_digit(prefix17))
