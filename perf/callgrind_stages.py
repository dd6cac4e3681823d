#!/usr/bin/env python3
"""Instructions per message per stage of the worker path, from two callgrind runs of pipeline_count that
differ only in the number of messages (perf/instructions.sh --stages runs them). Each stage is the inclusive
count of the functions that begin it, so a stage includes what it calls: the script's row includes the
forward()/t_relay() it runs, with their build and tm. The start-up (compiling the script, the tm's tables,
the first call) cancels out in the difference.

usage: callgrind_stages.py FEW_OUT MANY_OUT MESSAGES_BETWEEN"""
import re
import subprocess
import sys

# (label, function-name prefixes whose inclusive counts are added)
STAGES = [
    ("handle (the whole message)", ["sipd::proxy::Proxy::parse(", "sipd::proxy::Proxy::handle_parsed("]),
    ("parse", ["sipd::sip::Message::parse("]),
    ("validate", ["sipd::sip::validate("]),
    ("script (incl. what it calls)", ["sipd::engine::Vm::execute("]),
    ("  forward / t_relay", ["sipd::proxy::Proxy::forward(", "sipd::proxy::Proxy::relay("]),
    ("  loose_route", ["sipd::proxy::Proxy::loose_route("]),
    ("response (stateless relay)", ["sipd::proxy::Proxy::response("]),
    ("tm: requests in", ["sipd::tm::Layer::on_request("]),
    ("tm: responses in", ["sipd::tm::Layer::on_response("]),
    ("tm: timers (advance)", ["sipd::tm::Layer::advance("]),
    ("build (every message out)", ["sipd::sip::EditList::build("]),
]


def inclusive(path):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    counts = {}
    for line in out.splitlines():
        # "  1,234 (12.3%)  /path/file.cpp:name(args) [/path/binary]": the function's own entry
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+[^:\s]+:(.*) \[[^\]]+\]$", line)
        if m:
            counts[m.group(2)] = counts.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return counts


def main():
    few, many, between = inclusive(sys.argv[1]), inclusive(sys.argv[2]), int(sys.argv[3])
    for label, prefixes in STAGES:
        total = 0
        for name, v in many.items():
            if any(name.startswith(p) for p in prefixes):
                total += v - few.get(name, 0)
        if total > 0:
            print(f"  {label:<30} {total / between:>9.0f}")


if __name__ == "__main__":
    main()
