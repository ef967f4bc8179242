#!/usr/bin/env python3
"""Host-side checks of the `framed` image's services (files, chat) in QEMU,
through run-qemu's forwards on 127.0.0.1, with the workspace's own clients:

- files: `wirekit ls` lists every flash file; `wirekit get` fetches each one
  (it verifies the md5 trailer itself) and the bytes and md5 equal the
  source files; `wirekit put` is refused with "read-only";
- chat: the seed 003 Python client and `wirekit chat` exchange lines through
  the board, four members fill the room, a fifth `wirekit chat` is refused
  as busy, leaving is announced.

usage: framed_check.py --wirekit BIN --seed-client PY --files-dir DIR
                       --files PORT --chat PORT --log QEMU_LOG [--host H]
"""
import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

failures = []


def check(ok, what):
    print(("PASS: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


class Proc:
    """A child process whose stdout and stderr are collected as they come."""

    def __init__(self, name, argv):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.out, self.err = bytearray(), bytearray()
        for stream, buf in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=self._collect, args=(stream, buf), daemon=True).start()

    @staticmethod
    def _collect(stream, buf):
        for chunk in iter(lambda: stream.read1(4096), b""):
            buf.extend(chunk)

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def wait_for(self, text, where="out", timeout=15.0):
        buf = self.out if where == "out" else self.err
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text.encode() in bytes(buf):
                return True
            time.sleep(0.05)
        print(f"  {self.name} {where} so far: {bytes(buf)[-600:]!r}")
        return False

    def finish(self, timeout=10.0):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


def run(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, timeout=timeout)


def files(args):
    addr = f"{args.host}:{args.files}"
    names = sorted(os.listdir(args.files_dir))
    ls = run([args.wirekit, "ls", addr])
    listing = ls.stdout.decode(errors="replace")
    print(listing, end="")
    for name in names:
        size = os.path.getsize(os.path.join(args.files_dir, name))
        check(ls.returncode == 0 and f"{size} {name}" in listing,
              f"wirekit ls lists {name} ({size} bytes)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            src = open(os.path.join(args.files_dir, name), "rb").read()
            want = hashlib.md5(src).hexdigest()
            got = run([args.wirekit, "get", addr, name, "-o", tmp + "/"])
            data = open(os.path.join(tmp, name), "rb").read() if got.returncode == 0 else b""
            said = got.stdout.decode(errors="replace").split(" ")[0]
            ok = got.returncode == 0 and data == src and said == want
            check(ok, f"wirekit get {name}: {len(data)} bytes, md5 {said} verified "
                  f"(source {want})")
            if not ok:
                print("  " + got.stderr.decode(errors="replace").strip())
        put = run([args.wirekit, "put", addr, os.path.join(args.files_dir, names[0]), "new.txt"])
        err = put.stderr.decode(errors="replace").strip()
        check(put.returncode != 0 and "read-only" in err, f"wirekit put refused: {err}")


def chat(args):
    addr = f"{args.host}:{args.chat}"
    wk = Proc("wirekit chat", [args.wirekit, "chat", addr, "--name", "wk"])
    check(wk.wait_for("is now wk"), "wirekit chat joined and took a nickname")
    seed = Proc("seed client", [sys.executable, args.seed_client, args.host, str(args.chat)])
    check(wk.wait_for("\nI'm ready.\n\n"), "wirekit chat got the seed client's first line")
    wk.send("hello from wirekit\n")
    check(seed.wait_for("hello from wirekit", where="err"),
          "the seed 003 client got wirekit chat's line")
    seed.send("hello from the seed client\n")
    check(wk.wait_for("\nhello from the seed client\n\n"),
          "wirekit chat got the seed client's line")
    extra = [socket.create_connection((args.host, args.chat), timeout=10) for _ in range(2)]
    check(wk.wait_for("joined (4 online)"), "four members in the room")
    fifth = run([args.wirekit, "chat", addr], timeout=30)
    err = fifth.stderr.decode(errors="replace").strip()
    check(fifth.returncode != 0 and "busy" in err, f"a fifth client is refused: {err}")
    # The spare socket listens again once the fifth is gone: its FIN
    # exchange has to finish first, so allow it a few seconds (a connection
    # that arrives before is accepted by QEMU's user network and then
    # closed without a line, since nothing in the guest listens).
    line, tries = b"", 0
    while line == b"" and tries < 10:
        tries += 1
        time.sleep(0.5)
        try:
            with socket.create_connection((args.host, args.chat), timeout=10) as raw:
                line = raw.recv(100)
        except OSError:
            line = b""
    check(line == b"error: server busy, too many connections\r\n",
          f"the refusal line: {line!r} (connection {tries})")
    for s in extra:
        s.close()
    seed.send("quit\n")
    seed_rc = seed.finish()
    check(seed_rc == 0, f"the seed client quit (exit {seed_rc})")
    check(wk.wait_for(" left\n\n"), "leaving is announced")
    wk_rc = wk.finish()
    check(wk_rc == 0, f"wirekit chat left at end of input (exit {wk_rc})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wirekit", required=True)
    ap.add_argument("--seed-client", required=True)
    ap.add_argument("--files-dir", required=True)
    ap.add_argument("--files", type=int, required=True)
    ap.add_argument("--chat", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    # slirp's forwards accept before the board is up: wait for its address
    # and the framed services' line in the log.
    end = time.monotonic() + 60
    log = ""
    while time.monotonic() < end:
        log = open(args.log, errors="replace").read()
        if "wirekit-fw: framed:" in log and "address from" in log:
            break
        time.sleep(0.2)
    check("wirekit-fw: framed:" in log, "the framed image is up with files and chat")
    files(args)
    chat(args)
    if failures:
        print(f"framed_check: {len(failures)} check(s) failed")
        sys.exit(1)
    print("framed_check: all checks passed")


if __name__ == "__main__":
    main()
