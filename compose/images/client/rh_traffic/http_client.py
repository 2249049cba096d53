"""http via DNS: open-loop GETs of /health and of the app's socket.io handshake through the
LB the DNS answer names."""

import http.client
import json
import math
import threading
import time

from .common import Schedule, info, record
from .dnscache import DnsCache
from .kinds import Failure, kind


class HttpUser(threading.Thread):
    def __init__(self, cfg, name, rng):
        super().__init__(name=name, daemon=True)
        self.cfg = cfg
        self.client = name
        self.rng = rng
        self.dns = DnsCache(
            cfg.dns_server,
            "lb." + cfg.domain,
            stale=cfg.dns_stale,
            min_ttl=cfg.dns_min_ttl,
        )
        # keep-alive: idle connections, pooled by the name the user asked for (as browsers and
        # HTTP libraries do), each still going to the address it was opened to.
        self._idle = []  # (connection, address, requests it has served)
        self._idle_lock = threading.Lock()
        self._opened = 0  # new connections go round the answer's addresses, in turn
        rate = cfg.http_rate
        self.max_in_flight = math.ceil(rate * (cfg.http_timeout + 1.5)) + 2
        self.in_flight = threading.BoundedSemaphore(self.max_in_flight)
        self.workers = []
        self.skipped = 0

    def run(self):
        sched = Schedule(self.cfg.http_rate, self.rng)
        n = 0
        while sched.wait():
            n += 1
            if not self.in_flight.acquire(blocking=False):
                self.skipped += 1
                continue
            app = self.cfg.http_app_every and n % self.cfg.http_app_every == 0
            choice = self.rng.random()
            t = threading.Thread(target=self._one, args=(app, choice), daemon=True)
            t.start()
            self.workers = [w for w in self.workers if w.is_alive()]
            self.workers.append(t)
        if self.dns.served_stale:
            info("dns answers served stale", client=self.client, count=self.dns.served_stale)
        if self.skipped:
            info(
                "http ticks skipped: too many requests in flight",
                problem=True,
                client=self.client,
                skipped=self.skipped,
                max_in_flight=self.max_in_flight,
            )

    def drain(self, deadline):
        for w in list(self.workers):
            w.join(max(0.0, deadline - time.monotonic()))

    def _one(self, app, choice):
        start = time.time()
        op = "get /socket.io handshake" if app else "get /health"
        target = ""
        try:
            path = "/health"
            if app:
                path = f"/socket.io/?EIO=4&transport=polling&t={time.time():.4f}"
            if self.cfg.http_keepalive:
                addr, status, body = self._get_pooled(path)
                target = self.cfg.lbs.get(addr, addr)
            else:
                addrs = self.dns.addresses()
                addr = addrs[int(choice * len(addrs))]
                target = self.cfg.lbs.get(addr, addr)
                status, body = self._get(addr, path)
            if status != 200:
                raise Failure(f"http {status}")
            if app:
                if b'"sid"' not in body:
                    raise Failure("bad body")
            else:
                try:
                    served = json.loads(body.decode("utf-8"))
                except ValueError:
                    raise Failure("bad body") from None
                if not (isinstance(served, dict) and served.get("ok")):
                    raise Failure("bad body")
                target = f"{target}/{served.get('host', '?')}"
        except Failure as e:
            record("http", self.client, op, start, time.time(), False, target, e.kind)
        except Exception as e:  # every failure is a recorded operation, never a crash
            record("http", self.client, op, start, time.time(), False, target, kind(e))
        else:
            record("http", self.client, op, start, time.time(), True, target)
        finally:
            self.in_flight.release()

    def _get_pooled(self, path):
        """GET over an idle kept-alive connection if there is one (wherever it goes), else a new
        one to the next address of the DNS answer, in turn; the connection is kept for the next
        request until it has served ``http_keepalive_requests``. A reused connection that the
        server had closed (it drained, or timed out) is retried once on a new one, as browsers
        do for an idempotent request."""
        with self._idle_lock:
            pooled = self._idle.pop() if self._idle else None
        if pooled is not None:
            conn, addr, served = pooled
            try:
                return addr, *self._send(conn, path, served + 1)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
            except Exception:
                conn.close()
                raise
        addrs = self.dns.addresses()
        with self._idle_lock:
            addr = addrs[self._opened % len(addrs)]
            self._opened += 1
        conn = http.client.HTTPConnection(
            addr, self.cfg.lb_port, timeout=self.cfg.http_connect_timeout
        )
        try:
            conn.connect()
            return addr, *self._send(conn, path, 1)
        except Exception:
            conn.close()
            raise

    def _send(self, conn, path, served):
        """One request on ``conn``, its ``served``-th; the connection goes back to the idle pool
        unless the server closes it or it has served its share."""
        conn.sock.settimeout(self.cfg.http_timeout)
        headers = {"Host": "lb." + self.cfg.domain, "User-Agent": "rh-traffic/" + self.client}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read(65536)
        if not resp.will_close and served < self.cfg.http_keepalive_requests:
            with self._idle_lock:
                self._idle.append((conn, conn.host, served))
        else:
            conn.close()
        return resp.status, body

    def _get(self, addr, path):
        conn = http.client.HTTPConnection(
            addr, self.cfg.lb_port, timeout=self.cfg.http_connect_timeout
        )
        try:
            conn.connect()
            conn.sock.settimeout(self.cfg.http_timeout)
            conn.request(
                "GET",
                path,
                headers={
                    "Host": "lb." + self.cfg.domain,
                    "Connection": "close",
                    "User-Agent": "rh-traffic/" + self.client,
                },
            )
            resp = conn.getresponse()
            return resp.status, resp.read(65536)
        finally:
            conn.close()
