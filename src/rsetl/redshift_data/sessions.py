"""The Data API's sessions: opened by `SessionKeepAliveSeconds`, reused by `SessionId`, closed when
their keep-alive runs out after their last statement."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from rsetl.redshift_data.connections import Session
from rsetl.redshift_data.exceptions import (
    ActiveSessionsExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from rsetl.redshift_data.users import DatabaseLogin

DEFAULT_DATABASE = "dev"
_TARGET_FIELDS = ("ClusterIdentifier", "WorkgroupName", "DbUser", "SecretArn")


class SessionTable:
    """The open (and recently closed) sessions; not thread-safe: the backend holds its lock."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def owned_by(self, owner: str) -> list[Session]:
        return [session for session in self._sessions.values() if session.owner == owner]

    def take(
        self,
        params: Mapping[str, Any],
        identity: tuple[str, str],
        login: Callable[[], DatabaseLogin],
        statement_id: str,
        now: datetime,
        *,
        max_open: int,
        is_busy: Callable[[str], bool],
    ) -> Session | None:
        """The session a submit runs in, now BUSY with `statement_id`: the one `SessionId` names,
        a new one for `SessionKeepAliveSeconds`, or None. `identity` is (principal, owner);
        `login` gives a new session's database user; `is_busy` tells whether a statement is still
        running."""
        principal, owner = identity
        keep_alive = params.get("SessionKeepAliveSeconds")
        session_id = params.get("SessionId")
        if session_id:
            session = self._sessions.get(session_id)
            if session is None or session.owner != owner or session.closed:
                raise ResourceNotFoundException(
                    f"Session {session_id} does not exist or has expired.", session_id
                )
            if session_due(session, now):
                session.closed = True
                raise ResourceNotFoundException(
                    f"Session {session_id} does not exist or has expired.", session_id
                )
            # A statement whose final status is set no longer uses the connection; its worker
            # may not have released the session yet.
            if session.current_statement and is_busy(session.current_statement):
                raise ValidationException(
                    f"Session {session_id} is busy running statement {session.current_statement}; "
                    "wait for it to finish before submitting another."
                )
        elif keep_alive:
            if sum(1 for s in self._sessions.values() if not s.closed) >= max_open:
                raise ActiveSessionsExceededException(
                    f"Active sessions exceeded the allowed quota ({max_open})."
                )
            database = params.get("Database") or DEFAULT_DATABASE
            target = {name: params[name] for name in _TARGET_FIELDS if params.get(name) is not None}
            session = Session(
                id=str(uuid.uuid4()),
                principal=principal,
                owner=owner,
                database=database,
                login=login(),
                request=target | {"Database": database},
                created_at=now,
                updated_at=now,
                keep_alive=keep_alive,
            )
            self._sessions[session.id] = session
        else:
            return None
        if keep_alive is not None:
            session.keep_alive = keep_alive
        session.current_statement = statement_id
        session.expires_at = None
        session.updated_at = now
        return session

    def release(self, session_id: str | None, statement_id: str, now: datetime) -> Session | None:
        """The statement ended: its session is AVAILABLE until its keep-alive runs out; returns
        the session to close when its keep-alive is 0."""
        session = self._sessions.get(session_id) if session_id else None
        if session is None or session.current_statement != statement_id:
            return None
        session.current_statement = None
        session.updated_at = now
        session.expires_at = now + timedelta(seconds=session.keep_alive)
        if session.keep_alive == 0:
            session.closed = True
            return session
        return None

    def expire(self, now: datetime, ttl: timedelta) -> list[Session]:
        """Mark the sessions whose keep-alive ran out closed (returned, to close their connections);
        forget the ones closed longer than `ttl` ago."""
        closing = [session for session in self._sessions.values() if session_due(session, now)]
        for session in closing:
            session.closed = True
        for sid in [sid for sid, s in self._sessions.items() if s.closed and now - s.updated_at >= ttl]:
            del self._sessions[sid]
        return closing

    def clear(self) -> list[Session]:
        """Forget every session; returns them, to close their connections."""
        sessions = list(self._sessions.values())
        self._sessions.clear()
        return sessions


def session_due(session: Session, now: datetime) -> bool:
    """Whether the session's keep-alive has run out."""
    return not session.closed and session.expires_at is not None and now >= session.expires_at
