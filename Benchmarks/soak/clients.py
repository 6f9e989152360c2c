#!/usr/bin/env python3
"""Misbehaving and ordinary clients for the echo-server soak (see run.sh next to this file).

Every mode works on loopback only, is bounded in time and exits by itself; status 0 means
the server behaved (every byte that came back was right, probes were answered).

  never-readers --port P --count N [--hold S]
      N clients push data without reading until the server has stopped reading from all of
      them (no send accepted for a second); print PAUSED; hold S seconds; print DRAINING and
      read every echo back; print DRAINED; hold S seconds; close; print CLOSED.
  slowloris --port P --count N --duration S
      N connections each send one byte a second for S seconds and read the echoes.
  probe --port P [--count K]
      K fresh connections, one 64-byte round trip each; prints the slowest in ms.
  blocked-stderr --server PATH --port P [--rounds R]
      Starts the server with `ulimit -n 64` and its stderr on a 4 KiB pipe nobody reads, then
      R rounds of: 100 connections (more than the descriptors allow), an echo on the first,
      close them all. The server must echo in every round, then exit 0 on SIGTERM.
Only the standard library is used.
"""

import argparse
import fcntl
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time

F_SETPIPE_SZ = 1031  # linux/fcntl.h


def say(text):
    print(text, flush=True)


def connect(port, timeout=5.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(port, payload=b"p" * 64, timeout=5.0):
    """One connect-send-receive-close cycle; returns seconds taken, raises on a bad echo."""
    start = time.monotonic()
    with connect(port, timeout) as sock:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(len(payload) - len(got))
            if not chunk:
                raise RuntimeError(f"end of stream after {len(got)} bytes")
            got += chunk
        if got != payload:
            raise RuntimeError("echo differs")
    return time.monotonic() - start


def never_readers(args):
    sockets = [connect(args.port) for _ in range(args.count)]
    for sock in sockets:
        sock.setblocking(False)
    # The stream is bytes(range(256)) repeated, so byte i is i % 256: each send starts at the
    # stream's current offset, and each received chunk can be checked wherever it starts.
    pattern = memoryview(bytes(range(256)) * 1026)  # covers any 256 KiB read at any offset
    sent = [0] * len(sockets)
    last_progress = time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() - last_progress < 1.0 and time.monotonic() < deadline:
        progress = False
        for index, sock in enumerate(sockets):
            try:
                offset = sent[index] % 256
                sent[index] += sock.send(pattern[offset:offset + 65536])
                progress = True
            except BlockingIOError:
                pass
        if progress:
            last_progress = time.monotonic()
        else:
            time.sleep(0.01)
    say(f"PAUSED {sum(sent)} bytes sent by {len(sockets)} clients")
    time.sleep(args.hold)

    say("DRAINING")
    received = [0] * len(sockets)
    selector = selectors.DefaultSelector()
    for index, sock in enumerate(sockets):
        selector.register(sock, selectors.EVENT_READ, index)
    deadline = time.monotonic() + 120
    bad = 0
    while sum(received) < sum(sent) and time.monotonic() < deadline:
        for key, _ in selector.select(0.5):
            index = key.data
            try:
                data = key.fileobj.recv(1 << 18)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(key.fileobj)
                bad += 1
                continue
            offset = received[index] % 256
            if data != pattern[offset:offset + len(data)]:
                bad += 1
            received[index] += len(data)
    say(f"DRAINED {sum(received)} of {sum(sent)} bytes, {bad} bad")
    time.sleep(args.hold)
    for sock in sockets:
        sock.close()
    say("CLOSED")
    return 0 if bad == 0 and sum(received) == sum(sent) else 1


def slowloris(args):
    sockets = [connect(args.port) for _ in range(args.count)]
    for sock in sockets:
        sock.setblocking(False)
    sent = received = 0
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        for sock in sockets:
            try:
                sent += sock.send(b"s")
            except BlockingIOError:
                pass
        tick = time.monotonic() + 1.0
        while time.monotonic() < tick:
            for sock in sockets:
                try:
                    received += len(sock.recv(4096))
                except BlockingIOError:
                    pass
            time.sleep(0.1)
    for sock in sockets:
        sock.close()
    say(f"SLOWLORIS {args.count} connections sent {sent} bytes, {received} echoed")
    return 0 if received == sent else 1


def probe(args):
    slowest = 0.0
    for _ in range(args.count):
        slowest = max(slowest, round_trip(args.port))
    say(f"PROBE {args.count} round trips, slowest {slowest * 1000:.1f} ms")
    return 0


def blocked_stderr(args):
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)

    def limit_descriptors():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    server = subprocess.Popen(
        [args.server, "--port", str(args.port)], stdout=subprocess.PIPE, stderr=write_end,
        preexec_fn=limit_descriptors)
    os.close(write_end)
    try:
        line = server.stdout.readline().decode()
        if "listening on" not in line:
            say(f"BLOCKED-STDERR the server did not start: {line!r}")
            return 1
        served = 0
        for _ in range(args.rounds):
            clients = []
            for _ in range(100):
                try:
                    clients.append(connect(args.port, timeout=2))
                except OSError:
                    break
            try:
                clients[0].sendall(b"still echoing")
                if clients[0].recv(64) == b"still echoing":
                    served += 1
            except OSError:
                pass
            for client in clients:
                client.close()
            time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=20)
        say(f"BLOCKED-STDERR echoed in {served} of {args.rounds} rounds, exit status {status}")
        return 0 if served == args.rounds and status == 0 else 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        os.close(read_end)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["never-readers", "slowloris", "probe", "blocked-stderr"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--hold", type=float, default=3)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--server")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    modes = {"never-readers": never_readers, "slowloris": slowloris, "probe": probe,
             "blocked-stderr": blocked_stderr}
    sys.exit(modes[args.mode](args))


if __name__ == "__main__":
    main()
