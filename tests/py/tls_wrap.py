# Runs a seed program unchanged over TLS, the way a user would wrap an old
# client with Python's ssl module: every socket it makes is an SSLSocket
# (TLS 1.2 or 1.3), and after the handshake the server's certificate must
# have the SHA-256 fingerprint given in WIREKIT_TLS_PIN (hex, as `wirekit
# serve` prints it after `sha256:`), so no CA is needed for a self-signed
# server and a wrong certificate is refused.
#
# usage: WIREKIT_TLS_PIN=HEX tls_wrap.py SCRIPT ARGS...
import hashlib
import os
import runpy
import socket
import ssl
import sys

PIN = os.environ["WIREKIT_TLS_PIN"].lower().replace(":", "").removeprefix("sha256")

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the pin below is the check
ctx.minimum_version = ssl.TLSVersion.TLSv1_2


class PinnedSocket(ssl.SSLSocket):
    def connect(self, addr):
        super().connect(addr)
        der = self.getpeercert(binary_form=True)
        if hashlib.sha256(der).hexdigest() != PIN:
            self.close()
            raise ssl.SSLError("certificate does not match WIREKIT_TLS_PIN")


ctx.sslsocket_class = PinnedSocket
plain_socket = socket.socket


def tls_socket(*args, **kwargs):
    return ctx.wrap_socket(plain_socket(*args, **kwargs))


socket.socket = tls_socket
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
