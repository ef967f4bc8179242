# Seed 002: the UDP time server (datagram = strftime format, empty =
# '%Y-%m-%d %X'), the baseline of docs/BENCHMARKS.md and the reference for
# the strftime table test. Changes from the seed: address and port come
# from argv, the per-datagram print is gone, and the real port is printed
# as wirekit does.
import sys
from socket import *
from time import strftime

ip_port = (sys.argv[1], int(sys.argv[2]))
bufsize = 1024
tcp_server = socket(AF_INET, SOCK_DGRAM)
tcp_server.bind(ip_port)
print('listening time udp %s:%d' % tcp_server.getsockname()[:2], flush=True)
while True:
    msg, addr = tcp_server.recvfrom(bufsize)
    if not msg:
        time_fmt = '%Y-%m-%d %X'
    else:
        time_fmt = msg.decode('utf-8')
    back_msg = strftime(time_fmt)
    tcp_server.sendto(back_msg.encode('utf-8'), addr)
tcp_server.close()
