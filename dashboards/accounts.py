"""Coach accounts, coach login sessions and guest access tokens (in the registry's SQLite).

- Coach passwords are hashed with argon2id (argon2-cffi); a hash made with older
  parameters is re-hashed at the next successful login.
- Login sessions and guest tokens are 256-bit random strings (``secrets.token_urlsafe``);
  only their SHA-256 is stored, so a copy of the database does not let anyone in. (A
  slow hash buys nothing for 256 random bits.)
- A board token opens the live board (the gym's TV) and nothing else; revocable.
- Changing a coach's password ends every other session of that account; removing the
  account ends all of them.
- A guest token belongs to one athlete, expires at the end of the guest's stay
  (``expires_ms``), can be extended by a coach and revoked (``revoked_ms``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gympulse.contract import now_ms
from gympulse.pipeline.sqlite_db import SqliteDatabase, new_id, off_owner, transaction
from gympulse.terminal_safe import check_label

log = logging.getLogger(__name__)

SESSION_TTL_MS = 12 * 3600 * 1000
_hasher = PasswordHasher()


def derive_link(secret: bytes, nonce: str) -> str:
    """A guest link token from the server's secret and a stored nonce (43 url-safe chars)."""
    digest = hmac.new(secret, f"guest-link:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str


@dataclass(frozen=True, slots=True)
class BoardToken:
    id: int
    label: str
    created_ms: int
    revoked_ms: int | None


@dataclass(frozen=True, slots=True)
class GuestToken:
    id: int
    athlete_id: int
    created_ms: int
    expires_ms: int
    revoked_ms: int | None
    lang: str

    def active(self, at_ms: int) -> bool:
        return self.revoked_ms is None and at_ms < self.expires_ms


class Accounts(SqliteDatabase):
    # ---------------------------------------------------------------- coaches

    @off_owner
    def add_user(self, username: str, password: str) -> int:
        """Create a coach account, or set its password: then every session of the account
        ends (whoever was logged in with the old password logs in again)."""
        if not username or len(password) < 8:
            raise ValueError("a username and a password of at least 8 characters are required")
        pw_hash = _hasher.hash(password)  # ~50 ms of CPU: not on the database's thread
        return self.run(lambda conn: self._store_user(conn, username, pw_hash))

    def _store_user(self, conn: sqlite3.Connection, username: str, pw_hash: str) -> int:
        with transaction(conn):
            row = conn.execute(
                "INSERT INTO web_users (username, pw_hash, created_ms) VALUES (?,?,?)"
                " ON CONFLICT (username) DO UPDATE SET pw_hash = excluded.pw_hash RETURNING id",
                (username, pw_hash, now_ms()),
            ).fetchone()
            user_id = int(row[0])
            conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))
        return user_id

    @off_owner
    def change_password(self, user: User, old: str, new: str, keep_session: str) -> bool:
        """Set ``user``'s password if ``old`` is right; every session but ``keep_session``
        (the one that asked) ends. False when ``old`` is wrong."""
        if len(new) < 8:
            raise ValueError("a password of at least 8 characters is required")
        if self.authenticate(user.username, old) is None:
            return False
        pw_hash = _hasher.hash(new)

        def store(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute("UPDATE web_users SET pw_hash = ? WHERE id = ?", (pw_hash, user.id))
                conn.execute(
                    "DELETE FROM web_sessions WHERE user_id = ? AND token_hash != ?",
                    (user.id, token_hash(keep_session)),
                )

        self.run(store)
        return True

    def remove_user(self, username: str) -> bool:
        """Delete a coach account and every session of it."""
        with transaction(self.conn) as conn:
            row = conn.execute(
                "SELECT id FROM web_users WHERE username = ?", (username,)
            ).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (row[0],))
            conn.execute("DELETE FROM web_users WHERE id = ?", (row[0],))
        return True

    def users(self) -> list[User]:
        return [User(*r) for r in self.conn.execute("SELECT id, username FROM web_users")]

    def set_contact(self, username: str, *, email: str | None, lang: str | None) -> bool:
        """Set a coach's address and language for the morning email (None: keep)."""
        with transaction(self.conn) as conn:
            cur = conn.execute(
                "UPDATE web_users SET email = coalesce(?, email), lang = coalesce(?, lang)"
                " WHERE username = ?",
                (email, lang, username),
            )
        return cur.rowcount == 1

    def recipients(self) -> list[tuple[str, str, str]]:
        """(username, address, language) of every coach with an address, by username."""
        rows = self.conn.execute(
            "SELECT username, email, lang FROM web_users WHERE email != '' ORDER BY username"
        ).fetchall()
        return [(str(u), str(e), str(lang)) for u, e, lang in rows]

    @off_owner
    def authenticate_known(self, username: str, password: str) -> tuple[User | None, bool]:
        """(the user if the password is right, whether ``username`` is an account)."""
        user = self.authenticate(username, password)
        if user is not None:
            return user, True
        return None, self._pw_hash(username) is not None

    def _pw_hash(self, username: str) -> tuple[int, str] | None:
        row = self.run(
            lambda conn: conn.execute(
                "SELECT id, pw_hash FROM web_users WHERE username = ?", (username,)
            ).fetchone()
        )
        return None if row is None else (int(row[0]), str(row[1]))

    @off_owner
    def authenticate(self, username: str, password: str) -> User | None:
        """The password check runs off the database's thread (argon2: ~50 ms of CPU)."""
        found = self._pw_hash(username)
        if found is None:
            # Spend the same time as a real check, so timing does not reveal usernames.
            _hasher.hash(password)
            return None
        user_id, pw_hash = found
        try:
            _hasher.verify(pw_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(pw_hash):
            rehashed = _hasher.hash(password)
            self.run(
                lambda conn: conn.execute(
                    "UPDATE web_users SET pw_hash = ? WHERE id = ?", (rehashed, user_id)
                )
            )
        return User(user_id, username)

    def start_session(self, user: User) -> str:
        token = new_token()
        at = now_ms()
        self.conn.execute(
            "INSERT INTO web_sessions (token_hash, user_id, created_ms, expires_ms)"
            " VALUES (?,?,?,?)",
            (token_hash(token), user.id, at, at + SESSION_TTL_MS),
        )
        return token

    def session_user(self, token: str) -> User | None:
        row = self.conn.execute(
            "SELECT u.id, u.username FROM web_sessions s JOIN web_users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_ms > ?",
            (token_hash(token), now_ms()),
        ).fetchone()
        return None if row is None else User(*row)

    def end_session(self, token: str) -> None:
        self.conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))

    def sessions_valid(self, tokens: set[str]) -> set[str]:
        """Which of these session tokens still belong to a live session."""
        at = now_ms()
        return {
            t
            for t in tokens
            if self.conn.execute(
                "SELECT 1 FROM web_sessions WHERE token_hash = ? AND expires_ms > ?",
                (token_hash(t), at),
            ).fetchone()
        }

    # ---------------------------------------------------------------- live board

    def issue_board_token(self, label: str = "") -> tuple[int, str]:
        """A new board link token (id, token); the token is returned once, stored hashed.
        ValueError for a label :func:`~gympulse.terminal_safe.check_label` refuses."""
        label = check_label(label)
        token = new_token()
        cur = self.conn.execute(
            "INSERT INTO board_tokens (token_hash, label, created_ms) VALUES (?,?,?) RETURNING id",
            (token_hash(token), label, now_ms()),
        )
        return new_id(cur), token

    def board_token_valid(self, token: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM board_tokens WHERE token_hash = ? AND revoked_ms IS NULL",
            (token_hash(token),),
        ).fetchone()
        return row is not None

    def board_tokens(self) -> list[BoardToken]:
        return [
            BoardToken(*r)
            for r in self.conn.execute(
                "SELECT id, label, created_ms, revoked_ms FROM board_tokens ORDER BY id"
            )
        ]

    def revoke_board_token(self, token_id: int) -> bool:
        cur = self.conn.execute(
            "UPDATE board_tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
            (now_ms(), token_id),
        )
        return cur.rowcount == 1

    # ---------------------------------------------------------------- guests

    def issue_guest_token(
        self, athlete_id: int, expires_ms: int, lang: str = "", *, secret: bytes | None = None
    ) -> str:
        """A new personal link token for ``athlete_id``, stored hashed. With the server's
        ``secret`` the token is HMAC(secret, a random nonce) and only the nonce is kept, so
        the coach can be shown the link again (:meth:`guest_link_token`) while the database
        alone still reveals no link."""
        nonce = new_token()
        token = derive_link(secret, nonce) if secret else new_token()
        with transaction(self.conn) as conn:
            token_id = new_id(
                conn.execute(
                    "INSERT INTO guest_tokens (athlete_id, token_hash, created_ms, expires_ms,"
                    " lang) VALUES (?,?,?,?,?) RETURNING id",
                    (athlete_id, token_hash(token), now_ms(), expires_ms, lang),
                )
            )
            if secret:
                conn.execute(
                    "INSERT INTO guest_token_nonce (token_id, nonce) VALUES (?, ?)",
                    (token_id, nonce),
                )
        return token

    # ---------------------------------------------------------------- after the stay

    def after_stay(self, athlete_id: int) -> int | None:
        """Days after her departure that her guest links keep working (0: they end with
        the departure day), or None: the coach set nothing and each link runs until it
        expires (:func:`gympulse.dashboards.access.stay_link_end_ms`)."""
        row = self.conn.execute(
            "SELECT keep_days FROM guest_after_stay WHERE athlete_id = ?", (athlete_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def set_after_stay(self, athlete_id: int, keep_days: int | None, by_whom: str) -> None:
        """The coach's choice for her links after the stay (None: until each link expires).
        Read on every guest request: it applies at once."""
        with transaction(self.conn) as conn:
            if keep_days is None:
                conn.execute("DELETE FROM guest_after_stay WHERE athlete_id = ?", (athlete_id,))
            else:
                conn.execute(
                    "INSERT INTO guest_after_stay (athlete_id, keep_days, set_ms, by_whom)"
                    " VALUES (?,?,?,?) ON CONFLICT (athlete_id) DO UPDATE SET"
                    " keep_days = excluded.keep_days, set_ms = excluded.set_ms,"
                    " by_whom = excluded.by_whom",
                    (athlete_id, keep_days, now_ms(), by_whom),
                )

    def showable_guest_links(self) -> set[int]:
        """Ids of links that can be shown again (issued with a nonce)."""
        return {int(r[0]) for r in self.conn.execute("SELECT token_id FROM guest_token_nonce")}

    def guest_link_token(self, token_id: int, secret: bytes) -> str | None:
        """The token of link ``token_id`` again, or None (issued without a nonce, or the
        server's secret changed since)."""
        row = self.conn.execute(
            "SELECT n.nonce, g.token_hash FROM guest_token_nonce n"
            " JOIN guest_tokens g ON g.id = n.token_id WHERE n.token_id = ?",
            (token_id,),
        ).fetchone()
        if row is None:
            return None
        token = derive_link(secret, str(row[0]))
        return token if hmac.compare_digest(token_hash(token), str(row[1])) else None

    def guest(
        self, token: str, at_ms: int | None = None, *, record_use: bool = True
    ) -> GuestToken | None:
        """The active token ``token`` names, or None (unknown, expired or revoked).
        ``record_use``: note the link's last use for the coach's list (a page or API
        request does; the stream guard's re-checks do not)."""
        row = self.conn.execute(
            "SELECT id, athlete_id, created_ms, expires_ms, revoked_ms, lang FROM guest_tokens"
            " WHERE token_hash = ?",
            (token_hash(token),),
        ).fetchone()
        if row is None:
            return None
        found = GuestToken(*row)
        if not found.active(now_ms() if at_ms is None else at_ms):
            return None
        if record_use:
            self._record_use(found.id)
        return found

    def _record_use(self, token_id: int) -> None:
        """The link's last use, for the coach's list: written at most once a minute per
        link, and only as bookkeeping — a locked database never fails the guest's page."""
        used = now_ms()
        last = self.conn.execute(
            "SELECT last_used_ms FROM guest_token_use WHERE token_id = ?", (token_id,)
        ).fetchone()
        if last is not None and used <= int(last[0]) + 60_000:
            return
        try:
            self.conn.execute(
                "INSERT INTO guest_token_use (token_id, last_used_ms) VALUES (?, ?)"
                " ON CONFLICT (token_id) DO UPDATE SET last_used_ms = excluded.last_used_ms"
                " WHERE excluded.last_used_ms > guest_token_use.last_used_ms + 60000",
                (token_id, used),
            )
        except sqlite3.OperationalError as err:  # locked by another writer: skip this once
            log.info("last use of guest link %d not recorded: %s", token_id, err)

    def guest_last_used(self) -> dict[int, int]:
        """token id -> when its link was last opened (ms; to the minute)."""
        rows = self.conn.execute("SELECT token_id, last_used_ms FROM guest_token_use")
        return {int(r[0]): int(r[1]) for r in rows}

    def guest_tokens(self, athlete_id: int | None = None) -> list[GuestToken]:
        sql = "SELECT id, athlete_id, created_ms, expires_ms, revoked_ms, lang FROM guest_tokens"
        params: tuple[object, ...] = ()
        if athlete_id is not None:
            sql += " WHERE athlete_id = ?"
            params = (athlete_id,)
        return [GuestToken(*r) for r in self.conn.execute(sql + " ORDER BY id", params)]

    def revoke_guest_token(self, token_id: int) -> bool:
        cur = self.conn.execute(
            "UPDATE guest_tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
            (now_ms(), token_id),
        )
        return cur.rowcount == 1

    def extend_guest_token(self, token_id: int, expires_ms: int) -> bool:
        cur = self.conn.execute(
            "UPDATE guest_tokens SET expires_ms = ? WHERE id = ? AND revoked_ms IS NULL",
            (expires_ms, token_id),
        )
        return cur.rowcount == 1
