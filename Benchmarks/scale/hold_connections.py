#!/usr/bin/env python3
"""Open many TCP connections to an echo server on loopback, echo on each, and hold them.

Used to measure the echo server at scale (see measure.sh next to this file):

    python3 hold_connections.py --port 7400 --count 10000 --hold 5
    python3 hold_connections.py --port 7400 --count 9500 --sources 127.0.0.2-127.0.0.11 \
        --wait-for /tmp/go --hold 5

Steps, each reported on stdout:
  1. connect COUNT sockets (non-blocking, at most --in-flight handshakes at a time so the
     server's accept queue never overflows), each bound to a source address taken in turn
     from --sources with port 0 and IP_BIND_ADDRESS_NO_PORT, so the ephemeral ports are
     spread over several 127.0.0.x addresses;
  2. one echo round: a distinct 16-byte message on every connection, every reply checked;
  3. print READY; if --wait-for is given, wait until that file exists, then do another echo
     round (so a driver can make it happen while other processes hold their connections);
  4. hold the connections for --hold seconds, then close them and exit (status 0 if every
     connection connected and every echo matched, else 1).
Only the standard library is used.
"""

import argparse
import errno
import os
import resource
import selectors
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h


def say(text):
    print(text, flush=True)


def parse_sources(text):
    """'127.0.0.2-127.0.0.11' or '127.0.0.2,127.0.0.3' -> list of addresses."""
    sources = []
    for part in text.split(","):
        if "-" in part:
            first, last = part.split("-")
            prefix, low = first.rsplit(".", 1)
            high = last.rsplit(".", 1)[1]
            sources += [f"{prefix}.{n}" for n in range(int(low), int(high) + 1)]
        else:
            sources.append(part)
    return sources


def connect_all(host, port, count, sources, in_flight, timeout):
    """Returns the connected sockets; raises on any failure."""
    selector = selectors.DefaultSelector()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    connected = []
    pending = 0
    started = 0
    deadline = time.monotonic() + timeout
    while len(connected) < count:
        while started < count and pending < in_flight:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            if sources and family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((sources[started % len(sources)], 0))
            result = sock.connect_ex((host, port))
            if result not in (0, errno.EINPROGRESS):
                raise OSError(result, f"connect #{started}: {os.strerror(result)}")
            selector.register(sock, selectors.EVENT_WRITE)
            started += 1
            pending += 1
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(connected)} of {count} connected")
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            selector.unregister(sock)
            pending -= 1
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, f"connect: {os.strerror(error)}")
            connected.append(sock)
    selector.close()
    return connected


def echo_round(sockets, round_number, timeout):
    """Sends a distinct message on every socket and checks every reply. Returns failures."""
    selector = selectors.DefaultSelector()
    expected = {}
    received = {}
    for index, sock in enumerate(sockets):
        message = b"r%03d-c%09d\n" % (round_number % 1000, index)  # 16 bytes
        expected[sock] = message
        received[sock] = b""
        sent = sock.send(message)  # 16 bytes always fit an empty send buffer
        if sent != len(message):
            raise OSError(f"short send on connection {index}")
        selector.register(sock, selectors.EVENT_READ)
    remaining = len(sockets)
    failures = 0
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            data = sock.recv(4096)
            received[sock] += data
            want = expected[sock]
            if not data or len(received[sock]) >= len(want):
                if received[sock] != want:
                    failures += 1
                selector.unregister(sock)
                remaining -= 1
    selector.close()
    return failures + remaining


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7000)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--sources", default="127.0.0.2-127.0.0.11",
                        help="source addresses to spread connections over ('' for none)")
    parser.add_argument("--in-flight", type=int, default=256, help="handshakes in progress at once")
    parser.add_argument("--wait-for", help="after READY, wait for this file, then echo again")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold the connections at the end")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, args.count + 64)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if args.count + 16 > wanted:
        sys.exit(f"need {args.count + 16} descriptors, the hard limit is {hard}")

    sources = parse_sources(args.sources) if args.sources else []
    start = time.monotonic()
    sockets = connect_all(args.host, args.port, args.count, sources, args.in_flight, args.timeout)
    say(f"connected {len(sockets)} in {time.monotonic() - start:.2f} s")

    failed = 0
    start = time.monotonic()
    failures = echo_round(sockets, 1, args.timeout)
    failed += failures
    say(f"echo round 1: {len(sockets) - failures} of {len(sockets)} verified in {time.monotonic() - start:.2f} s")
    say("READY")

    if args.wait_for:
        deadline = time.monotonic() + args.timeout
        while not os.path.exists(args.wait_for):
            if time.monotonic() > deadline:
                sys.exit("timed out waiting for " + args.wait_for)
            time.sleep(0.05)
        start = time.monotonic()
        failures = echo_round(sockets, 2, args.timeout)
        failed += failures
        say(f"echo round 2: {len(sockets) - failures} of {len(sockets)} verified in {time.monotonic() - start:.2f} s")

    time.sleep(args.hold)
    for sock in sockets:
        sock.close()
    say("closed" if not failed else f"FAILED: {failed} echoes did not match")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
