"""rh_traffic: real users of the replica stack, run from inside the stack's network.

Run as ``python3 -m rh_traffic`` (the client image's entry point). One module per client kind
(http_client, socketio_client, redis_client, mysql_client); the pieces they share are in
common (output lines, the stop event, schedules), kinds (error kinds) and dnscache.

Every operation is printed on stdout as one JSON line with the fields of reboot_harness.model.Op:
  {"service", "client", "op", "start", "end", "ok", "target", "error", "key"}
Other lines: {"info": ...} (diagnostics) and, last, the read-back of acknowledged writes:
  {"present": {"redis": [...], "mysql": [...]}, "verify_errors": {...}}

Configuration: one complete JSON document in $RH_TRAFFIC_CONFIG, every key given (see
config.Config); an unknown key, a missing key or a value of the wrong type is refused with one
line on stderr naming the key, exit 2. Passwords in $REDIS_PASSWORD and $MYSQL_APP_PASSWORD
(never in the configuration, never printed; both must be set, empty: no password).

Rules, so that the clients measure instead of hide:
- bounded rates: every user runs on a fixed schedule; http is open-loop (a request is started
  every tick even while earlier ones hang, up to a bounded number in flight) so an outage's
  beginning and end are seen at the tick resolution, not at the timeout;
- no retries: one attempt is one recorded operation; a library's own failover (redis-py asking
  Sentinel for the master, trying the next replica) is kept, because real clients have it;
- the http connect timeout stays below the kernel's first SYN retransmission (1 s), so a request
  started while an LB is down never succeeds late and shortens the measured outage.

Stop: SIGTERM (or the configuration's ``stop_file`` appearing) ends the schedules, lets
in-flight operations finish (bounded), reads back every acknowledged write, prints the result,
exits 0.
"""
