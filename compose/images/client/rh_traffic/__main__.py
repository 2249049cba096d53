"""``python3 -m rh_traffic``: validate the configuration, start every user, stop on SIGTERM
(or the stop file), read back the acknowledged writes, print the result."""

import logging
import os
import random
import signal
import sys
import time

from . import config
from .common import STOP, emit, info
from .http_client import HttpUser
from .mysql_client import MysqlUser
from .redis_client import RedisUser
from .socketio_client import SioUser


def main():
    try:
        cfg, secrets = config.load(os.environ)
    except config.ConfigError as e:
        sys.stderr.write(f"{config.ERROR_PREFIX}{e}\n")
        sys.stderr.flush()
        sys.exit(config.EXIT_BAD_CONFIG)
    began = time.monotonic()

    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

    base = random.Random(f"{cfg.seed}:{cfg.name}")
    rng = lambda: random.Random(base.random())  # noqa: E731 - one seeded source per user
    name = cfg.name
    http_users = [HttpUser(cfg, f"http-{name}-{i + 1}", rng()) for i in range(cfg.http_clients)]
    transports = [list(t) for t in cfg.sio_transports] or [None]
    sio_users = [
        SioUser(cfg, f"sio-{name}-{i + 1}", transports[i % len(transports)], rng())
        for i in range(cfg.sio_clients)
    ]
    redis_user = (
        RedisUser(cfg, f"redis-{name}", rng(), secrets.redis_password)
        if cfg.redis_write_rate > 0
        else None
    )
    mysql_user = (
        MysqlUser(cfg, f"mysql-{name}", rng(), secrets.mysql_password)
        if cfg.mysql_rate > 0
        else None
    )
    users = [*http_users, *sio_users, *(u for u in (redis_user, mysql_user) if u)]
    info("started", client=name, users=[u.client for u in users])
    for u in users:
        u.start()

    while not STOP.wait(0.2):
        if os.path.exists(cfg.stop_file):
            STOP.set()
        elif time.monotonic() - began > cfg.max_seconds:
            info("max_seconds reached: stopping", problem=True, max_seconds=cfg.max_seconds)
            STOP.set()
    stopped = time.time()
    info("stopping", client=name)

    deadline = time.monotonic() + cfg.drain_timeout
    for u in users:
        u.join(max(0.0, deadline - time.monotonic()))
    for u in http_users:
        u.drain(deadline)
    stuck = [u.client for u in users if u.is_alive()]
    if stuck:
        info("users still busy after drain_timeout", problem=True, stuck=stuck)

    present, errors = {}, {}
    deadline = time.monotonic() + cfg.verify_timeout
    for service, user in (("redis", redis_user), ("mysql", mysql_user)):
        if user is None:
            continue
        found, err = user.verify(deadline)
        if found is None:
            errors[service] = err
        else:
            present[service] = found
    emit(
        {
            "present": present,
            "verify_errors": errors,
            "stopped": round(stopped, 4),
            "verified": round(time.time(), 4),
        }
    )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
