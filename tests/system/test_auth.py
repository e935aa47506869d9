"""Tokens: issued, verified, expired, forged, malformed; the secret file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from system import auth

SECRET = auth.new_secret().encode()


def test_a_token_proves_its_user_admin_claim_and_expiry() -> None:
    token = auth.issue(SECRET, "Zoë", 60, admin=True, now=1000.0)
    who = auth.verify(SECRET, token, now=1059.0)
    assert (who.user, who.admin, who.gate, who.expires) == ("Zoë", True, False, 1060.0)
    assert not auth.verify(SECRET, auth.issue(SECRET, "bob", 60)).admin


BAD = {
    "expired": (lambda: auth.issue(SECRET, "bob", 60, now=1000.0), "expired", "token expired"),
    "forged": (lambda: auth.issue(b"another secret that is long enough!!", "bob", 60, now=1100.0), "invalid",
               "signature"),
    "garbage": (lambda: "not.a.jwt", "invalid", "token rejected"),
    "empty": (lambda: "", "invalid", "token rejected"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_tokens_are_rejected_saying_why(case: str) -> None:
    make, reason, words = BAD[case]
    token = make()
    with pytest.raises(auth.TokenRejected) as err:
        auth.verify(SECRET, token, now=1100.0)
    assert err.value.reason == reason and words in str(err.value)


def test_a_token_signed_with_another_algorithm_or_none_is_refused() -> None:
    import jwt
    unsigned = jwt.encode({"iss": "pushchat", "sub": "bob", "exp": 2**40}, None, algorithm="none")
    with pytest.raises(auth.TokenRejected):
        auth.verify(SECRET, unsigned)
    with pytest.raises(auth.TokenRejected):  # the user name must be one a room accepts
        auth.verify(SECRET, jwt.encode({"iss": "pushchat", "sub": "a\x00b", "exp": 2**40}, SECRET, "HS256"))


def test_the_bearer_header_is_read_and_a_malformed_one_refused() -> None:
    assert auth.bearer([("authorization", "Bearer abc")]) == "abc"
    assert auth.bearer([("x-other", "1")]) is None
    for bad in ("Basic abc", "Bearer", "abc"):
        with pytest.raises(auth.TokenRejected):
            auth.bearer([("authorization", bad)])


def test_a_secret_file_is_made_private_never_overwritten_and_a_short_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    auth.write_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(auth.read_secret(path)) == 64
    with pytest.raises(FileExistsError):
        auth.write_secret(path)
    (tmp_path / "short").write_text("tiny\n")
    with pytest.raises(ValueError, match="at least 32"):
        auth.read_secret(tmp_path / "short")
    with pytest.raises(ValueError, match="cannot read"):
        auth.read_secret(tmp_path / "missing")
