"""Reading a do-not-call CSV with the real normaliser: spellings become one entry, bad rows are reported by number."""

from __future__ import annotations

import pytest

from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.domain.dnc_import import DncImportCounts, DncRow, DncRowError, InvalidDncFile, read_dnc_csv

RU = PhoneNumbering("RU")


def read(text: str) -> tuple[list[DncRow | DncRowError], DncImportCounts]:
    counts = DncImportCounts()
    return list(read_dnc_csv(text.splitlines(), RU.e164, counts)), counts


def test_three_spellings_of_one_number_are_one_entry() -> None:
    rows, counts = read('phone,note\n8 952 223-34-46,asked by phone\n"+7 952 2233446",\n79522233446,again\n')
    assert rows == [DncRow(2, "+79522233446", "asked by phone")]
    assert (counts.entries, counts.duplicates, counts.errors) == (1, 2, 0)


def test_semicolons_a_bom_other_columns_and_blank_rows() -> None:
    text = "\ufeffName;Телефон;Note\nIvanov;8 (383) 333-44-55;\n;;\nPetrov;+1 212 555 1234;vip\n"
    rows, counts = read(text)
    assert rows == [DncRow(2, "+73833334455", ""), DncRow(4, "+12125551234", "vip")]
    assert counts.entries == 2


def test_every_bad_row_is_reported_with_its_row_number_and_rule() -> None:
    text = "phone,note\nhello,\n+7 952 223,\n9522233446,ok\n,\n+79161234567," + "x" * 201 + "\n"
    rows, counts = read(text)
    assert rows == [
        DncRowError(2, "phone", "phone: 'hello' is not a phone number"),
        DncRowError(3, "phone", "phone: '+7 952 223' is too short for a number of its country"),
        DncRow(4, "+79522233446", "ok"),
        DncRowError(6, "note", "must be at most 200 characters"),
    ]
    assert (counts.entries, counts.errors) == (1, 3)


def test_a_row_missing_the_phone_cell_is_an_error_not_a_crash() -> None:
    rows, _ = read("note,phone\nonly a note\n")
    assert rows == [DncRowError(2, "phone", "phone: '' is not a phone number")]


@pytest.mark.parametrize("text", ["", "name,note\n8 952 223-34-46,x\n"])
def test_a_file_without_a_phone_column_is_refused_whole(text: str) -> None:
    with pytest.raises(InvalidDncFile) as caught:
        read(text)
    assert caught.value.error_id == "invalid-dnc-file"
    assert "must name a phone column" in str(caught.value)
