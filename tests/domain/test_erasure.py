"""Erasure in landed customer files and the erased-customer rule (domain.erasure)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from domain.erasure import (
    ERASED_CUSTOMER,
    UnreadableFileError,
    personal_values,
    redact_customers_csv,
    redact_customers_json,
    refuse_erased,
)

CSV = (
    "customer_id,name,email,address\r\n"
    'C1,Anna Erasmus,anna@example.nl,"Kade 1, 1000 AA Demodam"\r\n'
    'C2,"Bert, de Vries",bert@example.nl,"Dorp 2\r\nAchterom"\r\n'
    "\r\n"
    "C1,Anna E.,,\r\n"
    "C3,Cor,cor@example.nl,Weg 3\r\n"
)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_only_the_customers_fields_are_blanked_and_every_line_stays():
    result = redact_customers_csv(CSV.encode(), "C1")
    assert result.records == 2
    assert "Anna" not in result.text and "anna@" not in result.text and "Kade" not in result.text
    assert _rows(result.text) == [
        ["customer_id", "name", "email", "address"],
        ["C1", "", "", ""],
        ["C2", "Bert, de Vries", "bert@example.nl", "Dorp 2\r\nAchterom"],
        [],
        ["C1", "", "", ""],
        ["C3", "Cor", "cor@example.nl", "Weg 3"],
    ]
    assert result.text.count("\r\n") == CSV.count("\r\n")  # same lines, same line numbers


def test_a_file_without_the_customer_or_already_blank_is_left_as_it_is():
    assert redact_customers_csv(CSV.encode(), "C9").text == CSV
    once = redact_customers_csv(CSV.encode(), "C1").text
    again = redact_customers_csv(once.encode(), "C1")
    assert again.records == 0 and again.text == once


def test_the_bom_and_unix_line_ends_are_kept_and_extra_fields_are_blanked_too():
    content = "\ufeffcustomer_id,name\nC1,Anna,anna@example.nl,06-12345678\nC2,Bert\n".encode()
    result = redact_customers_csv(content, "C1")
    assert result.text == "\ufeffcustomer_id,name\nC1,,,\nC2,Bert\n"


@pytest.mark.parametrize(
    "content",
    [
        "customer_id,name\nC1,Ann\xe9\n".encode("latin-1"),  # not UTF-8
        b'customer_id,name\nC1,"Anna\n',  # unterminated quote
        b"id,name\nC1,Anna\n",  # no customer_id column
    ],
)
def test_a_file_that_cannot_be_read_reliably_is_refused_not_guessed_at(content):
    with pytest.raises(UnreadableFileError):
        redact_customers_csv(content, "C1")


def test_json_records_of_the_customer_get_nulls_and_keep_their_positions():
    document = [
        {"customer_id": "C2", "name": "Bert", "email": None},
        {"customer_id": "C1", "name": "Anna", "email": "anna@example.nl", "phone": "0612345678"},
        "not a record",
    ]
    result = redact_customers_json(json.dumps(document).encode(), "C1")
    assert result.records == 1
    assert json.loads(result.text) == [
        {"customer_id": "C2", "name": "Bert", "email": None},
        {"customer_id": "C1", "name": None, "email": None, "phone": None},
        "not a record",
    ]
    with pytest.raises(UnreadableFileError):
        redact_customers_json(b'{"customer_id": "C1"}', "C1")


def test_personal_values_are_collected_for_the_reason_check():
    assert personal_values(CSV.encode(), "C1", ".csv") == {
        "Anna Erasmus",
        "anna@example.nl",
        "Kade 1, 1000 AA Demodam",
        "Anna E.",
    }
    assert personal_values(b"\xff\xfe", "C1", ".csv") == set()


def test_erased_customers_are_refused_redacted_and_the_others_kept():
    rows = [
        (2, {"customer_id": "C1", "name": "Anna", "email": "anna@example.nl", "address": None}),
        (3, {"customer_id": " C2 ", "name": "Bert", "email": None, "address": None}),
        (4, {"customer_id": "", "name": "Nobody", "email": None, "address": None}),
    ]
    kept, refused = refuse_erased(rows, lambda customer_id: customer_id == "C1")
    assert [line for line, _ in kept] == [3, 4]
    [rejection] = refused
    assert rejection.line == 2 and rejection.code == ERASED_CUSTOMER
    assert rejection.record == {
        "customer_id": "C1",
        "name": "<redacted>",
        "email": "<redacted>",
        "address": None,
    }
    assert "Anna" not in rejection.reason and "C1" in rejection.reason
