#!/usr/bin/env python3
"""A minimal RFC 868 time server over TCP for the firmware tests: every
connection gets the host clock as 4 big-endian bytes (seconds since
1900-01-01) and is closed. Binds 127.0.0.1 only; prints the chosen port.

    rfc868_server.py [PORT]     (0 or absent: pick a free port)
"""
import socket
import struct
import sys
import time

RFC868_EPOCH_OFFSET = 2_208_988_800


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print(f"listening rfc868 tcp 127.0.0.1:{srv.getsockname()[1]}", flush=True)
    while True:
        conn, _ = srv.accept()
        with conn:
            secs = (int(time.time()) + RFC868_EPOCH_OFFSET) & 0xFFFFFFFF
            conn.sendall(struct.pack("!I", secs))


if __name__ == "__main__":
    main()
