#!/usr/bin/env python3
"""Clients that misbehave on purpose, for test-limits.sh: each subcommand
prints KEY=VALUE lines the shell test checks. Loopback only."""
import resource
import select
import socket
import sys
import time

MIB = 1024 * 1024


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def connect_all(port, sources, count):
    """count non-blocking connects spread over the source addresses; returns
    the sockets whose connect completed within 10 s."""
    pending = {}
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((sources[i % len(sources)], 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        pending[s.fileno()] = s
    done = []
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(200):
            s = pending.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done.append(s)
            else:
                s.close()
    return done


def read_answers(socks, seconds):
    """Reads what each socket gets until it is closed or @seconds pass:
    {sock: bytes}, and the sockets the server closed."""
    got = {s: b"" for s in socks}
    open_ = {s.fileno(): s for s in socks}
    poller = select.poll()
    for fd in open_:
        poller.register(fd, select.POLLIN)
    closed = []
    deadline = time.monotonic() + seconds
    while open_ and time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            s = open_[fd]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                got[s] += data
                continue
            poller.unregister(fd)
            del open_[fd]
            closed.append(s)
    return got, closed


def body_flood(port, pid, count, method, path):
    """count unauthenticated requests, each announcing a body one byte short
    of 1 MiB and pushing as much of it as migd takes, all held at once."""
    raise_nofile(count + 64)
    sources = [f"127.0.1.{i}" for i in range(1, 21)]
    before = rss_kib(pid)
    socks = connect_all(port, sources, count)
    head = (b"%s %s HTTP/1.1\r\nHost: migd\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (method.encode(), path.encode(), MIB - 1))
    body = b" " * (MIB - 2)
    sent = {s: 0 for s in socks}
    for s in socks:
        try:
            s.send(head)
        except OSError:
            pass
    # Push bodies until migd stops taking them (or 15 s pass).
    deadline = time.monotonic() + 15
    active = set(socks)
    while active and time.monotonic() < deadline:
        progressed = False
        for s in list(active):
            try:
                n = s.send(body[sent[s]:sent[s] + 256 * 1024])
            except BlockingIOError:
                continue
            except OSError:
                active.discard(s)
                continue
            sent[s] += n
            progressed = True
            if sent[s] >= len(body):
                active.discard(s)
        if not progressed:
            time.sleep(0.05)
    # migd may still be reading what the sockets hold: its peak over 2 s.
    held = 0
    for _ in range(20):
        held = max(held, rss_kib(pid))
        time.sleep(0.1)
    got, _ = read_answers(socks, 2)
    refused = sum(1 for s in socks if got[s].startswith(b"HTTP/1.1 4"))
    print(f"connections={len(socks)}")
    print(f"refused_4xx={refused}")
    print(f"body_bytes_sent={sum(sent.values())}")
    print(f"rss_before_kib={before}")
    print(f"rss_held_kib={held}")
    for s in socks:
        s.close()


def http_get(src, port, path):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    t0 = time.monotonic()
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: migd\r\nConnection: close\r\n\r\n" % path.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    ms = (time.monotonic() - t0) * 1000
    s.close()
    return ms, data


def fd_count(pid):
    import os
    return len(os.listdir(f"/proc/{pid}/fd"))


def idle_flood(port, pid, count):
    """count connections from 127.0.0.1, each sending a request line a byte
    at a time, held while a peer on 127.0.0.2 asks GET /v1/health."""
    raise_nofile(count + 64)
    socks = connect_all(port, ["127.0.0.1"], count)
    # migd accepts them a few at a time and closes those over its limits:
    # wait until that settles (its open descriptors stop changing for 1 s).
    closed = 0
    alive = list(socks)
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 20
    first = True
    while time.monotonic() < deadline and time.monotonic() - stable_since < 1:
        # A byte now and then, as a slow client would, keeps them from
        # being idle: only the limits may close them.
        broken = set()
        for s in alive:
            try:
                s.send(b"GET /" if first else b"a")
            except OSError:
                broken.add(s)
        first = False
        _, ended = read_answers([s for s in alive if s not in broken], 0.25)
        closed += len(ended) + len(broken)
        ended = set(ended) | broken
        alive = [s for s in alive if s not in ended]
        fds = fd_count(pid)
        if fds != last:
            last, stable_since = fds, time.monotonic()
    best = None
    worst = 0.0
    status = b""
    for _ in range(5):
        try:
            ms, data = http_get("127.0.0.2", port, "/v1/health")
        except OSError:
            ms, data = 5000.0, b"(no answer within 5 s)"
        status = data.split(b"\r\n", 1)[0]
        best = ms if best is None else min(best, ms)
        worst = max(worst, ms)
    print(f"connected={len(socks)}")
    print(f"migd_fds={last}")
    print(f"closed_by_migd={closed}")
    print(f"held_open={len(socks) - closed}")
    print(f"peer_status={status.decode(errors='replace')}")
    print(f"peer_ms_worst={worst:.1f}")
    print(f"peer_ms_best={best:.1f}")
    for s in socks:
        s.close()


def idle_close(port):
    """Seconds until migd closes a connection that sends nothing."""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    s.settimeout(30)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    print(f"closed_after_s={time.monotonic() - t0:.1f}")


def big_length(port, token):
    """A POST that announces 100 MB and sends none of it: the 413 must come
    from the headers alone."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    t0 = time.monotonic()
    s.sendall(b"POST /v1/reservations HTTP/1.1\r\nHost: migd\r\nAuthorization: Bearer %s\r\n"
              b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n" % token.encode())
    try:
        data = s.recv(65536)
    except socket.timeout:
        data = b""
    print(f"status={data.split(b' ', 2)[1].decode() if data else 'none'}")
    print(f"ms={(time.monotonic() - t0) * 1000:.1f}")
    body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip() if data else ""
    print(f"body={body}")


def chunked(path, total):
    """A chunked POST over the unix socket of @total bytes: how much migd
    took before it answered and closed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(5)
    s.sendall(b"POST /v1/migrations HTTP/1.1\r\nHost: migd\r\nTransfer-Encoding: chunked\r\n\r\n")
    sent = 0
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    try:
        while sent < total:
            s.sendall(chunk)
            sent += 0x10000
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    try:
        data = s.recv(65536)
    except OSError:
        data = b""
    print(f"sent={sent}")
    print(f"status={data.split(b' ', 2)[1].decode() if data else 'none'}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "body-flood":
        body_flood(int(args[0]), int(args[1]), int(args[2]), args[3], args[4])
    elif cmd == "idle-flood":
        idle_flood(int(args[0]), int(args[1]), int(args[2]))
    elif cmd == "idle-close":
        idle_close(int(args[0]))
    elif cmd == "big-length":
        big_length(int(args[0]), args[1])
    elif cmd == "chunked":
        chunked(args[0], int(args[1]))
    else:
        sys.exit(f"unknown command {cmd}")
