"""redis through Sentinel: writes to the master, reads of acknowledged keys from replicas, and
the read-back of every acknowledged write at the end."""

import threading
import time

import redis.sentinel

from .common import Schedule, record
from .kinds import Failure, kind


class RedisUser(threading.Thread):
    def __init__(self, cfg, name, rng, password):
        super().__init__(name=name, daemon=True)
        self.cfg = cfg
        self.client = name
        self.rng = rng
        self.acked = []  # (monotonic time acknowledged, key, value)
        self.lock = threading.Lock()
        t = cfg.redis_timeout
        self.sentinel = redis.sentinel.Sentinel(
            [(h, cfg.sentinel_port) for h in cfg.sentinels],
            sentinel_kwargs={"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        )
        common = {
            "password": password or None,
            "socket_timeout": t,
            "socket_connect_timeout": t,
        }
        self.master = redis.sentinel.SentinelConnectionPool(
            cfg.redis_master, self.sentinel, is_master=True, **common
        )
        self.replicas = redis.sentinel.SentinelConnectionPool(
            cfg.redis_master, self.sentinel, is_master=False, **common
        )

    @staticmethod
    def call(pool, *args):
        """One command on one connection of ``pool``; (reply, host that answered)."""
        conn = pool.get_connection(args[0])
        try:
            conn.send_command(*args)
            reply = conn.read_response()
            return reply, str(conn.host)
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)

    def run(self):
        reader = threading.Thread(target=self._reads, name=self.client + "-r", daemon=True)
        reader.start()
        sched = Schedule(self.cfg.redis_write_rate, self.rng)
        seq = 0
        while sched.wait():
            seq += 1
            key = f"rh:{self.cfg.run}:{self.client}:{seq}"
            value = f"{seq}"
            t = time.time()
            target = ""
            try:
                reply, target = self.call(self.master, "SET", key, value)
                if reply not in (b"OK", "OK", True):
                    raise Failure(f"unexpected reply {reply!r}"[:40])
            except Failure as e:
                record(
                    "redis",
                    self.client,
                    "set",
                    t,
                    time.time(),
                    False,
                    target,
                    e.kind,
                    key,
                )
            except Exception as e:
                record(
                    "redis",
                    self.client,
                    "set",
                    t,
                    time.time(),
                    False,
                    target,
                    kind(e),
                    key,
                )
            else:
                record("redis", self.client, "set", t, time.time(), True, target, "", key)
                with self.lock:
                    self.acked.append((time.monotonic(), key, value))
        reader.join(self.cfg.redis_timeout * 3)

    def _reads(self):
        sched = Schedule(self.cfg.redis_read_rate, self.rng)
        while sched.wait():
            horizon = time.monotonic() - self.cfg.redis_stale_after
            with self.lock:
                old = [a for a in self.acked[-200:] if a[0] <= horizon]
            if not old:
                continue
            _, key, value = self.rng.choice(old)
            t = time.time()
            target = ""
            # A read carries no key: keys identify writes (lost-write accounting).
            try:
                reply, target = self.call(self.replicas, "GET", key)
                if reply is None:
                    raise Failure("stale read")
                if reply.decode() != value:
                    raise Failure("wrong value")
            except Failure as e:
                record("redis", self.client, "get", t, time.time(), False, target, e.kind)
            except Exception as e:
                record("redis", self.client, "get", t, time.time(), False, target, kind(e))
            else:
                record("redis", self.client, "get", t, time.time(), True, target)

    def keys(self):
        with self.lock:
            return [k for _, k, _ in self.acked]

    def verify(self, deadline):
        """The acknowledged keys the current master still has."""
        keys = self.keys()
        last = "no master"
        while time.monotonic() < deadline:
            try:
                present = []
                for i in range(0, len(keys), 200):
                    chunk = keys[i : i + 200]
                    reply, _ = self.call(self.master, "MGET", *chunk)
                    present += [k for k, v in zip(chunk, reply, strict=True) if v is not None]
                return present, ""
            except Exception as e:
                last = kind(e)
                time.sleep(0.5)
        return None, last
