"""Error kinds: a short, stable name for what went wrong (the histogram key of the verdicts)."""

import errno
import http.client
import socket

import dns.exception
import dns.resolver
import pymysql
import redis
import redis.sentinel

_TEXT_KINDS = (
    ("invalid session", "session ID unknown"),
    ("namespaces failed to connect", "namespace not connected"),
    ("session id unknown", "session ID unknown"),
    ("previous master is now a slave", "READONLY"),
    ("timed out", "timeout"),
    ("timeout", "timeout"),
    ("connection refused", "refused"),
    ("no route to host", "unreachable"),
    ("network is unreachable", "unreachable"),
    ("name or service not known", "unknown host"),
    ("temporary failure in name resolution", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("connection reset", "reset"),
    ("closed by server", "closed"),
    ("remote end closed", "closed"),
    ("connection aborted", "closed"),
    ("broken pipe", "closed"),
)


def text_kind(text, default=""):
    low = text.lower()
    for needle, kind_ in _TEXT_KINDS:
        if needle in low:
            return kind_
    if "unexpected status code" in low:
        code = [w for w in low.split() if w.isdigit()]
        return f"http {code[0]}" if code else "http error"
    return default


def kind(exc):
    """A short, stable name for what went wrong (the histogram key of the verdicts)."""
    if isinstance(exc, dns.exception.Timeout):
        return "dns timeout"
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return "dns nxdomain"
    if isinstance(exc, (dns.resolver.NoAnswer, dns.resolver.NoNameservers)):
        return "dns no answer"
    if isinstance(exc, redis.sentinel.MasterNotFoundError):
        return "no master"
    if isinstance(exc, redis.sentinel.SlaveNotFoundError):
        return "no replica"
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return "READONLY"
    if isinstance(exc, redis.exceptions.TimeoutError):
        return "timeout"
    if isinstance(exc, redis.exceptions.ResponseError):
        words = str(exc).split()
        return words[0] if words and words[0].isupper() else "redis error"
    if isinstance(exc, pymysql.err.MySQLError):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        if code == 1290:
            return "READONLY"
        if code in (2003, 2002):
            return text_kind(str(exc), "refused")
        if code in (2006, 2013):
            return "lost connection"
        return f"mysql {code}" if code else text_kind(str(exc), "mysql error")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "closed"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, OSError) and exc.errno in (
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    ):
        return "unreachable"
    found = text_kind(str(exc))
    return found or f"{type(exc).__name__}: {str(exc)[:60]}"


class Failure(Exception):
    """An operation failed in a way already named (``kind``)."""

    def __init__(self, kind_):
        super().__init__(kind_)
        self.kind = kind_
