#!/usr/bin/env python3
"""The app host's application: python-socketio on eventlet, port 8000.

- GET /health      -> 200 {"ok": true, "host": "<hostname>", "pid": N, "since": <listening since>}
- socket.io `echo` -> returns its data as the ack
- socket.io `whoami` -> {"host": "<hostname>"}
- socket.io session ids -> "<hostname>.<random>" (the LBs route a session's requests by it)
- every second     -> "rh.<hostname>.counter <N> <unix-ts>\n" to graphite:2003 (TCP, plaintext);
                      graphite being down never stops or crashes the app (reconnects).
- at start         -> logs RLIMIT_NOFILE and warns when the soft limit is below
                      RH_APP_MIN_FILES (default 10000).
- SIGTERM          -> graceful stop (supervisord's stopsignal): refuse new connections (the LB
                      fails over at once, without a reset to count against anyone), close every
                      socket.io session with an engine.io CLOSE packet (pending long-polls are
                      answered, WebSockets closed cleanly: clients reconnect through the LB),
                      wait up to RH_APP_DRAIN_SECONDS (default 3) for in-flight requests, exit 0.
"""
import eventlet

eventlet.monkey_patch()

import errno  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import eventlet.wsgi  # noqa: E402
import socketio  # noqa: E402

HOST = socket.gethostname()
PORT = int(os.environ.get("RH_APP_PORT", "8000"))
GRAPHITE = (os.environ.get("RH_GRAPHITE_HOST", "graphite"), int(os.environ.get("RH_GRAPHITE_PORT", "2003")))
MIN_FILES = int(os.environ.get("RH_APP_MIN_FILES", "10000"))
DRAIN_SECONDS = float(os.environ.get("RH_APP_DRAIN_SECONDS", "3"))
# When this process started listening: the nginx check compares it with the time nginx gave up
# on a backend (a backend disabled while it was serving was healthy).
SERVING_SINCE = 0.0

logging.basicConfig(
    stream=sys.stdout,
    level=logging.INFO,
    format="%(asctime)s " + HOST + " app[%(process)d] %(levelname)s %(message)s",
)
log = logging.getLogger("app")


def check_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    log.info("RLIMIT_NOFILE soft=%d hard=%d (want >= %d)", soft, hard, MIN_FILES)
    if soft < MIN_FILES:
        log.warning(
            "RLIMIT_NOFILE soft limit %d is below RH_APP_MIN_FILES=%d: "
            "expect 'Too many open files' under load (is minfds set in supervisord.conf?)",
            soft, MIN_FILES,
        )
    return soft, hard


sio = socketio.Server(async_mode="eventlet", cors_allowed_origins="*")
# Every engine.io session id starts with this host's name (`app1.` ...): the LBs send the
# requests of an established session straight to the app that holds it, and count none of them
# against it (compose/images/lb/app.conf); only a new session's handshake fails over.
_new_sid = sio.eio.generate_id
sio.eio.generate_id = lambda: HOST + "." + _new_sid()


@sio.event
def connect(sid, environ, auth=None):
    return True


@sio.event
def echo(sid, data):
    return data


@sio.event
def whoami(sid, data=None):
    """Which app host holds this session (the harness's socket.io check asks, to prove it
    reached each app through each LB)."""
    return {"host": HOST}


def http_app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/health" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        body = json.dumps(
            {"ok": True, "host": HOST, "pid": os.getpid(), "since": SERVING_SINCE}
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store")])
        return [body]
    body = b"not found\n"
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


application = socketio.WSGIApp(sio, http_app)


def graphite_sender():
    """Send one counter line per second; reconnect forever; never raise."""
    sock = None
    n = 0
    down_since = None
    while True:
        n += 1
        line = "rh.%s.counter %d %d\n" % (HOST, n, int(time.time()))
        try:
            if sock is None:
                sock = socket.create_connection(GRAPHITE, timeout=0.5)
                sock.settimeout(1.0)
                if down_since is not None:
                    log.info("graphite %s:%d reachable again after %.0fs", GRAPHITE[0], GRAPHITE[1],
                             time.time() - down_since)
                    down_since = None
            sock.sendall(line.encode())
        except Exception as e:  # noqa: BLE001 - graphite down must never crash the app
            if sock is not None:
                try:
                    sock.close()
                except Exception:  # noqa: BLE001
                    pass
                sock = None
            if down_since is None:
                down_since = time.time()
                log.warning("graphite %s:%d unavailable (%s); dropping metrics, reconnecting every second",
                            GRAPHITE[0], GRAPHITE[1], e)
        eventlet.sleep(max(0.0, 1.0 - (time.time() % 1.0)))


class Listener:
    """The listening socket, whose accept() survives running out of file descriptors.

    eventlet.wsgi.server() treats EMFILE from accept() as fatal (it then waits for every open
    connection and closes the listener). A real server logs it and keeps going; so does this:
    the connection stays in the kernel backlog and is accepted once descriptors are free.
    """

    def __init__(self, sock):
        self._sock = sock
        self._errors = 0
        self._last_log = 0.0
        self.closing = False

    def refuse_new(self):
        """Stop accepting: the kernel refuses new connections from now on. The server loop
        parks in accept() instead of ending (its exit would wait for every open connection)."""
        self.closing = True
        self._sock.close()

    def accept(self):
        while True:
            if self.closing:
                eventlet.sleep(3600)
                continue
            try:
                return self._sock.accept()
            except OSError as e:
                if self.closing:
                    continue
                if e.errno not in (errno.EMFILE, errno.ENFILE):
                    raise
                self._errors += 1
                now = time.time()
                if now - self._last_log >= 5.0:
                    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                    log.error("accept() failed (%d: %s), %d time(s) since last report; "
                              "RLIMIT_NOFILE soft=%d hard=%d", e.errno, e.strerror, self._errors, soft, hard)
                    self._errors = 0
                    self._last_log = now
                eventlet.sleep(0.05)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def _close_session(eio_socket):
    try:
        eio_socket.close(wait=True)  # CLOSE packet; returns once the client was handed it
    except Exception:  # noqa: BLE001 - a session that is already gone is drained
        pass


def drain(listener, pool):
    """Graceful stop: nobody sees a connection reset, so the LB has nothing to hold against
    this backend (a reset mid-request is an upstream error to nginx) and clients reconnect."""
    listener.refuse_new()
    # Sessions stay registered until their client has fetched the CLOSE packet (a polling
    # client's next GET must find it, not "Invalid session").
    sessions = list(sio.eio.sockets.values())
    log.info("draining: refusing new connections, closing %d socket.io session(s)", len(sessions))
    for s in sessions:
        eventlet.spawn_n(_close_session, s)
    began = time.time()
    eventlet.sleep(0.05)  # let the closers queue every CLOSE packet
    # Done when no request is in flight (answered long-polls and closed WebSockets end their
    # green threads). Closers of sessions whose client is already gone never finish: not waited.
    while pool.running() and time.time() - began < DRAIN_SECONDS:
        eventlet.sleep(0.02)
    log.info("drained in %.2fs (%d request(s) still open); exiting",
             time.time() - began, pool.running())
    logging.shutdown()
    os._exit(0)


def main():
    global SERVING_SINCE
    check_file_limit()
    sock = eventlet.listen(("0.0.0.0", PORT), backlog=1024)
    SERVING_SINCE = time.time()
    listener = Listener(sock)
    pool = eventlet.GreenPool(100000)
    stopping = []

    def on_term(signum, frame):
        if stopping:
            return
        stopping.append(signum)
        log.info("signal %d: graceful stop (drain up to %gs)", signum, DRAIN_SECONDS)
        eventlet.spawn_n(drain, listener, pool)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    eventlet.spawn(graphite_sender)
    log.info("listening on 0.0.0.0:%d (socket.io + /health)", PORT)
    eventlet.wsgi.server(listener, application, log_output=False, custom_pool=pool)


if __name__ == "__main__":
    main()
