"""traffic: real clients that record what users saw while faults run (see driver.Traffic).
Imports model and stack.

The clients themselves live in the client image (the package compose/images/client/rh_traffic)
and run on the stack's own network; this package builds their configuration (config), starts
them through the Stack, parses what they print into Ops and a History, and reads the metrics
gaps from carbon.
"""

from reboot_harness.traffic.config import ClientConfig, TrafficProfile, client_config
from reboot_harness.traffic.driver import Traffic, rate_summary
from reboot_harness.traffic.outages import engine_outages
from reboot_harness.traffic.parse import ClientOutput, merge_present, op_from_dict, parse_output
from reboot_harness.traffic.placement import chash_points, chash_server, spread_addresses

__all__ = [
    "ClientConfig",
    "ClientOutput",
    "Traffic",
    "TrafficProfile",
    "chash_points",
    "chash_server",
    "client_config",
    "engine_outages",
    "merge_present",
    "op_from_dict",
    "parse_output",
    "rate_summary",
    "spread_addresses",
]
