"""DNS: the stack's dnsmasq, answers cached for their TTL (shared by the http and socket.io
users)."""

import threading
import time

import dns.exception
import dns.resolver

from .kinds import Failure, kind


class DnsCache:
    """A stub resolver with a per-user cache that honours the TTL, so a rotation moves users
    within one TTL. When the server does not answer, a cached answer is used at most
    ``stale`` seconds past its TTL (RFC 8767 serve-stale, as recursive resolvers do; 0: never,
    like a plain stub resolver). An authoritative "no such name" is never answered from cache.
    """

    def __init__(self, server, name, lifetime=1.0, stale=0.0, min_ttl=0.0):
        self.name = name
        self.stale = stale
        self.min_ttl = min_ttl
        self.served_stale = 0
        self._res = dns.resolver.Resolver(configure=False)
        self._res.nameservers = [server]
        self._res.lifetime = lifetime
        self._res.timeout = lifetime
        self._res.cache = None
        self._lock = threading.Lock()
        self._answer = None
        self._expires = 0.0

    def addresses(self):
        with self._lock:
            answer, expires = self._answer, self._expires
        now = time.monotonic()
        if answer is not None and now < expires:
            return answer
        # Outside the lock: a slow or dead server delays only the operations that ask it.
        try:
            ans = self._res.resolve(self.name, "A")
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            if answer is not None and time.monotonic() < expires + self.stale:
                with self._lock:
                    self.served_stale += 1
                return answer
            raise Failure(kind(e)) from e
        except dns.exception.DNSException as e:
            raise Failure(kind(e)) from e
        addrs = sorted(r.address for r in ans)
        if not addrs:
            raise Failure("dns no answer")
        with self._lock:
            self._answer = addrs
            self._expires = now + max(0, ans.rrset.ttl, self.min_ttl)
        return addrs
