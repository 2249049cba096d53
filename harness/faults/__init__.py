"""Faults and operations, registered by step type: each takes the run context and its step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.faults.base import RunContext
from harness.faults.kill import kill
from harness.faults.operations import dns_rotate, mysql_failover, sentinel_failover
from harness.faults.reboot import power_off, power_on, reboot, start, stop
from harness.model import DnsRotate, Kill, MysqlFailover, Reboot, SentinelFailover, Start, Stop

EXECUTORS: dict[type, Callable[[RunContext, Any], None]] = {
    Reboot: reboot,
    Kill: kill,
    Stop: stop,
    Start: start,
    DnsRotate: dns_rotate,
    SentinelFailover: sentinel_failover,
    MysqlFailover: mysql_failover,
}

__all__ = ["EXECUTORS", "RunContext", "power_off", "power_on"]
