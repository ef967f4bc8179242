# Seed 002, "udp套接字简单示例" server: the UDP upper-echo on port 8181, as
# the seed writes it (print per datagram included). Changes from the seed:
# address and port come from argv, and the real port is announced as
# wirekit does.
# usage: seed002_udp_echo_server.py HOST PORT
import sys
from socket import *
server = socket(AF_INET, SOCK_DGRAM)
server.bind((sys.argv[1], int(sys.argv[2])))
print('listening udp-echo udp %s:%d' % server.getsockname()[:2], flush=True)
while True:
    data, client_addr = server.recvfrom(1024)
    print(data, client_addr)
    server.sendto(data.upper(), client_addr)
