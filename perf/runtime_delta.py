#!/usr/bin/env python3
"""Where sipd-dataplane's cycles went between two copies of its counters file.

Each worker's "runtime" object in the counters file (dataplane/io/counter_file.h) holds, per stage, the
calls, vectors and cycles of its sampled turns (dataplane/proxy/runtime.h). Between BEFORE and AFTER this
prints, summed over the workers, each stage's cycles per message (a message is one the proxy parsed) and
what their sum makes of one core: the dataplane's capacity at that cost, whatever SIPp could offer. A second
total leaves out rx and tx, the port's receive and transmit bursts: on the testbed the port is DPDK's
af_packet PMD on a veth, and each burst is a system call whose kernel work (the veth's, the far namespace's
stack) lands on the worker, where a NIC's PMD writes descriptors in a few hundred cycles.

    usage: runtime_delta.py BEFORE AFTER            a table, one line per stage, then the total
           runtime_delta.py --total BEFORE AFTER    "CYCLES_PER_MESSAGE MESSAGES_PER_SECOND_PER_CORE
                                                      CYCLES_WITHOUT_RX_TX MESSAGES_PER_SECOND_WITHOUT",
                                                     or "- - - -"
"""
import json
import sys

USAGE = "usage: runtime_delta.py [--total] BEFORE AFTER"
ORDER = ["rx", "net", "steer", "proxy", "parse", "tm", "script", "build", "tx", "loop"]


def load(path):
    """{stage: [calls, vectors, cycles]} summed over workers, and the TSC's hz."""
    with open(path) as f:
        data = json.load(f)
    sums = {}
    for worker in data.get("workers", []):
        for stage, figures in worker.get("runtime", {}).items():
            if stage == "turns":
                continue
            acc = sums.setdefault(stage, [0, 0, 0])
            for i in range(3):
                acc[i] += figures[i]
    return sums, data.get("tsc_hz", 0)


def main(argv):
    total_only = argv[:1] == ["--total"]
    if total_only:
        argv = argv[1:]
    if len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        before, _ = load(argv[0])
        after, hz = load(argv[1])
    except (OSError, ValueError) as e:
        print("- - - -" if total_only else "runtime_delta.py: %s" % e)
        return 0 if total_only else 1
    delta = {s: [a - b for a, b in zip(after[s], before.get(s, [0, 0, 0]))] for s in after}
    messages = delta.get("parse", [0, 0, 0])[1]
    total = sum(d[2] for d in delta.values())
    if messages <= 0 or total <= 0 or hz <= 0:
        print("- - - -" if total_only else "runtime_delta.py: no sampled messages between the two files")
        return 0 if total_only else 1
    per_message = total / messages
    capacity = hz / per_message
    port = sum(delta.get(s, [0, 0, 0])[2] for s in ("rx", "tx"))
    own = (total - port) / messages
    own_capacity = hz / own if own > 0 else 0
    if total_only:
        print("%.0f %.0f %.0f %.0f" % (per_message, capacity, own, own_capacity))
        return 0
    print("%-8s %12s %12s %12s %12s" % ("stage", "calls", "vectors", "cycles/call", "cycles/msg"))
    for stage in ORDER + sorted(set(delta) - set(ORDER)):
        if stage not in delta:
            continue
        calls, vectors, cycles = delta[stage]
        print("%-8s %12d %12d %12.0f %12.0f" % (stage, calls, vectors, cycles / calls if calls else 0,
                                                 cycles / messages))
    print("%-8s %12s %12d %12s %12.0f  = %.3f M messages/s per core (TSC %.2f GHz)" % (
        "total", "", messages, "", per_message, capacity / 1e6, hz / 1e9))
    print("%-8s %12s %12s %12s %12.0f  = %.3f M messages/s per core without the port's bursts" % (
        "no rx/tx", "", "", "", own, own_capacity / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
