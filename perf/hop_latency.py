#!/usr/bin/env python3
"""One-way times through a proxy, from the message logs of a SIPp caller and callee on one machine.

perf/linerate.sh's latency probe runs both SIPps with -trace_msg (uac_msg.log, uas_msg.log in DIR); each
entry begins with a dashed line ending in SIPp's wall-clock time to the microsecond, then "... message sent"
or "... message received", then the message. The two SIPps share the machine's clock, so the time from the
caller sending a call's INVITE to the callee receiving it is the INVITE's trip through the proxy (and both
kernels' and SIPps' own delays, the same for any proxy); likewise the callee's 200 back to the caller.

    usage: perf/hop_latency.py DIR
    prints: INVITE_P50 INVITE_P90 INVITE_P99 OK_P50 OK_P90 OK_P99 CALLS   (microseconds; "-" when none)
"""
import datetime
import re
import sys

STAMP = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$")


def first_times(path):
    """{(call-id, 'sent'|'recv', method or status): time of the first such message}."""
    times = {}
    when = direction = kind = None
    try:
        lines = open(path, errors="replace")
    except OSError:
        return times
    for line in lines:
        m = STAMP.match(line)
        if m:
            when = datetime.datetime.fromisoformat(m.group(1)).timestamp()
            direction = kind = None
            continue
        if when is None:
            continue
        if direction is None:
            if "message sent" in line:
                direction = "sent"
            elif "message received" in line:
                direction = "recv"
            continue
        if kind is None:
            words = line.split()
            if words:
                kind = words[1] if words[0] == "SIP/2.0" and len(words) > 1 else words[0]
            continue
        name, _, value = line.partition(":")
        if name.strip().lower() in ("call-id", "i"):
            times.setdefault((value.strip(), direction, kind), when)
            when = None  # the rest of this message is not needed
    return times


def percentiles(values):
    if not values:
        return ["-", "-", "-"]
    values.sort()
    n = len(values)
    return ["%.0f" % values[min(n - 1, int(n * p))] for p in (0.50, 0.90, 0.99)]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    uac = first_times(sys.argv[1] + "/uac_msg.log")
    uas = first_times(sys.argv[1] + "/uas_msg.log")
    calls = {key[0] for key in uac}
    invite, ok = [], []
    for c in calls:
        if (c, "sent", "INVITE") in uac and (c, "recv", "INVITE") in uas:
            invite.append((uas[(c, "recv", "INVITE")] - uac[(c, "sent", "INVITE")]) * 1e6)
        # The first 200 of a call is the INVITE's (the BYE's comes after it).
        if (c, "sent", "200") in uas and (c, "recv", "200") in uac:
            ok.append((uac[(c, "recv", "200")] - uas[(c, "sent", "200")]) * 1e6)
    print(" ".join(percentiles(invite) + percentiles(ok) + [str(len(invite))]))


if __name__ == "__main__":
    main()
