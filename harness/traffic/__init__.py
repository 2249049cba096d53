"""Real clients that record what users saw while faults run (see driver.Traffic).

The clients themselves live in the client image (compose/images/client/rh-traffic) and run on
the stack's own network; this package starts them through the Stack, parses what they print
into Ops and a History, and reads the metrics gaps from carbon.
"""

from harness.traffic.driver import Traffic, TrafficProfile, rate_summary
from harness.traffic.outages import engine_outages
from harness.traffic.parse import ClientOutput, merge_present, op_from_dict, parse_output
from harness.traffic.placement import chash_points, chash_server, spread_addresses

__all__ = [
    "ClientOutput",
    "Traffic",
    "TrafficProfile",
    "chash_points",
    "chash_server",
    "engine_outages",
    "merge_present",
    "op_from_dict",
    "parse_output",
    "rate_summary",
    "spread_addresses",
]
