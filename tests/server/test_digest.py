from __future__ import annotations

import dataclasses
import hashlib

import pytest

from traceacs.server.digest import (
    DigestCredentials,
    DigestResult,
    DigestVerifier,
    expected_response,
    parse_auth_params,
    parse_digest_authorization,
)

NOW = 1_800_000_000.0
PASSWORD = "s3cret"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324


def answer(
    verifier: DigestVerifier,
    *,
    password: str = PASSWORD,
    nonce: str | None = None,
    nc: str = "00000001",
    uri: str = "/acs",
    method: str = "POST",
    username: str = "cpe1",
    realm: str | None = None,
) -> DigestCredentials:
    """What a CPE computes, written out from RFC 2617 rather than with the module's code."""
    nonce = nonce or verifier.new_nonce(NOW)
    realm = realm or verifier.realm
    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    response = md5(f"{ha1}:{nonce}:{nc}:abcdef:auth:{ha2}")
    return DigestCredentials(username, realm, nonce, uri, response, "auth", nc, "abcdef")


def test_rfc2617_example_vector() -> None:
    creds = DigestCredentials(
        username="Mufasa",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="/dir/index.html",
        response="",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert expected_response(creds, "Circle Of Life", "GET") == "6629fae49393a05397450978507c4ef1"


def test_parse_auth_params_tolerates_cpe_styles() -> None:
    params = parse_auth_params(
        'username="a\\"b", realm = "R, with comma",nc=00000001, qop=auth ,  uri="/x",'
    )
    assert params == {
        "username": 'a"b',
        "realm": "R, with comma",
        "nc": "00000001",
        "qop": "auth",
        "uri": "/x",
    }


def test_parse_digest_authorization() -> None:
    header = (
        'Digest username="cpe1", realm="TraceACS", nonce="n", uri="/acs", '
        'response="ABCDEF", qop=auth, nc=00000002, cnonce="c", algorithm=MD5'
    )
    creds = parse_digest_authorization(header)
    assert creds is not None
    assert (creds.username, creds.nc, creds.response, creds.qop) == (
        "cpe1",
        "00000002",
        "abcdef",
        "auth",
    )
    assert parse_digest_authorization("Basic Zm9vOmJhcg==") is None
    assert parse_digest_authorization('Digest username="x"') is None


def test_repr_hides_the_response_hash() -> None:
    creds = DigestCredentials("u", "r", "n", "/", "deadbeef" * 4, "auth", "1", "c")
    assert "deadbeef" not in repr(creds)


def test_correct_answer_is_accepted() -> None:
    verifier = DigestVerifier("TraceACS")
    assert check(verifier, answer(verifier)) is DigestResult.OK


def check(
    verifier: DigestVerifier,
    creds: DigestCredentials,
    *,
    password: str | None = PASSWORD,
    uri: str = "/acs",
    now: float = NOW,
) -> DigestResult:
    return verifier.verify(creds, password=password, method="POST", request_uri=uri, now=now)


def test_wrong_password_unknown_user_and_forged_nonce_are_rejected() -> None:
    verifier = DigestVerifier("TraceACS")
    assert check(verifier, answer(verifier, password="nope")) is DigestResult.BAD_CREDENTIALS
    assert check(verifier, answer(verifier), password=None) is DigestResult.BAD_CREDENTIALS
    other = DigestVerifier("TraceACS")  # another secret: its nonces are not ours
    forged = answer(verifier, nonce=other.new_nonce(NOW))
    assert check(verifier, forged) is DigestResult.BAD_CREDENTIALS


def test_uri_method_realm_and_qop_must_match() -> None:
    verifier = DigestVerifier("TraceACS")
    assert check(verifier, answer(verifier, uri="/other")) is DigestResult.MALFORMED
    assert check(verifier, answer(verifier, method="GET")) is DigestResult.BAD_CREDENTIALS
    assert check(verifier, answer(verifier, realm="Elsewhere")) is DigestResult.MALFORMED
    no_qop = dataclasses.replace(answer(verifier), qop="")
    assert check(verifier, no_qop) is DigestResult.MALFORMED


def test_absolute_uri_in_header_matches_the_request_path() -> None:
    verifier = DigestVerifier("TraceACS")
    creds = answer(verifier, uri="http://acs.example.net:7547/acs?x=1")
    assert check(verifier, creds, uri="/acs?x=1") is DigestResult.OK
    assert check(verifier, creds, uri="/acs?x=2") is DigestResult.MALFORMED


def test_nonce_count_must_increase() -> None:
    verifier = DigestVerifier("TraceACS")
    nonce = verifier.new_nonce(NOW)
    first = answer(verifier, nonce=nonce, nc="00000001")
    assert check(verifier, first, now=NOW + 1) is DigestResult.OK
    assert check(verifier, first, now=NOW + 1) is DigestResult.REPLAYED
    second = answer(verifier, nonce=nonce, nc="00000002")
    assert check(verifier, second, now=NOW + 1) is DigestResult.OK
    assert verifier.tracked_nonces == 1


def test_expired_nonce_is_stale_and_forgotten() -> None:
    verifier = DigestVerifier("TraceACS", nonce_lifetime=60)
    creds = answer(verifier)
    assert check(verifier, creds, now=NOW + 10) is DigestResult.OK
    again = answer(verifier, nonce=creds.nonce, nc="00000002")
    assert check(verifier, again, now=NOW + 61) is DigestResult.STALE_NONCE
    assert verifier.tracked_nonces == 0, "expired nonces leave the nc table"


def test_challenge_header() -> None:
    verifier = DigestVerifier("TraceACS")
    header = verifier.challenge(NOW)
    params = parse_auth_params(header.partition(" ")[2])
    assert header.startswith("Digest ")
    assert params["realm"] == "TraceACS"
    assert params["qop"] == "auth"
    assert params["algorithm"] == "MD5"
    assert "stale" not in params
    assert parse_auth_params(verifier.challenge(NOW, stale=True))["stale"] == "true"


@pytest.mark.parametrize("nc", ["zz", ""])
def test_bad_nonce_count_is_malformed(nc: str) -> None:
    verifier = DigestVerifier("TraceACS")
    assert check(verifier, answer(verifier, nc=nc)) is DigestResult.MALFORMED
