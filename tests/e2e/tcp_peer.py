#!/usr/bin/python3
"""Misbehaving and idle SIP-over-TCP clients for the end-to-end tests of SIP over TCP (issue 13).

  tcp_peer.py torture HOST PORT FILE... [--wait S] [--close-wait S]
                 one new connection per file: send the file's bytes exactly as they are, read for --wait
                 seconds (default 2); when the connection is still open then and --close-wait is > 0, wait up
                 to that much longer for the peer to close it
  tcp_peer.py idle HOST PORT N --hold S [--ping] [--ready-file PATH]
                 open N connections (the soft RLIMIT_NOFILE is raised to the hard one first), with --ping send
                 one CRLFCRLF keep-alive on each (RFC 5626 4.4.1), hold them all for --hold seconds and watch
                 which the peer closes; PATH is touched once all N are open (or once the attempts to open
                 them are over); first_close_s, last_close_s and closes_per_second (how many closed in
                 each whole second) count from the start of the hold
  tcp_peer.py partial HOST PORT --hold S [--ready-file PATH]
                 send the first half of an INVITE (the cut falls inside its headers), never the rest, and
                 touch PATH once it is sent
  tcp_peer.py slow HOST PORT --bytes-per-second B --hold S
                 send a complete OPTIONS at B bytes/s, then wait --hold seconds after its last byte
  tcp_peer.py churn HOST PORT --count N
                 open and at once close N connections, one after another; every second one first sends a
                 few random bytes
  tcp_peer.py garbage HOST PORT --bytes N [--seed K] [--wait S]
                 send N random bytes (the same bytes for the same seed), then read for --wait seconds

Every subcommand also takes --source IP (bind our sockets to it), --timeout S (connecting and sending, default
3) and --deadline S (the whole run, default 120; waits are cut short to stay inside it, and a result cut short
says "deadline_hit": true).
HOST must be an IP address on loopback or in 198.18.0.0/15: this tool connects to nothing else.

Output: one JSON object per line on stdout (one per torture file, one for every other subcommand); notes for
people on stderr. Every "..._after_s" counts seconds from the moment its connection was established. What the
peer sends is framed as SIP over a stream: the header section up to CRLFCRLF, then Content-Length (or "l")
bytes of body; CRLFs between messages are keep-alives (an RFC 5626 pong is one CRLF), counted apart.
"responses" lists the status line of every complete response. A peer that closes with FIN or RST both count as
"closed_by_peer"; "reset" tells the two apart.
Exit status: 0 when the tool ran (judging the results is the caller's job), 2 for a usage error, 1 when the
tool itself failed (an internal error, or the deadline overrun by more than 5 s).
Standard library only; run it with /usr/bin/python3.
"""

import argparse
import errno
import ipaddress
import json
import os
import random
import resource
import selectors
import signal
import socket
import sys
import time
from collections import Counter

ALLOWED_NETS = (ipaddress.ip_network("198.18.0.0/15"),)
CONNECT_WINDOW = 256   # idle: connects in flight at once
READ_SIZE = 65536
MAX_HEADER = 65536     # a header section longer than this without CRLFCRLF cannot be framed


def note(text):
    print("tcp_peer: " + text, file=sys.stderr, flush=True)


def emit(obj):
    print(json.dumps(obj), flush=True)


def error_name(exc):
    if isinstance(exc, socket.timeout):
        return "timeout"
    if exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return exc.__class__.__name__


def seconds(x):
    return None if x is None else round(x, 3)


# ---------------------------------------------------------------------------------------------------------
# The run's deadline. Every wait below is cut to what is left of it; an interval timer is the backstop in
# case something blocks anyway.

class Clock:
    def __init__(self, deadline):
        self.end = time.monotonic() + deadline
        self.hit = False

    def left(self):
        return self.end - time.monotonic()

    def until(self, when):
        """WHEN (a monotonic time), or the deadline when that comes first."""
        return min(when, self.end)


def arm_backstop(deadline):
    def overrun(signum, frame):
        emit({"error": "deadline overrun", "deadline_s": deadline})
        os._exit(1)
    signal.signal(signal.SIGALRM, overrun)
    signal.setitimer(signal.ITIMER_REAL, deadline + 5)


# ---------------------------------------------------------------------------------------------------------
# Framing what the peer sends.

def unfolded(head):
    """The header lines of HEAD (start line excluded), folded continuation lines joined to theirs."""
    lines = []
    for line in head.split(b"\r\n")[1:]:
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b" " + line.strip()
        else:
            lines.append(line)
    return lines


def content_length(head):
    """Content-Length of a header section; 0 when absent; ValueError when malformed or given twice differently."""
    values = set()
    for line in unfolded(head):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            value = value.strip()
            if not value.isdigit():
                raise ValueError("Content-Length %r" % value.decode("latin-1"))
            values.add(int(value))
    if len(values) > 1:
        raise ValueError("Content-Length given as %s" % sorted(values))
    return values.pop() if values else 0


class Framer:
    """Cuts a byte stream into SIP messages; keeps the start lines, counts CRLF keep-alives."""

    def __init__(self):
        self.buf = b""
        self.responses = []     # status lines
        self.requests = []      # request lines (a proxy should send us none)
        self.crlfs = 0
        self.error = None       # why the stream could not be framed any further

    def feed(self, data):
        if self.error:
            return
        self.buf += data
        while self.buf:
            if self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
                self.crlfs += 1
                continue
            if self.buf == b"\r":
                return
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEADER:
                    self.error = "no end of headers in %d bytes" % len(self.buf)
                return
            head = self.buf[:end]
            try:
                total = end + 4 + content_length(head)
            except ValueError as e:
                self.error = str(e)
                return
            if len(self.buf) < total:
                return
            start = head.split(b"\r\n", 1)[0].decode("utf-8", "backslashreplace")
            (self.responses if start.startswith("SIP/") else self.requests).append(start)
            self.buf = self.buf[total:]

    def report(self):
        out = {"responses": self.responses, "requests": self.requests, "crlf_keepalives": self.crlfs,
               "unframed_bytes": len(self.buf)}
        if self.error:
            out["framing_error"] = self.error
        return out


# ---------------------------------------------------------------------------------------------------------
# Connections.

class Target:
    def __init__(self, host, port, source, timeout):
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.addr = (host, port)
        self.source = source
        self.timeout = timeout

    def socket(self):
        s = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            if self.source:
                s.bind((self.source, 0))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            s.close()
            raise
        return s

    def connect(self, clock):
        """A connected, non-blocking socket, or an OSError."""
        s = self.socket()
        try:
            s.settimeout(max(0.001, min(self.timeout, clock.left())))
            s.connect(self.addr)
        except OSError:
            s.close()
            raise
        s.setblocking(False)
        return s


class Peer:
    """One connection of ours: what came back on it and when the peer closed it."""

    def __init__(self, sock):
        self.sock = sock
        self.t0 = time.monotonic()
        self.framer = Framer()
        self.received = 0
        self.head = b""          # the first bytes received, for garbage's report
        self.closed_at = None
        self.reset = False

    def after(self, when):
        return None if when is None else when - self.t0

    @property
    def closed(self):
        return self.closed_at is not None

    def peer_closed(self, reset):
        self.closed_at = time.monotonic()
        self.reset = reset

    def read(self):
        """Read what is there; note a close. Call when the socket is readable."""
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # ECONNRESET and the like: the peer is gone
            self.peer_closed(reset=e.errno == errno.ECONNRESET)
            return
        if not data:
            self.peer_closed(reset=False)
            return
        self.received += len(data)
        if len(self.head) < 256:
            self.head += data[:256 - len(self.head)]
        self.framer.feed(data)

    def send(self, data, clock, timeout):
        """Send all of DATA unless the peer stops taking it for TIMEOUT s; (bytes sent, error name or None)."""
        sent = 0
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_WRITE)
            while sent < len(data):
                try:
                    sent += self.sock.send(view[sent:])
                    continue
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    return sent, error_name(e)
                if not sel.select(max(0, clock.until(time.monotonic() + timeout) - time.monotonic())):
                    if clock.left() <= 0:
                        clock.hit = True
                        return sent, "deadline"
                    return sent, "timeout"
        return sent, None

    def close(self):
        self.sock.close()

    def report(self):
        out = {"closed_by_peer": self.closed, "closed_after_s": seconds(self.after(self.closed_at)),
               "reset": self.reset, "still_open": not self.closed, "received_bytes": self.received}
        out.update(self.framer.report())
        return out


def unopened(e):
    """The report of a connection that could not be opened: the keys of Peer.report(), and why."""
    out = {"error": "connect: " + error_name(e), "sent": 0}
    out.update({"closed_by_peer": False, "closed_after_s": None, "reset": False, "still_open": False,
                "received_bytes": 0})
    out.update(Framer().report())
    return out


def watch(peers, until, clock, stop=None):
    """Read from PEERS until the monotonic time UNTIL (cut to the deadline), all are closed, or stop() is true.
    Waits at most a second at a time, so stop() is looked at every second."""
    cut = clock.until(until)
    with selectors.DefaultSelector() as sel:
        for p in peers:
            if not p.closed:
                sel.register(p.sock, selectors.EVENT_READ, p)
        while sel.get_map():
            left = cut - time.monotonic()
            if left <= 0:
                clock.hit = clock.hit or cut < until
                return
            if stop and stop():
                return
            for key, _ in sel.select(min(left, 1.0)):
                p = key.data
                p.read()
                if p.closed:
                    sel.unregister(p.sock)


def touch(path):
    if path:
        with open(path, "a"):
            pass


# ---------------------------------------------------------------------------------------------------------
# SIP requests of our own.

def hostport(addr):
    host, port = addr[0], addr[1]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def request(method, target, local, body=b"", content_type=None):
    """A well-formed METHOD from LOCAL (our socket's address) to the proxy at TARGET, over TCP."""
    tag = os.urandom(6).hex()
    me = hostport(local)
    lines = [
        "%s sip:%s SIP/2.0" % (method, hostport(target) if method == "OPTIONS" else "tcp_peer@" + hostport(target)),
        "Via: SIP/2.0/TCP %s;branch=z9hG4bK-tcppeer-%s" % (me, tag),
        "Max-Forwards: 70",
        "To: <sip:%s@%s>" % ("tcp_peer", hostport(target)),
        "From: <sip:tcp_peer@%s>;tag=%s" % (me, tag),
        "Call-ID: %s@tcp_peer" % tag,
        "CSeq: 1 %s" % method,
        "Contact: <sip:tcp_peer@%s;transport=tcp>" % me,
    ]
    if content_type:
        lines.append("Content-Type: " + content_type)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def invite(target, local):
    ip = local[0]
    kind = "IP6" if ":" in ip else "IP4"
    sdp = ("v=0\r\no=tcp_peer 1 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % (kind, ip, kind, ip)).encode()
    return request("INVITE", target, local, sdp, "application/sdp")


# ---------------------------------------------------------------------------------------------------------
# The subcommands. Each returns nothing and prints its result lines.

def cmd_torture(a, target, clock):
    files = [(os.path.basename(f), open(f, "rb").read()) for f in a.files]
    for name, data in files:
        out = {"file": name, "bytes": len(data), "error": None}
        if clock.left() <= 0:
            out.update({"skipped": "deadline", "deadline_hit": True})
            emit(out)
            continue
        try:
            p = Peer(target.connect(clock))
        except OSError as e:
            out.update(unopened(e))
            out["deadline_hit"] = clock.hit
            emit(out)
            continue
        sent, err = p.send(data, clock, target.timeout)
        if err:
            out["error"] = "send: " + err
        watch([p], time.monotonic() + a.wait, clock)
        if not p.closed and a.close_wait > 0:
            watch([p], time.monotonic() + a.close_wait, clock)
        out["sent"] = sent
        out.update(p.report())
        out["deadline_hit"] = clock.hit
        p.close()
        emit(out)
        note("%s: %d response(s), %s" % (name, len(p.framer.responses), "closed after %.1f s"
                                         % p.after(p.closed_at) if p.closed else "still open"))


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, want)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as e:
            note("could not raise RLIMIT_NOFILE to %d: %s" % (hard, e))
    return soft


def open_many(target, n, clock):
    """N connections, at most CONNECT_WINDOW connecting at once: (connected sockets, Counter of failures)."""
    connected, failed = [], Counter()
    pending = {}                   # socket -> when its connect began
    started = 0
    with selectors.DefaultSelector() as sel:
        while (started < n or pending) and clock.left() > 0:
            while started < n and len(pending) < CONNECT_WINDOW:
                started += 1
                try:
                    s = target.socket()
                except OSError as e:
                    failed[error_name(e)] += 1
                    if e.errno in (errno.EMFILE, errno.ENFILE):   # every further one would fail the same way
                        failed[error_name(e)] += n - started
                        started = n
                    continue
                s.setblocking(False)
                err = s.connect_ex(target.addr)
                if err == 0:
                    connected.append(s)
                elif err == errno.EINPROGRESS:
                    pending[s] = time.monotonic()
                    sel.register(s, selectors.EVENT_WRITE)
                else:
                    failed[errno.errorcode.get(err, str(err))] += 1
                    s.close()
            for key, _ in sel.select(max(0, min(0.2, clock.left()))):
                s = key.fileobj
                sel.unregister(s)
                del pending[s]
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    failed[errno.errorcode.get(err, str(err))] += 1
                    s.close()
                else:
                    connected.append(s)
            now = time.monotonic()
            for s, began in list(pending.items()):
                if now - began > target.timeout:
                    sel.unregister(s)
                    del pending[s]
                    s.close()
                    failed["timeout"] += 1
        for s in pending:
            s.close()
        failed["deadline"] += len(pending) + (n - started)
    if not failed["deadline"]:
        del failed["deadline"]
    return connected, failed


def cmd_idle(a, target, clock):
    limit = raise_fd_limit(a.n + 64)
    room = limit - 64              # for the descriptors already open and the selector's
    want = min(a.n, max(0, room))
    if want < a.n:
        note("RLIMIT_NOFILE is %d: opening %d connections, not %d" % (limit, want, a.n))
    socks, failed = open_many(target, want, clock)
    if want < a.n:
        failed["RLIMIT_NOFILE"] = a.n - want
    peers = [Peer(s) for s in socks]
    note("%d of %d connections open (%s)" % (len(peers), a.n, dict(failed) or "no failures"))
    if a.ping:
        for p in peers:
            _, err = p.send(b"\r\n\r\n", clock, target.timeout)
            if err:
                failed["ping " + err] += 1
    touch(a.ready_file)
    hold_start = time.monotonic()
    last_note = [hold_start]

    def progress():
        now = time.monotonic()
        if now - last_note[0] >= 10:
            last_note[0] = now
            note("holding: %d closed by the peer after %.0f s" % (sum(p.closed for p in peers), now - hold_start))
        return False

    # An epoll wait for readability, at most a second long, then a recv: b"" (or ECONNRESET) is a close. That
    # is the "poll every second + recv(MSG_PEEK) == 0" check, except that we consume what did arrive (a pong).
    watch(peers, hold_start + a.hold, clock, progress)
    closes = sorted(p.closed_at - hold_start for p in peers if p.closed)
    out = {
        "asked": a.n, "fd_limit": limit, "reached": len(peers) == a.n,
        "opened": len(peers), "failed_to_open": a.n - len(peers), "failures": dict(failed),
        "pongs": sum(p.framer.crlfs > 0 for p in peers) if a.ping else None,
        "data_received": sum(p.received > p.framer.crlfs * 2 for p in peers),
        "closed_by_peer": len(closes), "reset_by_peer": sum(p.reset for p in peers),
        "first_close_s": seconds(closes[0]) if closes else None,
        "last_close_s": seconds(closes[-1]) if closes else None,
        "closes_per_second": dict(sorted(Counter(str(int(t)) for t in closes).items(), key=lambda kv: int(kv[0]))),
        "open_at_end": len(peers) - len(closes),
        "held_s": seconds(time.monotonic() - hold_start), "deadline_hit": clock.hit,
    }
    for p in peers:
        p.close()
    emit(out)


def cmd_partial(a, target, clock):
    try:
        p = Peer(target.connect(clock))
    except OSError as e:
        emit(dict(unopened(e), deadline_hit=clock.hit))
        return
    msg = invite(target.addr, p.sock.getsockname())
    cut = len(msg) // 2
    assert cut < msg.find(b"\r\n\r\n"), "the cut must fall inside the headers"
    sent, err = p.send(msg[:cut], clock, target.timeout)
    touch(a.ready_file)
    watch([p], time.monotonic() + a.hold, clock)
    out = {"sent": sent, "message_bytes": len(msg), "error": err and "send: " + err}
    out.update(p.report())
    out["deadline_hit"] = clock.hit
    p.close()
    emit(out)


def cmd_slow(a, target, clock):
    try:
        p = Peer(target.connect(clock))
    except OSError as e:
        emit(dict(unopened(e), response=None, response_after_s=None, deadline_hit=clock.hit))
        return
    msg = request("OPTIONS", target.addr, p.sock.getsockname())
    rate = a.bytes_per_second
    tick = max(1.0 / rate, 0.1)
    sent, err, answered = 0, None, [None]

    def response_seen():
        if answered[0] is None and p.framer.responses:
            answered[0] = time.monotonic()
        return False

    last_byte = p.t0
    while sent < len(msg) and not p.closed and clock.left() > 0:
        due = min(len(msg), int((time.monotonic() - p.t0) * rate) + 1) - sent
        if due > 0:
            n, err = p.send(msg[sent:sent + due], clock, target.timeout)
            sent += n
            last_byte = time.monotonic()
            if err or sent == len(msg):
                break
        watch([p], time.monotonic() + tick, clock, response_seen)
        response_seen()
    if not err and not p.closed:
        watch([p], last_byte + a.hold, clock, response_seen)
    response_seen()
    out = {"message_bytes": len(msg), "sent": sent, "last_byte_after_s": seconds(last_byte - p.t0),
           "error": err and "send: " + err,
           "response": p.framer.responses[0] if p.framer.responses else None,
           "response_after_s": seconds(p.after(answered[0]))}
    out.update(p.report())
    out["deadline_hit"] = clock.hit
    p.close()
    emit(out)


def cmd_churn(a, target, clock):
    rng = random.Random(a.seed)
    opened, refused, failed = 0, 0, Counter()
    start = time.monotonic()
    for i in range(a.count):
        if clock.left() <= 0:
            failed["deadline"] += a.count - i
            clock.hit = True
            break
        try:
            s = target.connect(clock)
        except OSError as e:
            if e.errno == errno.ECONNREFUSED:
                refused += 1
            else:
                failed[error_name(e)] += 1
            continue
        opened += 1
        if i % 2:
            try:
                s.send(rng.randbytes(rng.randint(3, 16)))
            except OSError as e:
                failed["send " + error_name(e)] += 1
        s.close()
    elapsed = time.monotonic() - start
    emit({"count": a.count, "opened": opened, "refused": refused, "failed": sum(failed.values()),
          "failures": dict(failed), "elapsed_s": seconds(elapsed),
          "per_s": round(opened / elapsed) if elapsed > 0 else None, "deadline_hit": clock.hit})


def cmd_garbage(a, target, clock):
    data = random.Random(a.seed).randbytes(a.bytes)
    try:
        p = Peer(target.connect(clock))
    except OSError as e:
        emit(dict(unopened(e), bytes=a.bytes, seed=a.seed, received_head="", deadline_hit=clock.hit))
        return
    sent, err = p.send(data, clock, target.timeout)
    watch([p], time.monotonic() + a.wait, clock)
    out = {"bytes": a.bytes, "seed": a.seed, "sent": sent, "error": err and "send: " + err}
    out.update(p.report())
    out["received_head"] = p.head.decode("utf-8", "backslashreplace")
    out["deadline_hit"] = clock.hit
    p.close()
    emit(out)


# ---------------------------------------------------------------------------------------------------------

def positive(text):
    x = float(text)
    if x <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return x


def not_negative(text):
    x = float(text)
    if x < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return x


def count(text):
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return n


def parse(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("host")
    common.add_argument("port", type=int)
    common.add_argument("--source", metavar="IP", help="bind our sockets to this local address")
    common.add_argument("--timeout", type=positive, default=3.0, help="for connecting and sending (s)")
    common.add_argument("--deadline", type=positive, default=120.0, help="for the whole run (s)")
    ap = argparse.ArgumentParser(prog="tcp_peer.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("torture", parents=[common])
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--wait", type=not_negative, default=2.0)
    p.add_argument("--close-wait", type=not_negative, default=0.0)

    p = sub.add_parser("idle", parents=[common])
    p.add_argument("n", type=count, metavar="N")
    p.add_argument("--hold", type=not_negative, required=True)
    p.add_argument("--ping", action="store_true")
    p.add_argument("--ready-file", metavar="PATH")

    p = sub.add_parser("partial", parents=[common])
    p.add_argument("--hold", type=not_negative, required=True)
    p.add_argument("--ready-file", metavar="PATH")

    p = sub.add_parser("slow", parents=[common])
    p.add_argument("--bytes-per-second", type=positive, required=True)
    p.add_argument("--hold", type=not_negative, required=True)

    p = sub.add_parser("churn", parents=[common])
    p.add_argument("--count", type=count, required=True)
    p.add_argument("--seed", type=int, default=13)

    p = sub.add_parser("garbage", parents=[common])
    p.add_argument("--bytes", type=count, required=True)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--wait", type=not_negative, default=3.0)

    a = ap.parse_args(argv)
    try:
        addr = ipaddress.ip_address(a.host)
    except ValueError:
        ap.error("HOST must be an IP address, not %r" % a.host)
    if not (addr.is_loopback or any(addr in net for net in ALLOWED_NETS)):
        ap.error("HOST %s is neither loopback nor in 198.18.0.0/15" % addr)
    if not 0 < a.port < 65536:
        ap.error("PORT must be 1..65535")
    if a.source:
        try:
            if ipaddress.ip_address(a.source).version != addr.version:
                ap.error("--source and HOST are of different IP versions")
        except ValueError:
            ap.error("--source must be an IP address, not %r" % a.source)
    for f in getattr(a, "files", []):
        if not os.path.isfile(f) or not os.access(f, os.R_OK):
            ap.error("cannot read %s" % f)
    return a


COMMANDS = {"torture": cmd_torture, "idle": cmd_idle, "partial": cmd_partial, "slow": cmd_slow,
            "churn": cmd_churn, "garbage": cmd_garbage}


def main(argv):
    a = parse(argv)
    arm_backstop(a.deadline)
    clock = Clock(a.deadline)
    COMMANDS[a.cmd](a, Target(a.host, a.port, a.source, a.timeout), clock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
