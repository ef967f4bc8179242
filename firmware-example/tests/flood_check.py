#!/usr/bin/env python3
"""SYN flood and malformed frames against the firmware's emulated NIC, while
a genuine client keeps using TCP echo (started by scripts/firmware-test).

QEMU's user-mode network (slirp) completes TCP handshakes itself, so forged
SYNs never reach the guest through it. Here QEMU runs with
`-nic socket,udp=127.0.0.1:OURS,localaddr=127.0.0.1:QEMU`: every UDP
datagram between the two ports is one raw Ethernet frame on the guest's
LAN9118. This script is the whole network on the other end of that cable:

- it answers ARP for 10.0.2.2 (the guest's gateway), 10.0.2.20 (the
  genuine client) and 10.0.2.100 (the time server the guest tries to sync
  from; its SYNs go unanswered), never for the forged sources;
- the genuine client at 10.0.2.20 is a minimal userspace TCP (handshake,
  one echo request, FIN), with SYN retransmission after 1 s and 2 s like a
  real stack; an attempt succeeds if its echo comes back upper-cased;
- the flood thread sends, for FLOOD_S seconds, bursts of SYNs from forged
  sources (198.51.100.0/24, answered through the gateway, where nobody
  completes the handshake) and unused on-link addresses (10.0.2.128-254,
  whose ARP nobody answers) to TCP 7 and 37, and malformed frames: runts,
  bad IPv4 and TCP checksums, bad header lengths, odd TCP flags, IPv4
  fragments.

Prints what it measured and exits non-zero if fewer than MIN_SUCCESS of the
genuine attempts succeeded. Only 127.0.0.1 is contacted.

Also, with --log, compares the firmware's `uptime N ms` log lines with the
host's clock over the flood (the firmware clock is a free-running counter,
which must not drift as counted SysTick interrupts did).

With --service chat (the `framed` image) the genuine client joins the chat
room on TCP 9999 instead (an attempt succeeds when the room's join notice
comes back) and the forged SYNs go to the chat seats and the files slot
(TCP 9999 and 8484).

    flood_check.py --port OURS --qemu-port QEMU [--seconds 30] [--log FIRMWARE_LOG]
                   [--service echo|chat]
"""
import argparse
import random
import re
import socket
import struct
import sys
import threading
import time

GUEST_MAC = bytes.fromhex("525400123456")
GUEST_IP = bytes([10, 0, 2, 15])
OUR_MAC = bytes.fromhex("525500000202")  # gateway and client alike
GATEWAY_IP = bytes([10, 0, 2, 2])
CLIENT_IP = bytes([10, 0, 2, 20])
TIME_SERVER_IP = bytes([10, 0, 2, 100])  # answers ARP, never the SYN
ECHO_PORT, RFC868_PORT = 7, 37
FILES_PORT, CHAT_PORT = 8484, 9999
MIN_SUCCESS = 0.95
# Counting SysTick interrupts lost ~8 % under QEMU; a free-running counter
# should agree with the host within the log's timing noise.
CLOCK_MAX_DRIFT = 0.02
SYN_RETRIES_S = (1.0, 2.0)  # waits before each SYN retransmission, then give up
REPLY_TIMEOUT_S = 3.0


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, payload, ethertype=0x0800, src=OUR_MAC):
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident=0, frag=0, ihl=5, total=None, bad_sum=False):
    total = 20 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, frag, 64, proto, 0, src, dst)
    s = csum(hdr) ^ (0x5A5A if bad_sum else 0)
    return hdr[:10] + struct.pack("!H", s) + hdr[12:] + payload


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", bad_sum=False, doff=5):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 8192, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    s = csum(pseudo + hdr + payload) ^ (0x1234 if bad_sum else 0)
    return hdr[:16] + struct.pack("!H", s) + hdr[18:] + payload


FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32


class Wire:
    """The UDP socket that is QEMU's Ethernet cable, plus frame dispatch."""

    def __init__(self, port, qemu_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.peer = ("127.0.0.1", qemu_port)
        self.lock = threading.Lock()
        self.segments = {}  # client port -> list of (flags, seq, ack, payload)
        self.cond = threading.Condition()
        self.guest_seen = threading.Event()
        self.stop = False
        self.frames_in = 0

    def send(self, frame):
        with self.lock:
            self.sock.sendto(frame, self.peer)

    def run(self):
        while not self.stop:
            try:
                frame = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.frames_in += 1
            self.dispatch(frame)

    def dispatch(self, frame):
        if len(frame) < 14:
            return
        etype = struct.unpack("!H", frame[12:14])[0]
        if etype == 0x0806 and len(frame) >= 42:
            op, sha, spa, tpa = struct.unpack("!H", frame[20:22])[0], frame[22:28], frame[28:32], frame[38:42]
            if spa == GUEST_IP:
                self.guest_seen.set()
            if op == 1 and tpa in (GATEWAY_IP, CLIENT_IP, TIME_SERVER_IP):
                reply = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + OUR_MAC + tpa + sha + spa
                self.send(eth(sha, reply, 0x0806))
        elif etype == 0x0800 and len(frame) >= 34 + 20:
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            if ip[9] != 6 or ip[16:20] != CLIENT_IP:
                return  # SYN-ACKs to forged sources, the sync client's SYNs
            seg = ip[ihl:struct.unpack("!H", ip[2:4])[0]]
            sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", seg[:14])
            with self.cond:
                self.segments.setdefault(dport, []).append(
                    (sport, flags, seq, ack, seg[(off >> 4) * 4:]))
                self.cond.notify_all()

    def wait_segment(self, port, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                q = self.segments.get(port)
                if q:
                    return q.pop(0)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


def client_segment(port, seq, ack, flags, payload=b"", dport=ECHO_PORT):
    return eth(GUEST_MAC, ipv4(CLIENT_IP, GUEST_IP, 6,
                               tcp(CLIENT_IP, GUEST_IP, port, dport, seq, ack, flags, payload)))


def handshake(wire, port, dport):
    """SYN (retransmitted like a real stack) until the SYN-ACK; returns
    (our next seq, their next seq) or the reason it failed."""
    seq = random.getrandbits(32)
    synack = None
    for wait in SYN_RETRIES_S + (REPLY_TIMEOUT_S,):
        wire.send(client_segment(port, seq, 0, SYN, dport=dport))
        deadline = time.monotonic() + wait
        while synack is None and time.monotonic() < deadline:
            seg = wire.wait_segment(port, deadline - time.monotonic())
            if seg and seg[1] & RST:
                return "reset"
            if seg and seg[1] & (SYN | ACK) == SYN | ACK and seg[3] == (seq + 1) & 0xFFFFFFFF:
                synack = seg
        if synack:
            break
    if synack is None:
        return "no SYN-ACK"
    return (seq + 1) & 0xFFFFFFFF, (synack[2] + 1) & 0xFFFFFFFF


def close(wire, port, seq, rcv, dport):
    """Our FIN, then ACK the guest's."""
    wire.send(client_segment(port, seq, rcv, FIN | ACK, dport=dport))
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while time.monotonic() < deadline:
        seg = wire.wait_segment(port, deadline - time.monotonic())
        if seg and seg[1] & FIN:
            ack = (seg[2] + len(seg[4]) + 1) & 0xFFFFFFFF
            wire.send(client_segment(port, (seq + 1) & 0xFFFFFFFF, ack, ACK, dport=dport))
            break


def receive(wire, port, seq, rcv, dport, enough, missing):
    """Reads the guest's data (ACKing each segment, our next seq `seq`)
    until `enough(got)`; returns (got, rcv) or the reason it failed."""
    got = b""
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while not enough(got):
        seg = wire.wait_segment(port, deadline - time.monotonic())
        if seg is None:
            return missing
        if seg[1] & RST:
            return "reset after handshake"
        if seg[4] and seg[2] == rcv:
            got += seg[4]
            rcv = (rcv + len(seg[4])) & 0xFFFFFFFF
            wire.send(client_segment(port, seq, rcv, ACK, dport=dport))
    return got, rcv


def attempt_chat(wire, port, _text):
    """One genuine chat member: handshake, the room's join notice, close.
    Returns None on success or the reason it failed."""
    hs = handshake(wire, port, CHAT_PORT)
    if isinstance(hs, str):
        return hs
    seq, rcv = hs
    wire.send(client_segment(port, seq, rcv, ACK, dport=CHAT_PORT))
    r = receive(wire, port, seq, rcv, CHAT_PORT, lambda got: b"joined" in got, "no join notice")
    if isinstance(r, str):
        return r
    got, rcv = r
    if b"busy" in got:
        return "room full"
    close(wire, port, seq, rcv, CHAT_PORT)
    return None


def attempt(wire, port, text):
    """One genuine connection: handshake, one echo, close. Returns None on
    success or the reason it failed."""
    hs = handshake(wire, port, ECHO_PORT)
    if isinstance(hs, str):
        return hs
    seq, rcv = hs
    wire.send(client_segment(port, seq, rcv, ACK | PSH, text))
    seq = (seq + len(text)) & 0xFFFFFFFF
    r = receive(wire, port, seq, rcv, ECHO_PORT, lambda got: len(got) >= len(text), "no echo")
    if isinstance(r, str):
        return r
    got, rcv = r
    if got != text.upper():
        return f"wrong echo {got!r}"
    close(wire, port, seq, rcv, ECHO_PORT)
    return None  # the echo came back: the client was served


def forged_src():
    """Half off the subnet (answered through the gateway), half unused
    on-link addresses nobody answers ARP for."""
    if random.random() < 0.5:
        return bytes([198, 51, 100, random.randrange(1, 255)]), random.randrange(1024, 65535)
    return bytes([10, 0, 2, random.randrange(128, 255)]), random.randrange(1024, 65535)


def forged_syn(dport, **kw):
    src, sport = forged_src()
    return eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, tcp(src, GUEST_IP, sport, dport,
                                                       random.getrandbits(32), 0, SYN, **kw)))


def malformed():
    """One of each kind of bad frame, freshly randomised."""
    src, sport = forged_src()
    seg = tcp(src, GUEST_IP, sport, ECHO_PORT, random.getrandbits(32), 0, SYN)
    good_ip = ipv4(src, GUEST_IP, 6, seg)

    def flags(f):
        return eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, tcp(src, GUEST_IP, sport, ECHO_PORT,
                                                          random.getrandbits(32), random.getrandbits(32), f)))

    return {
        # (No 0-byte frame: QEMU's socket backend takes an empty datagram
        # for a closed connection and stops reading; no wire carries one.)
        "runt: 1 byte": b"\x01",
        "runt: 5 bytes": bytes(5),
        "runt: header only": eth(GUEST_MAC, b""),
        "runt: IPv4 cut at 10 bytes": eth(GUEST_MAC, good_ip[:10]),
        "runt: TCP cut at 8 bytes": eth(GUEST_MAC, good_ip[:28]),
        "bad IPv4 checksum": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg, bad_sum=True)),
        "bad TCP checksum": forged_syn(ECHO_PORT, bad_sum=True),
        "IPv4 IHL 4": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg, ihl=4)),
        "IPv4 IHL 15 (past the packet)": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg[:20], ihl=15)),
        "IPv4 total length past the frame": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg, total=1400)),
        "IPv4 total length below the header": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg, total=12)),
        "TCP data offset 2": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, tcp(src, GUEST_IP, sport, ECHO_PORT, 1, 0, SYN, doff=2))),
        "TCP data offset 15 (past the segment)": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, tcp(src, GUEST_IP, sport, ECHO_PORT, 1, 0, SYN, doff=15))),
        "flags SYN+FIN": flags(SYN | FIN),
        "flags SYN+RST": flags(SYN | RST),
        "flags all (xmas)": flags(0x3F),
        "flags none": flags(0),
        "flags FIN alone": flags(FIN),
        "flags ACK to a listener": flags(ACK),
        "fragment: SYN, more fragments": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg, frag=0x2000)),
        "fragment: offset 8": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg, frag=1)),
        "fragment: offset 8, overlapping the header": eth(GUEST_MAC, ipv4(src, GUEST_IP, 6, seg[4:], frag=0x2000 | 0)),
        "unknown ethertype": eth(GUEST_MAC, bytes(46), 0x88B5),
        "ARP with bad lengths": eth(b"\xff" * 6, struct.pack("!HHBBH", 1, 0x0800, 9, 3, 1) + bytes(20), 0x0806),
        "UDP length past the datagram": eth(GUEST_MAC, ipv4(src, GUEST_IP, 17, struct.pack("!HHHH", sport, 7, 900, 0) + b"x")),
        "oversized frame (1600 bytes)": eth(GUEST_MAC, ipv4(src, GUEST_IP, 17, struct.pack("!HHHH", sport, 7, 1574, 0) + bytes(1566))),
    }


def flood(wire, seconds, counts, ports):
    end = time.monotonic() + seconds
    while time.monotonic() < end and not wire.stop:
        # A burst every 100 ms: 6 forged SYNs (echo: 4 to echo, 2 to RFC
        # 868; chat: 4 to the chat seats, 2 to the files slot), as many as
        # there are slots and more, and every kind of malformed frame.
        for port in ports:
            wire.send(forged_syn(port))
            counts["forged SYNs"] += 1
        for kind, frame in malformed().items():
            wire.send(frame)
            counts[kind] = counts.get(kind, 0) + 1
        time.sleep(0.1)


class UptimeWatch:
    """Tails the firmware log for `uptime N ms` lines and notes the host's
    monotonic clock when each first appears, so the firmware's clock can be
    compared with the host's over the flood (lines come every 5 s; polling
    every 20 ms bounds the error per reading)."""

    def __init__(self, path):
        self.path, self.seen, self.stop = path, [], False

    def run(self):
        done = set()
        while not self.stop:
            try:
                with open(self.path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            now = time.monotonic()
            for m in re.finditer(r"wirekit-fw: uptime (\d+) ms", text):
                ms = int(m.group(1))
                if ms not in done:
                    done.add(ms)
                    self.seen.append((now, ms))
            time.sleep(0.02)

    def ratio(self):
        """Firmware ms per host ms between the first and last new lines
        seen while watching (the first one is skipped: it may be old)."""
        fresh = self.seen[1:]
        if len(fresh) < 2:
            return None, 0
        (h0, f0), (h1, f1) = fresh[0], fresh[-1]
        return (f1 - f0) / ((h1 - h0) * 1000), h1 - h0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--qemu-port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--log", help="firmware log: compare its uptime lines with the host clock")
    ap.add_argument("--service", choices=("echo", "chat"), default="echo",
                    help="what the genuine client uses (chat: the framed image)")
    args = ap.parse_args()
    if args.service == "chat":
        attempt_fn, ports = attempt_chat, (CHAT_PORT,) * 4 + (FILES_PORT,) * 2
    else:
        attempt_fn, ports = attempt, (ECHO_PORT,) * 4 + (RFC868_PORT,) * 2
    watch = UptimeWatch(args.log) if args.log else None
    if watch:
        threading.Thread(target=watch.run, daemon=True).start()
    wire = Wire(args.port, args.qemu_port)
    threading.Thread(target=wire.run, daemon=True).start()

    # Wait for the guest: ask for its MAC until it answers (boot takes ~1 s).
    who_has = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + OUR_MAC + CLIENT_IP + bytes(6) + GUEST_IP
    for _ in range(100):
        wire.send(eth(b"\xff" * 6, who_has, 0x0806))
        if wire.guest_seen.wait(0.2):
            break
    else:
        print("FAIL: flood: the guest never answered ARP")
        return 1
    if attempt_fn(wire, 40000, b"before the flood\n") is not None:
        print("FAIL: flood: the genuine client is not served even before the flood")
        return 1

    counts = {"forged SYNs": 0}
    flooder = threading.Thread(target=flood, args=(wire, args.seconds, counts, ports),
                               daemon=True)
    started = time.monotonic()
    flooder.start()
    results, n = [], 0
    while flooder.is_alive() and n < 1000:
        n += 1
        port = 40001 + n
        t0 = time.monotonic()
        why = attempt_fn(wire, port, f"genuine client attempt {n}\n".encode())
        results.append((why, time.monotonic() - t0))
        time.sleep(0.05)
    flooder.join()
    elapsed = time.monotonic() - started
    after = attempt_fn(wire, 41999, b"after the flood\n")
    wire.stop = True
    if watch:
        watch.stop = True

    ok = [t for why, t in results if why is None]
    failed = {}
    for why, _ in results:
        if why is not None:
            failed[why] = failed.get(why, 0) + 1
    rate = len(ok) / max(1, len(results))
    malformed_sent = sum(v for k, v in counts.items() if k != "forged SYNs")
    print(f"flood: {elapsed:.1f} s; sent {counts['forged SYNs']} forged SYNs "
          f"and {malformed_sent} malformed frames ({len(counts) - 1} kinds); "
          f"received {wire.frames_in} frames from the guest")
    print(f"flood: genuine client: {len(ok)}/{len(results)} attempts served ({rate:.1%})"
          + (f", failures: {failed}" if failed else "")
          + (f"; connect+echo time median {sorted(ok)[len(ok) // 2] * 1000:.0f} ms,"
             f" max {max(ok) * 1000:.0f} ms" if ok else ""))
    status = 0
    if len(results) >= 20 and rate >= MIN_SUCCESS:
        print(f"PASS: flood: genuine client served in {rate:.1%} of attempts (>= {MIN_SUCCESS:.0%})")
    else:
        print(f"FAIL: flood: genuine client served in {rate:.1%} of {len(results)} attempts "
              f"(need >= {MIN_SUCCESS:.0%} of at least 20)")
        status = 1
    if watch:
        ratio, span = watch.ratio()
        if ratio is None:
            print("FAIL: clock: fewer than 3 uptime lines in the firmware log")
            status = 1
        elif abs(ratio - 1) <= CLOCK_MAX_DRIFT:
            print(f"PASS: clock: firmware ran {ratio:.4f} ms per host ms over {span:.1f} s"
                  f" of flood (within {CLOCK_MAX_DRIFT:.0%})")
        else:
            print(f"FAIL: clock: firmware ran {ratio:.4f} ms per host ms over {span:.1f} s"
                  f" (more than {CLOCK_MAX_DRIFT:.0%} off)")
            status = 1
    if after is None:
        print("PASS: flood: the genuine client is served after the flood")
    else:
        print(f"FAIL: flood: the genuine client is not served after the flood ({after})")
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
