"""dns: the LB name resolves to exactly the load balancers in rotation, with a short TTL — asked
of the dns host directly (its published port), and from inside the stack network at the address
the clients are configured with, as the clients' resolver asks it."""

from __future__ import annotations

import json
from collections.abc import Callable

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.base import Reader, short_error
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

NAME = "dns"
MAX_TTL = 2
DIRECT = "direct"
CLIENTS = "clients"

# Run with python3 inside a host of the stack: one A query over UDP for NAME to the DNS server
# DNS_HOST, at the address this host resolves DNS_HOST to (its /etc/hosts: what the stack's
# clients are configured with), standard library only. Prints JSON {"server": ADDRESS,
# "rcode": N, "addresses": [...], "ttl": N} or {"error": "..."}.
_ASK = r"""
import json, random, socket, struct, sys
try:
    server, name = socket.gethostbyname(sys.argv[1]), sys.argv[2]
except OSError as e:
    print(json.dumps({"error": f"cannot resolve {sys.argv[1]}: {e}"})); sys.exit(0)
qid = random.randrange(65536)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
q += b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.sendto(q, (server, 53))
    r, _ = s.recvfrom(4096)
except OSError as e:
    print(json.dumps({"error": f"{server}:53: {type(e).__name__}: {e}"})); sys.exit(0)
rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
def skip(i):
    while True:
        n = r[i]
        if n == 0: return i + 1
        if n & 0xC0 == 0xC0: return i + 2
        i += n + 1
i = 12
for _ in range(qd):
    i = skip(i) + 4
out, ttls = [], []
for _ in range(an):
    i = skip(i)
    typ, cls, ttl, ln = struct.unpack(">HHIH", r[i:i + 10]); i += 10
    if typ == 1 and ln == 4:
        out.append(socket.inet_ntoa(r[i:i + 4])); ttls.append(ttl)
    i += ln
print(json.dumps({"server": server, "rcode": flags & 15, "addresses": out,
                  "ttl": max(ttls, default=0)}))
"""
# An answer says what the name resolves to only with rcode NOERROR (0) or NXDOMAIN (3, no such
# name: it resolves to nothing); SERVFAIL, REFUSED and the rest say the server could not tell.
ANSWERING_RCODES = (0, 3)


def subjects(topo: Topology) -> tuple[str, ...]:
    return (f"{topo.dns_host}/{DIRECT}", f"{topo.dns_host}/{CLIENTS}") if topo.dns_host else ()


def _judge_answer(
    view: str, got: set[str], ttl: int | None, want: set[str], by_address: dict[str, str]
) -> list[Problem]:
    names = ", ".join(sorted(by_address.get(a, a) for a in got)) or "nothing"
    problems = []
    if got != want:
        problems.append(Problem("wrong-answer", f"{view}: answers {names}"))
    if ttl is not None and ttl > MAX_TTL:
        problems.append(Problem("ttl-too-long", f"{view}: TTL {ttl}s"))
    return problems


def ask_direct(stack: Reader) -> tuple[set[str], int | None]:
    """The LB name's A answer from the dns host itself (its published port), and its TTL.

    Over UDP, as resolvers ask; over TCP when the engine's machine is reached through ssh,
    which forwards TCP only (the server gives the same answer on both)."""
    import dns.message  # here, not at the top: declaring the check needs no DNS client
    import dns.query
    import dns.rcode
    import dns.rdatatype

    topo = stack.topology
    query = dns.message.make_query(topo.dns_name, dns.rdatatype.A)
    if stack.ports_over_ssh:
        ip, port = stack.endpoint(topo.dns_host, 53, "tcp")
        answer = dns.query.tcp(query, ip, port=port, timeout=2)
    else:
        ip, port = stack.endpoint(topo.dns_host, 53, "udp")
        answer = dns.query.udp(query, ip, port=port, timeout=2)
    if answer.rcode() not in ANSWERING_RCODES:
        raise ConnectionError(f"{ip}:{port} answered rcode {dns.rcode.to_text(answer.rcode())}")
    got: set[str] = set()
    ttls: set[int] = set()
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.A:
            ttls.add(rrset.ttl)
            got.update(r.address for r in rrset)
    return got, max(ttls, default=None)


def ask_as_clients(
    stack: Reader, down: Callable[[str], str | None] = lambda _h: None
) -> tuple[str, set[str], int | None]:
    """(the host asked from, addresses, TTL): the LB name asked where the clients are, from an
    app host (else the graphite host), of the dns host at the address that host knows it by,
    as the clients' resolver asks it. ``down`` says which hosts cannot be asked from."""
    topo = stack.topology
    errors = []
    for host in (*topo.apps, topo.graphite_host):
        if not host or down(host):
            continue
        res = stack.exec(host, ["python3", "-c", _ASK, topo.dns_host, topo.dns_name], timeout=5)
        try:
            answer = json.loads(res.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            errors.append(f"{host}: {res.brief()}")
            continue
        if "error" in answer:
            raise ConnectionError(f"from {host}: {answer['error']}")
        if answer.get("rcode", 0) not in ANSWERING_RCODES:
            raise ConnectionError(
                f"from {host}: {answer['server']} answered rcode {answer['rcode']}"
            )
        return host, set(answer["addresses"]), int(answer["ttl"]) if answer["addresses"] else None
    raise ConnectionError(
        "no host of the stack network could ask (" + ("; ".join(errors) or "none running") + ")"
    )


@check(
    NAME,
    description="the dns host, asked directly and from inside the stack network as clients ask it",
    roles=("dns_host", "lbs"),
    subjects=subjects,
    unobserved=("dns-no-answer",),
    causes={
        "dns-no-answer": "the DNS server did not answer (nothing, a timeout, or an error rcode)",
        "wrong-answer": "the LB name resolves to other addresses than the LBs in rotation",
        "ttl-too-long": "the answer's TTL is longer than clients may cache it",
    },
)
def check_dns(ctx: Context) -> list[CheckResult]:
    topo = ctx.topology
    host = topo.dns_host
    rotation = ctx.rotation or topo.lbs
    want = {ctx.static_address(lb) for lb in rotation}
    by_address = {ctx.static_address(lb): lb for lb in topo.lbs}
    expected = (
        f"{topo.dns_name} -> {', '.join(sorted(rotation)) or 'nothing'}"
        f" ({', '.join(sorted(want))}), TTL <= {MAX_TTL}s, asked directly and as clients ask"
    )
    tried = subjects(topo)
    reason = ctx.down(host)
    if reason:
        return [ctx.fail(host, expected, reason, cause="host-down", subjects=tried)]
    problems: list[Problem] = []
    seen = []
    try:
        got, ttl = ask_direct(ctx)
        problems += _judge_answer(DIRECT, got, ttl, want, by_address)
        seen.append(f"{DIRECT}: {', '.join(sorted(by_address.get(a, a) for a in got))}")
    except Exception as e:
        problems.append(Problem("dns-no-answer", f"{DIRECT}: no answer: {short_error(e)}"))
    try:
        asker, got, ttl = ask_as_clients(ctx, ctx.down)
        problems += _judge_answer(f"{CLIENTS} (from {asker})", got, ttl, want, by_address)
        seen.append(f"from {asker}: {', '.join(sorted(by_address.get(a, a) for a in got))}")
    except Exception as e:
        problems.append(Problem("dns-no-answer", f"{CLIENTS}: no answer: {short_error(e)}"))
    return [ctx.result(host, expected, problems, "answers " + "; ".join(seen), subjects=tried)]
