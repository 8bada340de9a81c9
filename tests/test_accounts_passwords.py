"""The one password policy, rule by rule: each refusal names its rule and the field it was given."""

from __future__ import annotations

import pytest

from resolvers import accounts_passwords as passwords
from resolvers.errors import DomainError

EMAIL = "ada.lovelace@example.com"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("", "PASSWORD_TOO_SHORT"),
        ("seven77", "PASSWORD_TOO_SHORT"),
        ("x" * 129, "TOO_LONG"),
        (EMAIL, "PASSWORD_TOO_SIMILAR"),
        (" Ada.Lovelace@Example.com ", "PASSWORD_TOO_SIMILAR"),
        ("ADA.LOVELACE", "PASSWORD_TOO_SIMILAR"),  # the part before the @
        ("20240101", "PASSWORD_TOO_COMMON"),  # digits only: a date
        ("password123", "PASSWORD_TOO_COMMON"),  # on the shipped list
        ("QwertyUIOP", "PASSWORD_TOO_COMMON"),  # on it whatever the case
        ("iloveyou2 ", "PASSWORD_TOO_COMMON"),  # and with spaces around
    ],
)
def test_each_rule_has_its_code(password: str, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        passwords.check(password, EMAIL, "newPassword")
    assert (refused.value.code, refused.value.field) == (code, ["newPassword"])


@pytest.mark.parametrize("password", ["correct horse", "kx7-Vq2p", "é" * 128, "ada.lovelace!", "Lovelace 1815"])
def test_a_password_that_breaks_no_rule_passes(password: str) -> None:
    passwords.check(password, EMAIL)


def test_the_shipped_list_is_read_once_and_holds_only_what_the_length_rule_lets_through() -> None:
    listed = passwords.common_passwords()
    assert passwords.common_passwords() is listed
    assert len(listed) == 8346
    assert all(len(entry) >= passwords.MIN_LENGTH and entry == entry.lower() for entry in listed)
    # Entries shorter than 8 characters ("monkey") are left out: the length rule refuses them first.
    assert {"password", "123456789", "qwertyuiop", "monkey", "dragon"} & listed == {
        "password",
        "123456789",
        "qwertyuiop",
    }
