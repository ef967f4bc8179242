# Seed 002, "时间服务器": the UDP time server exactly as the seed writes it,
# print('===>', msg) per datagram included. Changes from the seed: address
# and port come from argv, and the real port is announced as wirekit does.
# docs/BENCHMARKS.md measures against tests/py/time_server_udp.py, the
# same server without the print (faster, so the stricter baseline); this
# copy shows what a user running the seed as written gets.
# usage: seed002_time_server.py HOST PORT
import sys
from socket import *
from time import strftime
ip_port=(sys.argv[1],int(sys.argv[2]))
bufsize=1024
tcp_server=socket(AF_INET,SOCK_DGRAM)
tcp_server.bind(ip_port)
print('listening time udp %s:%d' % tcp_server.getsockname()[:2], flush=True)
while True:
    msg,addr=tcp_server.recvfrom(bufsize)
    print('===>',msg)
    if not msg:
        time_fmt='%Y-%m-%d %X'
    else:
        time_fmt=msg.decode('utf-8')
    back_msg=strftime(time_fmt)
    tcp_server.sendto(back_msg.encode('utf-8'),addr)
tcp_server.close()
