import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ean import ean18_problem, gs1_check_digit, is_valid_ean18, make_ean18

# The good EAN in full-width digits: str.isdigit() says yes, the rule must still say no.
FULLWIDTH_GOOD_EAN = "".join(chr(0xFF10 + int(c)) for c in "130539057492609625")


def test_the_known_good_ean_from_the_case_is_valid():
    assert is_valid_ean18("130539057492609625")


@pytest.mark.parametrize("wrong", "012346789")
def test_any_other_check_digit_is_refused_with_the_expected_one(wrong):
    problem = ean18_problem("13053905749260962" + wrong)
    assert problem is not None
    assert "expected 5" in problem


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("13053905749260962", "has 17 characters"),
        ("1305390574926096250", "has 19 characters"),
        ("13053905749260962A", "other than the digits"),
        (FULLWIDTH_GOOD_EAN, "other than the digits"),
        ("", "has 0 characters"),
    ],
)
def test_malformed_codes_are_explained(code, fragment):
    assert fragment in (ean18_problem(code) or "")


def test_gs1_weights_alternate_three_and_one_from_the_right():
    # 8710000000000000: weights from the right 3,1,3,...: 8*1 + 7*3 + 1*1 = 30 -> check 0
    assert gs1_check_digit("871") == (10 - (1 * 3 + 7 * 1 + 8 * 3) % 10) % 10


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_make_ean18_always_gives_a_valid_code(digits):
    assert is_valid_ean18(make_ean18(digits))


@given(
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    st.integers(min_value=0, max_value=17),
    st.integers(min_value=1, max_value=9),
)
def test_changing_any_single_digit_breaks_the_check(digits, position, shift):
    code = make_ean18(digits)
    changed = code[:position] + str((int(code[position]) + shift) % 10) + code[position + 1 :]
    assert not is_valid_ean18(changed)
