#!/usr/bin/python3
"""A jobs worker: takes each job from the queue (a Redis list, moved to this worker's own list
while it works on it, so that a job is never lost with a worker), does it and records its result.

QUEUE_URL  where the queue is (redis://HOST:PORT/DB).
QUEUE_WAIT how long to keep trying when the queue cannot be reached, in seconds, or `forever`
           (the default): past it the worker exits and leaves its restart to supervisord.
"""

import hashlib
import json
import os
import socket
import sys
import time

import redis

URL = os.environ.get("QUEUE_URL", "redis://queue:6379/0")
WAIT = os.environ.get("QUEUE_WAIT", "forever")
NAME = socket.gethostname()


def log(message):
    print(f"{time.strftime('%H:%M:%S')} {NAME}: {message}", flush=True)


def connect():
    began, delay = time.monotonic(), 0.5
    while True:
        try:
            queue = redis.Redis.from_url(URL, socket_timeout=5, socket_connect_timeout=2)
            queue.ping()
            return queue
        except redis.RedisError as e:
            if WAIT != "forever" and time.monotonic() - began >= float(WAIT):
                log(f"queue unreachable ({e}): exiting")
                sys.exit(1)
            log(f"queue unreachable ({e}): trying again in {delay:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def main():
    queue = connect()
    mine = f"working:{NAME}"
    log("taking jobs")
    while True:
        try:
            queue.set(f"worker:{NAME}:seen", int(time.time()), ex=30)
            item = queue.brpoplpush("jobs", mine, timeout=2)
            if item is None:
                continue
            job = json.loads(item)
            result = hashlib.sha256(str(job["payload"]).encode()).hexdigest()
            queue.hset("results", job["id"], result)
            queue.lrem(mine, 1, item)
        except redis.RedisError as e:
            log(f"lost the queue ({e})")
            queue = connect()


if __name__ == "__main__":
    main()
