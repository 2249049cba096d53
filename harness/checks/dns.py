"""dns: the LB name resolves to exactly the load balancers in rotation, with a short TTL."""

from __future__ import annotations

import dns.message
import dns.query
import dns.rdatatype

from harness.checks.base import CheckContext, failure, register, short_error
from harness.model import CheckResult

NAME = "dns"
MAX_TTL = 2


@register(NAME)
def check_dns(ctx: CheckContext) -> list[CheckResult]:
    topo = ctx.topology
    host = topo.dns_host
    rotation = ctx.rotation or topo.lbs
    want = {ctx.stack.static_address(lb): lb for lb in rotation}
    expected = (
        f"{topo.dns_name} -> {', '.join(sorted(rotation))} ({', '.join(sorted(want))}),"
        f" TTL <= {MAX_TTL}s"
    )
    reason = ctx.down(host)
    if reason:
        return [failure(NAME, host, expected, reason)]
    try:
        ip, port = ctx.stack.endpoint(host, 53, "udp")
        query = dns.message.make_query(topo.dns_name, dns.rdatatype.A)
        answer = dns.query.udp(query, ip, port=port, timeout=2)
    except Exception as e:
        return [failure(NAME, host, expected, f"no answer: {short_error(e)}")]
    got: set[str] = set()
    ttls: set[int] = set()
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.A:
            ttls.add(rrset.ttl)
            got.update(r.address for r in rrset)
    by_address = {addr: lb for lb in topo.lbs for addr in [ctx.stack.static_address(lb)]}
    names = ", ".join(sorted(by_address.get(a, a) for a in got)) or "nothing"
    problems = []
    if got != set(want):
        problems.append(f"answers {names}")
    if ttls and max(ttls) > MAX_TTL:
        problems.append(f"TTL {max(ttls)}s")
    observed = "; ".join(problems) if problems else f"answers {names}, TTL {max(ttls, default=0)}s"
    return [CheckResult(NAME, host, not problems, expected, observed, ", ".join(sorted(got)))]
