#!/usr/bin/env python3
"""Host-side checks against the firmware running in QEMU (started by
scripts/firmware-test, which owns and kills the QEMU process).

Every socket has a timeout, every loop a bound. Prints one PASS/FAIL line
per check and exits non-zero if any failed. Only 127.0.0.1 is contacted
unless --host names a board.

    qemu_check.py --log QEMU_LOG --tcp-echo P --udp-echo P --udp-time P --tcp-time P
        [--host ADDR]   (default 127.0.0.1; a board's address for hardware in the loop)
"""
import argparse
import os
import random
import re
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
TIMEOUT = 10.0
SLOTS = 4  # ECHO_SLOTS in src/app.rs
RFC868_EPOCH_OFFSET = 2_208_988_800
# The firmware's clock comes from the host clock via RFC 868 (whole
# seconds), so it may lag by up to a second plus the time in flight.
CLOCK_TOLERANCE_S = 5

failures = []
passes = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}: {name}{': ' + detail if detail and not ok else ''}",
          flush=True)
    (passes if ok else failures).append(name)


def wait_for_log(path, pattern, limit_s):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        if re.search(pattern, text):
            return True
        time.sleep(0.2)
    return False


def recv_exactly(sock, n):
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(65536, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def tcp_echo(port, data):
    """Sends data (from a thread, so big payloads cannot deadlock) and
    reads the same number of bytes back."""
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
        sender.start()
        got = recv_exactly(s, len(data))
        sender.join(TIMEOUT)
        s.shutdown(socket.SHUT_WR)
        tail = s.recv(16)  # the firmware closes once the client has
        return got, tail


def udp_request(port, data, timeout=TIMEOUT):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (HOST, port))
        try:
            return s.recvfrom(65536)[0]
        except socket.timeout:
            return None


def echo_works(port, attempts=20):
    """Bounded retries: a slot freed a moment ago may still be recycling."""
    for _ in range(attempts):
        try:
            got, _ = tcp_echo(port, b"still alive?")
            if got == b"STILL ALIVE?":
                return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def hold_slot(port, attempts=20):
    """A connected, echoing client (bounded retries: the slot a previous
    check used may still be finishing its close)."""
    for _ in range(attempts):
        s = socket.create_connection((HOST, port), timeout=TIMEOUT)
        s.settimeout(TIMEOUT)
        try:
            s.sendall(b"x")
            if recv_exactly(s, 1) == b"X":
                return s
        except OSError:
            pass
        s.close()
        time.sleep(0.25)
    return None


def check_tcp_echo(a):
    got, tail = tcp_echo(a.tcp_echo, b"hello, \xe4\xbd\xa0 World\n")
    check("tcp echo upper-cases (UTF-8 untouched)", got == b"HELLO, \xe4\xbd\xa0 WORLD\n", repr(got))
    check("tcp echo closes after the client does", tail == b"", repr(tail))

    results = [None] * SLOTS
    datas = [os.urandom(8192) for _ in range(SLOTS)]

    def client(i):
        try:
            results[i] = tcp_echo(a.tcp_echo, datas[i])[0]
        except OSError as e:
            results[i] = e

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(SLOTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * TIMEOUT)
    ok = all(results[i] == datas[i].upper() for i in range(SLOTS))
    check(f"tcp echo: {SLOTS} clients at once, 8 KiB random bytes each", ok,
          repr([type(r).__name__ if not isinstance(r, bytes) else len(r) for r in results]))

    big = bytes(random.Random(7).choices(b"abcXYZ 019\n\xe4\xbd\xa0", k=64 * 1024))
    got, _ = tcp_echo(a.tcp_echo, big)
    check("tcp echo: 64 KiB stream", got == big.upper(), f"got {len(got)} bytes")


def check_udp_echo(a):
    got = udp_request(a.udp_echo, b"udp \xe4\xbd\xa0 Echo")
    check("udp echo upper-cases", got == b"UDP \xe4\xbd\xa0 ECHO", repr(got))
    big = os.urandom(1472)
    got = udp_request(a.udp_echo, big)
    check("udp echo: largest unfragmented datagram (1472 bytes)", got == big.upper(),
          f"got {None if got is None else len(got)}")
    got = udp_request(a.udp_echo, b"")
    check("udp echo: empty datagram answered empty", got == b"", repr(got))


def host_tm_close(reply, fmt):
    """Whether `reply` is the host's UTC time in `fmt` within tolerance."""
    now = time.time()
    for d in range(-CLOCK_TOLERANCE_S, CLOCK_TOLERANCE_S + 1):
        if time.strftime(fmt, time.gmtime(now + d)).encode() == reply:
            return True
    return False


def check_time(a):
    fmt = "%Y-%m-%d %H:%M:%S"
    got = udp_request(a.udp_time, fmt.encode())
    check("udp strftime matches the host clock (UTC)", got is not None and host_tm_close(got, fmt),
          f"{got!r} vs host {time.strftime(fmt, time.gmtime())}")
    got = udp_request(a.udp_time, b"")
    check("udp strftime: empty datagram uses %Y-%m-%d %X",
          got is not None and host_tm_close(got, "%Y-%m-%d %X"), repr(got))
    got = udp_request(a.udp_time, b"%A %d %B %Y %j %T %%")
    check("udp strftime: %A %d %B %Y %j %T and a literal %",
          got is not None and host_tm_close(got, "%A %d %B %Y %j %T %%"), repr(got))

    with socket.create_connection((HOST, a.tcp_time), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        raw = recv_exactly(s, 4)
        tail = s.recv(4)
    ok = len(raw) == 4 and tail == b""
    if ok:
        unix = struct.unpack("!I", raw)[0] - RFC868_EPOCH_OFFSET
        ok = abs(unix - time.time()) <= CLOCK_TOLERANCE_S
    check("rfc868 tcp/37: 4 bytes near the host clock, then close", ok, repr((raw, tail)))


def check_bad_input(a):
    for name, fmt in [("NUL byte", b"%Y\x00"), ("invalid UTF-8", b"%Y \xff\xfe"),
                      ("result too long", b"%A" * 400)]:
        got = udp_request(a.udp_time, fmt)
        check(f"udp strftime: bad format ({name}) gets an error text",
              got is not None and got.startswith(b"error: "), repr(got)[:80])

    # Over one frame: slirp fragments it, the firmware does not reassemble.
    got = udp_request(a.udp_echo, os.urandom(4000), timeout=2.0)
    check("udp echo: oversized (fragmented) datagram dropped", got is None, repr(got)[:40])
    got = udp_request(a.udp_time, b"%Y" * 1000, timeout=2.0)
    check("udp strftime: oversized format datagram dropped", got is None, repr(got)[:40])

    junk = bytes(range(256)) * 16
    got, _ = tcp_echo(a.tcp_echo, junk)
    check("tcp echo: every byte value (4 KiB binary)", got == junk.upper())

    # Hold every slot with an idle client; one more gets no service.
    holders = []
    try:
        for _ in range(SLOTS):
            holder = hold_slot(a.tcp_echo)
            if holder is not None:
                holders.append(holder)
        held = len(holders) == SLOTS
        extra_served = True
        try:
            with socket.create_connection((HOST, a.tcp_echo), timeout=TIMEOUT) as s:
                s.settimeout(TIMEOUT)
                s.sendall(b"y")
                extra_served = s.recv(1) == b"Y"
        except OSError:
            extra_served = False  # reset: what smoltcp does without a slot
        check(f"tcp echo: client beyond {SLOTS} slots refused while all are held",
              held and not extra_served, f"held={held} extra_served={extra_served}")
    finally:
        for s in holders:
            s.close()

    check("tcp echo still works after the bad input", echo_works(a.tcp_echo))
    got = udp_request(a.udp_echo, b"udp still alive")
    check("udp echo still works after the bad input", got == b"UDP STILL ALIVE", repr(got))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    # A board on the lab network instead of QEMU's forwards (README.md,
    # "Hardware in the loop").
    p.add_argument("--host", default="127.0.0.1")
    for name in ["tcp-echo", "udp-echo", "udp-time", "tcp-time"]:
        p.add_argument(f"--{name}", type=int, required=True)
    a = p.parse_args()
    global HOST
    HOST = a.host

    booted = wait_for_log(a.log, r"wirekit-fw: up", 30)
    check("firmware booted (semihosting log)", booted)
    synced = booted and wait_for_log(a.log, r"clock synced: unix \d+", 30)
    check("clock synced from the host's RFC 868 server", synced)
    if booted:
        for part in (check_tcp_echo, check_udp_echo, check_time, check_bad_input):
            try:
                part(a)
            except OSError as e:
                check(part.__name__, False, f"{type(e).__name__}: {e}")
    print(f"qemu_check: {len(passes)} passed, {len(failures)} failed", flush=True)
    sys.exit(1 if failures or not booted else 0)


if __name__ == "__main__":
    main()
