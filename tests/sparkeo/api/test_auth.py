"""sparkeo.api.auth: the users file, bcrypt passwords, signed expiring tokens."""
from __future__ import annotations

import pytest

from sparkeo.api.auth import Authenticator, hash_password, parse_users
from sparkeo.errors import ConfigError
from sparkeo.names import InvalidUserName

SECRET = b"s" * 32


@pytest.fixture(scope="module")
def users():
    return parse_users(f"# users\n\nalice:{hash_password('pw-a', rounds=4)}:team-a, team-b\n"
                       f"bob:{hash_password('pw-b', rounds=4)}\n")


def test_users_file_lines_give_name_hash_and_groups(users):
    assert set(users) == {"alice", "bob"}
    assert users["alice"].groups == {"team-a", "team-b"} and users["bob"].groups == frozenset()


@pytest.mark.parametrize("line, error", [
    ("carol:plaintext-password", ConfigError),
    ("carol", ConfigError),
    ("../x:$2b$04$abcdefghijklmnopqrstuuQ0o1bO8h2v1kM7q0B6Vb0h1b9Gq6yKa", InvalidUserName),
], ids=["plain-password", "no-hash", "bad-user-name"])
def test_a_bad_line_is_refused_without_echoing_the_secret(line, error):
    with pytest.raises(error) as err:
        parse_users(f"# header\n{line}\n", "users.txt")
    if error is ConfigError:
        assert "line 2" in str(err.value) and "plaintext-password" not in str(err.value)


def test_login_issues_a_token_that_stands_for_the_user_until_it_expires(users):
    auth = Authenticator(users, SECRET, token_ttl=60)
    token = auth.login("alice", "pw-a", now=1000.0)
    caller = auth.caller_of(token, now=1059.0)
    assert caller.user == "alice" and caller.groups == {"team-a", "team-b"}
    assert auth.caller_of(token, now=1061.0) is None
    assert auth.login("alice", "pw-b") is None and auth.login("nobody", "pw-a") is None
    assert "pw-a" not in token


def test_a_token_is_bound_to_the_secret_and_cannot_be_edited(users):
    token = Authenticator(users, SECRET).login("bob", "pw-b")
    assert Authenticator(users, b"another secret").caller_of(token) is None
    payload, _, signature = token.partition(".")
    edited = payload[:-1] + ("B" if payload[-1] == "A" else "A")
    assert Authenticator(users, SECRET).caller_of(f"{edited}.{signature}") is None
    assert Authenticator(users, SECRET).caller_of("garbage") is None


def test_a_removed_user_loses_access_at_once(users):
    token = Authenticator(users, SECRET).login("bob", "pw-b")
    assert Authenticator({"alice": users["alice"]}, SECRET).caller_of(token) is None
