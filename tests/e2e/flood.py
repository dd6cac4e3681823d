#!/usr/bin/python3
"""The flood of issue 12: UDP garbage and unanswerable INVITEs aimed at a SIP proxy, from one process.

Modes (exactly one):
  --from ADDR     a plain UDP socket bound to ADDR (198.18.0.3 in the tests) sends the mix below at --rate
                  datagrams/s for --duration seconds. The INVITEs' callee is a UDP sink this process binds
                  itself (--sink, default ADDR:5099) and drains, so the proxy gets no ICMP errors back.
  --spoof CIDR    INVITEs only, each from another source address of CIDR (e.g. 198.18.16.0/20), through a raw
                  socket (IP_HDRINCL) with our own IPv4 and UDP headers and checksums. Nobody answers ARP for
                  those addresses: what the proxy sends back to them has nowhere to go.
  --pcap FILE     writes the --from mix as a pcap of Ethernet frames to the target (for DPDK's net_pcap)
                  instead of sending it: --count frames (default 100000), from --pcap-src, after one ARP
                  request from --pcap-src for the target (so a dataplane replaying it learns where to answer).

The mix (--mix, weights in the order random,truncated,badlen,invite; default 1,1,1,1):
  random     random bytes of random length (8..600)
  truncated  a well-formed INVITE cut off somewhere in its headers
  badlen     an INVITE whose Content-Length (99999) is far larger than the datagram
  invite     a complete INVITE to the sink, which never answers: a new transaction each time (a new
             Call-ID and Via branch), never a retransmission
Datagrams are built before the clock starts, except the few bytes that make each INVITE unique.
Addresses must lie in 198.18.0.0/15: nothing here may reach a real network.
At the end it prints one line: `flood: sent N datagrams in S s (R/s; asked for Q/s) ...`.
Standard library only; run it with /usr/bin/python3.
"""

import argparse
import ipaddress
import os
import random
import socket
import struct
import sys
import threading
import time

BENCH_NET = ipaddress.ip_network("198.18.0.0/15")
KINDS = ("random", "truncated", "badlen", "invite")


def bench_addr(text, what):
    addr = ipaddress.ip_address(text)
    if addr not in BENCH_NET:
        sys.exit(f"flood.py: {what} {addr} is outside 198.18.0.0/15")
    return str(addr)


def hostport(text, what, default_port):
    host, _, port = text.partition(":")
    return bench_addr(host, what), int(port or default_port)


# ---------------------------------------------------------------------------------------------------------
# The messages. An INVITE is three constant pieces around two copies of a fixed-width counter (in the Via
# branch and the Call-ID), so making one unique costs a format and a join.

SDP = (b"v=0\r\no=flood 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class Invite:
    """INVITE sip:nobody@SINK from VIA_HOST:VIA_PORT; bytes(n) is the n-th one (unique per n and run)."""

    def __init__(self, via_host, via_port, sink, run, content_length=None):
        sdp = SDP.replace(b"{ip}", via_host.encode())
        clen = len(sdp) if content_length is None else content_length
        shost, sport = sink
        head = (f"INVITE sip:nobody@{shost}:{sport} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {via_host}:{via_port};branch=z9hG4bK{run}").encode()
        # The counter goes at an even offset and the middle piece has an even length, so the ones'-complement
        # sum of a message is the sum of its constant pieces plus the counters' own (see Spoofer).
        if len(head) % 2:
            head += b"x"
        mid = (f"\r\nMax-Forwards: 70\r\n"
               f"From: <sip:flood@{via_host}>;tag={run}\r\n"
               f"To: <sip:nobody@{shost}:{sport}>\r\n"
               f"Call-ID: {run}").encode()
        if len(mid) % 2:
            mid += b"y"
        tail = (f"@flood\r\nCSeq: 1 INVITE\r\nContact: <sip:flood@{via_host}:{via_port}>\r\n"
                f"Content-Type: application/sdp\r\nContent-Length: {clen}\r\n\r\n").encode() + sdp
        self.head, self.mid, self.tail = head, mid, tail
        self.width = 12  # hex digits: even, so the counter is whole 16-bit words

    def counter(self, n):
        return b"%012x" % n

    def build(self, n):
        c = self.counter(n)
        return b"".join((self.head, c, self.mid, c, self.tail))


def random_datagrams(rng, count):
    return [os.urandom(rng.randint(8, 600)) for _ in range(count)]


def truncated_datagrams(rng, template, count):
    # Cut inside the headers: never a whole message, always at least the request line's start.
    end = template.find(b"\r\n\r\n")
    return [template[:rng.randint(10, end)] for _ in range(count)]


def schedule(mix, length, rng):
    """A repeating pattern of kinds, LENGTH long, with the mix's proportions, shuffled."""
    total = sum(mix)
    pattern = []
    for kind, weight in zip(KINDS, mix):
        pattern += [kind] * round(length * weight / total)
    rng.shuffle(pattern)
    return pattern or ["invite"]


# ---------------------------------------------------------------------------------------------------------
# Pacing: send in slices of a few milliseconds; sleep when ahead of the asked rate.

class Pacer:
    def __init__(self, rate, duration, pause=None):
        self.rate, self.duration = rate, duration
        # (at, seconds): nothing is sent from `at` seconds into the run for `seconds`, and the pause is not
        # made up for afterwards; the run still ends `duration` seconds after it began.
        self.pause = pause
        self.start = time.monotonic()
        self.wall_start = time.time()
        self.end = None
        self.wall_end = None
        self.sent = 0

    def batch(self):
        """How many to send now (0: the run is over)."""
        while True:
            elapsed = time.monotonic() - self.start
            if elapsed >= self.duration:
                self.end, self.wall_end = time.monotonic(), time.time()
                return 0
            sending = elapsed
            if self.pause:
                at, seconds = self.pause
                if at <= elapsed < at + seconds:
                    time.sleep(min(at + seconds, self.duration) - elapsed)
                    continue
                if elapsed >= at + seconds:
                    sending -= seconds
            due = int(min(sending + 0.002, self.duration) * self.rate) - self.sent
            if due > 0:
                return min(due, 4096)
            time.sleep(0.001)

    def report(self, what, errors=0, extra=""):
        elapsed = (self.end or time.monotonic()) - self.start
        achieved = self.sent / elapsed if elapsed > 0 else 0
        # The window on the wall clock (seconds since the epoch), for whoever lines calls up against it.
        print(f"flood: window {self.wall_start:.3f} {self.wall_end or time.time():.3f}", flush=True)
        print(f"flood: sent {self.sent} datagrams in {elapsed:.2f} s ({achieved:.0f}/s; asked for "
              f"{self.rate}/s) {what}; send errors {errors}{extra}", flush=True)


# ---------------------------------------------------------------------------------------------------------
# The sink: the callee that never answers. It reads and discards, so the proxy's INVITEs are taken and no
# ICMP port-unreachable goes back.

class Sink:
    def __init__(self, addr):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(addr)
        self.sock.settimeout(0.2)
        self.received = 0
        self.running = True
        self.thread = threading.Thread(target=self.drain, daemon=True)
        self.thread.start()

    def drain(self):
        while self.running:
            try:
                while True:
                    self.sock.recv(65536)
                    self.received += 1
            except (socket.timeout, BlockingIOError):
                pass
            except OSError:
                return

    def stop(self):
        self.running = False
        self.thread.join(1)


# ---------------------------------------------------------------------------------------------------------
# Mode (a): plain UDP from one address.

def build_mix(args, rng, src_host, src_port, sink):
    invite = Invite(src_host, src_port, sink, args.run_id)
    badlen = Invite(src_host, src_port, sink, args.run_id + "L", content_length=99999)
    template = invite.build(0)
    pools = {
        "random": random_datagrams(rng, 2048),
        "truncated": truncated_datagrams(rng, template, 2048),
    }
    return invite, badlen, pools


def run_from(args):
    rng = random.Random(args.seed)
    src = bench_addr(args.from_addr, "--from")
    sink_addr = hostport(args.sink or f"{src}:5099", "--sink", 5099)
    target = hostport(args.target, "--target", 5060)
    sink = Sink(sink_addr)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    sock.bind((src, args.src_port))
    src_port = sock.getsockname()[1]
    invite, badlen, pools = build_mix(args, rng, src, src_port, sink_addr)
    pattern = schedule(args.mix, 1000, rng)
    counts = dict.fromkeys(KINDS, 0)
    randoms, truncs = pools["random"], pools["truncated"]
    send = sock.sendto
    n = 0           # the INVITE counter (both kinds share it)
    p = 0           # position in the pattern
    errors = 0
    plen, rlen, tlen = len(pattern), len(randoms), len(truncs)
    pacer = Pacer(args.rate, args.duration, args.pause)
    while True:
        k = pacer.batch()
        if k == 0:
            break
        for _ in range(k):
            kind = pattern[p % plen]
            p += 1
            if kind == "invite":
                n += 1
                data = invite.build(n)
            elif kind == "badlen":
                n += 1
                data = badlen.build(n)
            elif kind == "random":
                data = randoms[p % rlen]
            else:
                data = truncs[p % tlen]
            try:
                send(data, target)
            except OSError:  # ENOBUFS/EAGAIN under pressure: counted, not retried
                errors += 1
                continue
            counts[kind] += 1
        pacer.sent = sum(counts.values()) + errors
    pacer.sent -= errors
    time.sleep(0.3)  # the proxy's last INVITEs reach the sink
    sink.stop()
    mix = ", ".join(f"{k} {counts[k]}" for k in KINDS)
    pacer.report(f"from {src}:{src_port} to {target[0]}:{target[1]} ({mix})", errors,
                 f"; sink {sink_addr[0]}:{sink_addr[1]} received {sink.received}")


# ---------------------------------------------------------------------------------------------------------
# Mode (b): INVITEs from spoofed sources, through a raw socket.

def csum_words(data):
    """The ones'-complement sum (not yet folded) of DATA, an even number of bytes."""
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


class Spoofer:
    """IPv4 + UDP + INVITE with a given source, checksums computed from precomputed partial sums."""

    def __init__(self, target, sink, run, src_port):
        self.dst = socket.inet_aton(target[0])
        self.dport = target[1]
        self.sport = src_port
        self.run = run
        self.sink = sink
        self.by_src = {}

    def template(self, src_text):
        t = self.by_src.get(src_text)
        if t is None:
            inv = Invite(src_text, self.sport, self.sink, self.run)
            src = socket.inet_aton(src_text)
            payload_len = len(inv.build(0))
            udp_len = 8 + payload_len
            total = 20 + udp_len
            # IPv4 header: no options, DF clear, TTL 64, UDP; the ID is 0 and the kernel fills it in, which
            # changes the checksum, so the kernel recomputes it too (raw(7)); ours is right for ID 0.
            ip_wo = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, socket.IPPROTO_UDP, 0, src, self.dst)
            ip = ip_wo[:10] + struct.pack("!H", 0xFFFF - fold(csum_words(ip_wo))) + ip_wo[12:]
            # UDP checksum over the pseudo-header, the UDP header (checksum 0) and the payload; the payload's
            # constant pieces are summed once, each message adds its two counters.
            pseudo = src + self.dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len)
            udp_wo = struct.pack("!HHHH", self.sport, self.dport, udp_len, 0)
            tail = inv.tail + (b"\0" if len(inv.tail) % 2 else b"")
            base = csum_words(pseudo) + csum_words(udp_wo) + csum_words(inv.head) + csum_words(inv.mid) + \
                csum_words(tail)
            t = (ip, inv, base, struct.pack("!HHH", self.sport, self.dport, udp_len))
            self.by_src[src_text] = t
        return t

    def build(self, src_text, n):
        ip, inv, base, udp3 = self.template(src_text)
        c = inv.counter(n)
        s = fold(base + 2 * csum_words(c))
        ck = 0xFFFF - s
        if ck == 0:
            ck = 0xFFFF
        return b"".join((ip, udp3, struct.pack("!H", ck), inv.head, c, inv.mid, c, inv.tail))


def run_spoof(args):
    net = ipaddress.ip_network(args.spoof, strict=False)
    if not net.subnet_of(BENCH_NET):
        sys.exit(f"flood.py: --spoof {net} is outside 198.18.0.0/15")
    target = hostport(args.target, "--target", 5060)
    sink_addr = hostport(args.sink or "198.18.0.3:5099", "--sink", 5099)
    sink = None
    try:
        sink = Sink(sink_addr)
    except OSError as e:
        print(f"flood: no sink at {sink_addr[0]}:{sink_addr[1]} ({e}); the proxy's INVITEs go unread",
              file=sys.stderr)
    hosts = [str(h) for h in net.hosts()]
    if args.sources:
        hosts = hosts[:args.sources]
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # implies IP_HDRINCL
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    sp = Spoofer(target, sink_addr, args.run_id, 5060)
    # Every source's template before the clock starts.
    for h in hosts:
        sp.template(h)
    send = sock.sendto
    dest = (target[0], 0)
    nh = len(hosts)
    n = 0
    errors = 0
    pacer = Pacer(args.rate, args.duration)
    while True:
        k = pacer.batch()
        if k == 0:
            break
        for _ in range(k):
            n += 1
            try:
                send(sp.build(hosts[n % nh], n), dest)
            except OSError:
                errors += 1
        pacer.sent = n - errors
    time.sleep(0.3)
    received = 0
    if sink:
        sink.stop()
        received = sink.received
    pacer.report(f"INVITEs from {nh} spoofed sources in {net} to {target[0]}:{target[1]}", errors,
                 f"; sink {sink_addr[0]}:{sink_addr[1]} received {received}")


# ---------------------------------------------------------------------------------------------------------
# Mode (c): the mix of mode (a) as a pcap (Ethernet, IPv4, UDP; DLT_EN10MB).

def run_pcap(args):
    rng = random.Random(args.seed)
    src = bench_addr(args.pcap_src, "--pcap-src")
    target = hostport(args.target, "--target", 5060)
    sink_addr = hostport(args.sink or f"{src}:5099", "--sink", 5099)
    src_port = 5060
    invite, badlen, pools = build_mix(args, rng, src, src_port, sink_addr)
    pattern = schedule(args.mix, 1000, rng)
    dst_mac = bytes.fromhex("020000000001")
    src_mac = bytes.fromhex("020000000003")
    s_ip, d_ip = socket.inet_aton(src), socket.inet_aton(target[0])
    counts = dict.fromkeys(KINDS, 0)
    n = 0
    with open(args.pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        # First an ARP request from the flooder for the target: the dataplane learns the flooder's MAC from
        # it, so what it sends back (400s, 503s, the INVITEs to the sink) leaves instead of waiting on ARP.
        arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, s_ip, b"\0" * 6, d_ip)
        frame = b"\xff" * 6 + src_mac + b"\x08\x06" + arp + b"\0" * 18
        f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)))
        f.write(frame)
        for i in range(args.count):
            kind = pattern[i % len(pattern)]
            if kind in ("invite", "badlen"):
                n += 1
                payload = (invite if kind == "invite" else badlen).build(n)
            else:
                pool = pools[kind]
                payload = pool[i % len(pool)]
            counts[kind] += 1
            udp_len = 8 + len(payload)
            ip_wo = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, i & 0xFFFF, 0, 64,
                                socket.IPPROTO_UDP, 0, s_ip, d_ip)
            ip = ip_wo[:10] + struct.pack("!H", 0xFFFF - fold(csum_words(ip_wo))) + ip_wo[12:]
            udp_wo = struct.pack("!HHHH", src_port, target[1], udp_len, 0)
            pseudo = s_ip + d_ip + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len)
            body = payload + (b"\0" if len(payload) % 2 else b"")
            ck = 0xFFFF - fold(csum_words(pseudo) + csum_words(udp_wo) + csum_words(body))
            udp = udp_wo[:6] + struct.pack("!H", ck or 0xFFFF)
            frame = dst_mac + src_mac + b"\x08\x00" + ip + udp + payload
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(frame), len(frame)))
            f.write(frame)
    mix = ", ".join(f"{k} {counts[k]}" for k in KINDS)
    print(f"flood: wrote an ARP request and {args.count} frames to {args.pcap} ({src}:{src_port} -> {target[0]}:{target[1]}; "
          f"{mix})", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--from", dest="from_addr", metavar="ADDR", help="send the mix from this local address")
    mode.add_argument("--spoof", metavar="CIDR", help="send INVITEs from spoofed sources in CIDR (raw socket)")
    mode.add_argument("--pcap", metavar="FILE", help="write the mix as a pcap instead of sending it")
    ap.add_argument("--target", default="198.18.0.1:5060", help="the proxy (default 198.18.0.1:5060)")
    ap.add_argument("--rate", type=int, default=150000, help="datagrams per second (default 150000)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    ap.add_argument("--pause", metavar="AT:SECONDS", help="--from: send nothing from AT seconds into the run "
                    "for SECONDS (the run still lasts --duration)")
    ap.add_argument("--mix", default="1,1,1,1", help="weights random,truncated,badlen,invite (default 1,1,1,1)")
    ap.add_argument("--sink", metavar="ADDR:PORT", help="the callee that never answers (default FROM:5099, "
                    "or 198.18.0.3:5099 with --spoof)")
    ap.add_argument("--src-port", type=int, default=0, help="--from: the source port (default: any)")
    ap.add_argument("--sources", type=int, default=0, help="--spoof: use only the first N addresses")
    ap.add_argument("--count", type=int, default=100000, help="--pcap: frames to write (default 100000)")
    ap.add_argument("--pcap-src", default="198.18.0.3", help="--pcap: the frames' source (default 198.18.0.3)")
    ap.add_argument("--seed", type=int, default=12, help="random seed for the garbage (default 12)")
    ap.add_argument("--run-id", default=None, help="makes this run's Call-IDs differ from another's")
    args = ap.parse_args()
    try:
        args.mix = [float(w) for w in args.mix.split(",")]
        assert len(args.mix) == 4 and all(w >= 0 for w in args.mix) and sum(args.mix) > 0
    except (ValueError, AssertionError):
        sys.exit("flood.py: --mix wants four non-negative weights: random,truncated,badlen,invite")
    if args.pause:
        try:
            at, seconds = (float(x) for x in args.pause.split(":"))
            assert at >= 0 and seconds > 0 and at + seconds < args.duration
        except (ValueError, AssertionError):
            sys.exit("flood.py: --pause wants AT:SECONDS inside the run's --duration")
        args.pause = (at, seconds)
    if args.run_id is None:
        args.run_id = "%x%x" % (os.getpid(), int(time.time()) & 0xFFFFFF)
    if args.pcap:
        run_pcap(args)
    elif args.spoof:
        run_spoof(args)
    else:
        run_from(args)


if __name__ == "__main__":
    main()
