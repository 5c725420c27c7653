from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.settlement.money import allocate_cents, round_cents, round_kwh, round_ratio

D = Decimal


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        (D("10.385"), D("10.38")),  # a tie goes to the even cent
        (D("10.375"), D("10.38")),
        (D("-10.385"), D("-10.38")),
        (D("2.675"), D("2.68")),  # exact decimal, so no binary-float surprise
        (D("0.0049"), D("0.00")),
        (D("-0.001"), D("0.00")),  # and never a negative zero
        (Fraction(1, 3), D("0.33")),
        (Fraction(-2, 3), D("-0.67")),
    ],
)
def test_round_cents_half_even(amount, cents):
    rounded = round_cents(amount)
    assert rounded == cents and str(rounded) == str(cents)


def test_energy_and_ratio_quanta():
    assert round_kwh(Fraction(1000, 3)) == D("333.333333")
    assert round_kwh(D("0.0000005")) == D("0.000000")
    assert round_kwh(D("0.0000015")) == D("0.000002")
    assert round_ratio(Fraction(2, 3)) == D("0.6667")


def test_largest_remainder_by_hand():
    thirds = {"a": Fraction(1, 3), "b": Fraction(1, 3), "c": Fraction(1, 3)}
    assert allocate_cents(thirds, D("1.00")) == {"a": D("0.34"), "b": D("0.33"), "c": D("0.33")}
    # 0.50 x 0.6, 0.3, 0.1: 0.30, 0.15, 0.05 exactly, nothing to hand out
    exact = {"x": D("0.30"), "y": D("0.15"), "z": D("0.05")}
    assert allocate_cents(exact, D("0.50")) == exact
    # remainders 0.6, 0.7 and 0.7 of a cent: the two cents go to the 0.7s
    shares = {"p": D("0.006"), "q": D("0.007"), "r": D("0.007")}
    assert allocate_cents(shares, D("0.02")) == {"p": D("0.00"), "q": D("0.01"), "r": D("0.01")}


def test_largest_remainder_refusals():
    with pytest.raises(ValueError, match="whole number of cents"):
        allocate_cents({"a": D("0.005")}, D("0.005"))
    with pytest.raises(ValueError, match="do not add up"):
        allocate_cents({"a": D("0.50")}, D("0.51"))


@given(
    st.lists(st.fractions(min_value=-1000, max_value=1000, max_denominator=10_000), max_size=15),
    st.integers(-100_000, 100_000),
)
def test_largest_remainder_reconciles_and_stays_within_a_cent(parts, total_cents):
    total = D(total_cents) / 100
    # make the exact shares add up to the total: the last party takes the rest
    exact = {f"k{i}": part for i, part in enumerate(parts)}
    exact["rest"] = Fraction(total) - sum(parts, Fraction(0))
    rounded = allocate_cents(exact, total)
    assert sum(rounded.values()) == total
    for key, value in rounded.items():
        assert value == value.quantize(D("0.01"))
        assert abs(Fraction(value) - exact[key]) < Fraction(1, 100)
        if exact[key] * 100 == int(exact[key] * 100):
            assert Fraction(value) == exact[key]
