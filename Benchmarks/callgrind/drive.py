#!/usr/bin/env python3
"""Drive an echo server with an exact number of operations, for instruction counting.

rr:   one connection, N round trips of SIZE bytes (send, read the echo back, verify).
rr10: ten connections, N round trips in all: each round sends one message on every
      connection, then reads every echo back, so the server finds up to ten ready
      connections per wait (the batched case). N must be a multiple of ten.
conn: N cycles of connect, send SIZE bytes, read the echo back, verify, close.
An optional sixth argument pauses that many seconds after each operation: a server slowed
down by callgrind or strace otherwise finds the next request already queued when it reads
again, which makes an edge-triggered server (reading until EAGAIN) skip its waits, a pattern
it rarely sees at full speed.
Exits non-zero on any mismatch, so a count is never taken from a broken run.
"""
import socket
import sys
import time


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise SystemExit("server closed early")
        data += chunk
    return data


def main():
    host, port, mode, count, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    pause = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    message = bytes((i * 7 + 3) % 256 for i in range(size))
    if mode in ("rr", "rr10"):
        connections = 1 if mode == "rr" else 10
        if count % connections:
            raise SystemExit("rr10 needs a count that is a multiple of 10")
        socks = [socket.create_connection((host, port)) for _ in range(connections)]
        try:
            for sock in socks:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(count // connections):
                for sock in socks:
                    sock.sendall(message)
                for sock in socks:
                    if read_exactly(sock, size) != message:
                        raise SystemExit("mismatch")
                if pause:
                    time.sleep(pause)
        finally:
            for sock in socks:
                sock.close()
    elif mode == "conn":
        for _ in range(count):
            with socket.create_connection((host, port)) as sock:
                sock.sendall(message)
                if read_exactly(sock, size) != message:
                    raise SystemExit("mismatch")
            if pause:
                time.sleep(pause)
    else:
        raise SystemExit("mode is rr, rr10 or conn")


main()
