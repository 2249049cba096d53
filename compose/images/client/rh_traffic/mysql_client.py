"""mysql: inserts to whoever is primary (the writable server), and the read-back of every
acknowledged insert at the end."""

import threading
import time

import pymysql

from .common import Schedule, quietly, record
from .kinds import Failure, kind


class MysqlUser(threading.Thread):
    TABLE = (
        "CREATE TABLE IF NOT EXISTS rh_traffic ("
        " id VARCHAR(96) NOT NULL PRIMARY KEY, client VARCHAR(32) NOT NULL,"
        " t DOUBLE NOT NULL) ENGINE=InnoDB"
    )

    def __init__(self, cfg, name, rng, password):
        super().__init__(name=name, daemon=True)
        self.cfg = cfg
        self.client = name
        self.rng = rng
        self.password = password
        self.acked = []
        self.lock = threading.Lock()
        self.conn = None
        self.primary = ""
        self.table_ready = False

    def _connect(self, host):
        t = self.cfg.mysql_timeout
        return pymysql.connect(
            host=host,
            port=self.cfg.mysql_port,
            user=self.cfg.mysql_user,
            password=self.password,
            database=self.cfg.mysql_database,
            connect_timeout=min(t, 1.0),
            read_timeout=t,
            write_timeout=t,
            autocommit=True,
        )

    def discover(self):
        """Connect to the writable server (read_only = 0) among the mysql hosts."""
        errors = []
        for host in self.cfg.mysql_hosts:
            conn = None
            try:
                conn = self._connect(host)
                with conn.cursor() as c:
                    c.execute("SELECT @@global.read_only")
                    (read_only,) = c.fetchone()
                if int(read_only) == 0:
                    if not self.table_ready:
                        with conn.cursor() as c:
                            c.execute(self.TABLE)
                        self.table_ready = True
                    return conn, host
                conn.close()
                errors.append(f"{host}: read_only")
            except Exception as e:
                if conn is not None:
                    quietly(conn.close)
                errors.append(f"{host}: {kind(e)}")
        raise Failure("no primary")

    def _drop(self):
        if self.conn is not None:
            quietly(self.conn.close)
        self.conn = None
        self.primary = ""

    def run(self):
        sched = Schedule(self.cfg.mysql_rate, self.rng)
        seq = 0
        while sched.wait():
            seq += 1
            key = f"{self.cfg.run}-{self.client}-{seq}"
            t = time.time()
            try:
                if self.conn is None:
                    self.conn, self.primary = self.discover()
                with self.conn.cursor() as c:
                    c.execute(
                        "INSERT INTO rh_traffic (id, client, t) VALUES (%s, %s, %s)",
                        (key, self.client, t),
                    )
            except Failure as e:
                record(
                    "mysql",
                    self.client,
                    "insert",
                    t,
                    time.time(),
                    False,
                    self.primary,
                    e.kind,
                    key,
                )
                self._drop()
            except Exception as e:
                record(
                    "mysql",
                    self.client,
                    "insert",
                    t,
                    time.time(),
                    False,
                    self.primary,
                    kind(e),
                    key,
                )
                self._drop()
            else:
                record(
                    "mysql",
                    self.client,
                    "insert",
                    t,
                    time.time(),
                    True,
                    self.primary,
                    "",
                    key,
                )
                with self.lock:
                    self.acked.append(key)
        self._drop()

    def verify(self, deadline):
        with self.lock:
            keys = list(self.acked)
        last = "no primary"
        while time.monotonic() < deadline:
            conn = None
            try:
                conn, _ = self.discover()
                present = []
                with conn.cursor() as c:
                    for i in range(0, len(keys), 200):
                        chunk = keys[i : i + 200]
                        marks = ",".join(["%s"] * len(chunk))
                        c.execute(f"SELECT id FROM rh_traffic WHERE id IN ({marks})", chunk)
                        present += [row[0] for row in c.fetchall()]
                return present, ""
            except Exception as e:
                last = e.kind if isinstance(e, Failure) else kind(e)
                time.sleep(0.5)
            finally:
                if conn is not None:
                    quietly(conn.close)
        return None, last
