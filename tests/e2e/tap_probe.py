#!/usr/bin/python3
"""Listeners and probes for tests/e2e/tap_allow.sh (standard library only).

  tap_probe.py serve PROTO:PORT...           listen on every address at each (tcp or udp) and echo what
                                             arrives until killed; prints "listening" once all are bound
  tap_probe.py probe PROTO IP PORT [SECONDS] connect (tcp) or send (udp) a line and wait for it to come
                                             back: exit 0 when it did, 1 when not (timed out, refused)
"""
import selectors
import socket
import sys

LINE = b"sipd exception path allow-list\n"


def serve(specs):
    sel = selectors.DefaultSelector()
    for spec in specs:
        proto, port = spec.split(":")
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        if proto == "tcp":
            s.listen(16)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, proto)
    print("listening on " + " ".join(specs), flush=True)
    while True:
        for key, _ in sel.select():
            s, role = key.fileobj, key.data
            try:
                if role == "tcp":
                    conn, peer = s.accept()
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "conn")
                    print("tcp %s:%d accepted on %d" % (peer[0], peer[1], s.getsockname()[1]), flush=True)
                elif role == "udp":
                    data, peer = s.recvfrom(2048)
                    s.sendto(data, peer)
                    print("udp %s:%d echoed on %d" % (peer[0], peer[1], s.getsockname()[1]), flush=True)
                else:
                    data = s.recv(2048)
                    if data:
                        s.sendall(data)
                    else:
                        sel.unregister(s)
                        s.close()
            except OSError:
                if role == "conn":
                    sel.unregister(s)
                    s.close()


def probe(proto, ip, port, seconds):
    where = "%s %s:%d" % (proto, ip, port)
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(seconds)
    local = 0
    try:
        if proto == "tcp":
            s.connect((ip, port))
            local = s.getsockname()[1]
            s.sendall(LINE)
            got = b""
            while len(got) < len(LINE):
                chunk = s.recv(2048)
                if not chunk:
                    break
                got += chunk
        else:
            s.sendto(LINE, (ip, port))
            local = s.getsockname()[1]
            got, _ = s.recvfrom(2048)
    except OSError as e:  # socket.timeout is an OSError
        print("%s: no answer (%s)" % (where, e.__class__.__name__ if not str(e) else e))
        return 1
    finally:
        s.close()
    if got != LINE:
        print("%s: answered %r, not the line sent" % (where, got))
        return 1
    print("%s: echoed (from local port %d)" % (where, local))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "serve":
        serve(argv[2:])
        return 0
    if len(argv) in (5, 6) and argv[1] == "probe":
        seconds = float(argv[5]) if len(argv) == 6 else 2.0
        return probe(argv[2], argv[3], int(argv[4]), seconds)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
