"""One phone_id for a number however it is written: the API, the dialer store and the DNC list share it."""

from __future__ import annotations

from autodialer.domain.phone_numbers import parse_phone, phone_id_of


def test_formatted_and_plain_numbers_share_their_phone_id() -> None:
    assert phone_id_of("+7 (952) 223-34-46") == phone_id_of("79522233446") == "9522233446"
    assert phone_id_of("5551001") == parse_phone("5551001").phone_id == "5551001"


def test_text_that_is_not_a_number_keeps_its_last_characters() -> None:
    assert phone_id_of("not a phone number") == "one number"
