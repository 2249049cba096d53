"""socket.io: users that connect through the LB the DNS answer names, echo, and reconnect by
themselves when the connection ends."""

import logging
import threading
import time

import requests
import socketio

from .common import STOP, quietly, record
from .dnscache import DnsCache
from .kinds import Failure, kind, text_kind


class _LastWords(logging.Handler):
    """Keeps engineio's last complaint (why a transport ended), per client."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.last = ""

    def emit(self, rec):
        msg = rec.getMessage()
        if rec.levelno >= logging.WARNING or "aborting" in msg:
            self.last = msg


class _Disconnected(Exception):
    """The socket.io connection ended while an echo was waiting for its ack."""


class SioUser(threading.Thread):
    """A socket.io user: connect through the LB the DNS answer names, echo every ``interval``,
    and reconnect by itself (fresh DNS answer) when the connection ends; every attempt, echo,
    disconnect and reconnect is an operation."""

    def __init__(self, cfg, name, transports, rng):
        super().__init__(name=name, daemon=True)
        self.cfg = cfg
        self.client = name
        self.transports = transports
        self.rng = rng
        self.dns = DnsCache(cfg.dns_server, "lb." + cfg.domain, stale=cfg.dns_stale)
        self.elog = logging.getLogger("eio." + name)
        self.elog.propagate = False
        self.elog.setLevel(logging.INFO)
        self.words = _LastWords()
        self.elog.addHandler(self.words)
        self.session_unknown = False
        self.bad_status = 0
        self.disc = threading.Event()
        self.disc_at = 0.0

    def _on_response(self, resp, *args, **kwargs):
        if resp.status_code >= 400:
            self.bad_status = resp.status_code
            text = resp.text[:200].lower() if resp.status_code == 400 else ""
            if "invalid session" in text or "session id unknown" in text:
                self.session_unknown = True
        return resp

    def _reason(self):
        if self.session_unknown:
            return "session ID unknown"
        found = text_kind(self.words.last)
        if found:
            return found
        low = self.words.last.lower()
        if "stopped communicating" in low or "queue is empty" in low:
            return "ping timeout"
        if "closed" in low:
            return "transport closed"
        if self.bad_status:
            return f"http {self.bad_status}"
        return "transport closed"

    def _new_client(self):
        session = requests.Session()
        session.hooks["response"].append(self._on_response)
        self.session_unknown = False
        self.bad_status = 0
        self.words.last = ""
        self.disc.clear()
        sio = socketio.Client(
            reconnection=False,
            logger=False,
            engineio_logger=self.elog,
            request_timeout=self.cfg.sio_connect_timeout,
            http_session=session,
            handle_sigint=False,
        )

        def on_disconnect():
            if not self.disc.is_set():
                self.disc_at = time.time()
                self.disc.set()

        sio.on("disconnect", on_disconnect)
        return sio

    def _abandon(self, sio):
        # disconnect() may block on a dead transport: never in the user's own thread.
        threading.Thread(target=lambda: quietly(sio.disconnect), daemon=True).start()

    def run(self):
        outage_since = None  # None: first connection of this user
        while not STOP.is_set():
            sio, lb = self._connect(outage_since)
            if sio is None:
                STOP.wait(self.cfg.sio_retry_delay)
                continue
            outage_since = self._echo(sio, lb)
            self._abandon(sio)
        if outage_since is not None:
            now = time.time()
            record(
                "socketio",
                self.client,
                "reconnect",
                outage_since,
                now,
                False,
                "",
                "not reconnected when traffic stopped",
            )

    def _connect(self, outage_since):
        t0 = time.time()
        lb = ""
        try:
            addrs = self.dns.addresses()
            addr = self.rng.choice(addrs)
            lb = self.cfg.lbs.get(addr, addr)
            sio = self._new_client()
            try:
                sio.connect(
                    f"http://{addr}:{self.cfg.lb_port}",
                    transports=self.transports,
                    wait_timeout=self.cfg.sio_connect_timeout,
                )
            except Exception as e:
                self._abandon(sio)
                why = (
                    "session ID unknown"
                    if self.session_unknown
                    else text_kind(" ".join(str(a) for a in e.args), kind(e))
                )
                raise Failure(f"handshake failed: {why}") from e
        except Failure as e:
            record("socketio", self.client, "connect", t0, time.time(), False, lb, e.kind)
            return None, lb
        except Exception as e:
            record(
                "socketio",
                self.client,
                "connect",
                t0,
                time.time(),
                False,
                lb,
                "handshake failed: " + kind(e),
            )
            return None, lb
        now = time.time()
        target = f"{lb}/{sio.transport()}"
        if outage_since is None:
            record("socketio", self.client, "connect", t0, now, True, target)
        else:
            record("socketio", self.client, "reconnect", outage_since, now, True, target)
        return sio, lb

    def _call(self, sio, data, timeout):
        """``sio.call`` that also ends when the connection does (``sio.call`` would sit out its
        whole timeout, adding it to the measured reconnect time)."""
        done = threading.Event()
        box = []

        def ack(*args):
            box.append(args[0] if args else None)
            done.set()

        sio.emit("echo", data, callback=ack)
        deadline = time.monotonic() + timeout
        while not done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                raise socketio.exceptions.TimeoutError()
            if self.disc.is_set() or sio.eio.state != "connected":
                raise _Disconnected()
            done.wait(min(left, 0.01))
        return box[0]

    def _echo(self, sio, lb):
        """Echo until the connection ends (return when it ended) or traffic stops (None)."""
        interval = self.cfg.sio_interval
        timeout = self.cfg.sio_echo_timeout
        failures = 0
        n = 0
        nxt = time.monotonic()
        while True:
            delay = nxt - time.monotonic()
            if delay > 0 and self.disc.wait(delay):
                pass
            if STOP.is_set():
                return None
            if self.disc.is_set() or sio.eio.state != "connected":
                at = self.disc_at if self.disc.is_set() else time.time()
                record(
                    "socketio",
                    self.client,
                    "disconnect",
                    at,
                    at,
                    False,
                    lb,
                    self._reason(),
                )
                return at
            n += 1
            data = {"c": self.client, "n": n}
            t = time.time()
            try:
                reply = self._call(sio, data, timeout)
            except socketio.exceptions.TimeoutError:
                failures += 1
                err = "session ID unknown" if self.session_unknown else "echo timeout"
                record("socketio", self.client, "echo", t, time.time(), False, lb, err)
            except _Disconnected:
                # The connection ended with the echo in flight: that echo failed; the loop
                # records the disconnect and reconnects at once, as a real client would.
                failures += 1
                record("socketio", self.client, "echo", t, time.time(), False, lb, self._reason())
            except socketio.exceptions.BadNamespaceError:
                failures += 1
                record(
                    "socketio",
                    self.client,
                    "echo",
                    t,
                    time.time(),
                    False,
                    lb,
                    "disconnected",
                )
            except Exception as e:
                failures += 1
                record("socketio", self.client, "echo", t, time.time(), False, lb, kind(e))
            else:
                ok = reply == data
                record(
                    "socketio",
                    self.client,
                    "echo",
                    t,
                    time.time(),
                    ok,
                    lb,
                    "" if ok else "wrong echo",
                )
                failures = 0 if ok else failures + 1
            if failures >= self.cfg.sio_echo_failures and not STOP.is_set():
                at = time.time()
                reason = "session ID unknown" if self.session_unknown else "echo timeouts"
                record("socketio", self.client, "disconnect", at, at, False, lb, reason)
                return at
            nxt = max(nxt + interval, time.monotonic())
