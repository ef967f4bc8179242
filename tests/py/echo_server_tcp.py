# Seed 001, 6.6.1: the socketserver.ThreadingTCPServer upper-echo server,
# the baseline of docs/BENCHMARKS.md. Changes from the seed: address and
# port come from argv, the per-connection prints are gone (they would
# measure the terminal), and the real port is printed as wirekit does.
import socketserver
import sys


class MyRequestHandle(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            try:
                msg = self.request.recv(1024)
                if len(msg) == 0: break
                self.request.send(msg.upper())
            except Exception:
                break
        self.request.close()


socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
s = socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), MyRequestHandle)
print('listening echo tcp %s:%d' % s.server_address[:2], flush=True)
s.serve_forever()
