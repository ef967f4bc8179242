# Seed 002: the UDP time server's client (a datagram is a strftime format).
# Changes from the seed: address and port come from argv, and input() is
# replaced by reading stdin lines so tests can script it; exits at EOF.
import sys
from socket import *

ip_port = (sys.argv[1], int(sys.argv[2]))
bufsize = 1024
tcp_client = socket(AF_INET6 if ':' in ip_port[0] else AF_INET, SOCK_DGRAM)
tcp_client.settimeout(10)  # a lost datagram fails the test instead of hanging it
for line in sys.stdin:
    msg = line.strip()
    tcp_client.sendto(msg.encode('utf-8'), ip_port)
    data = tcp_client.recv(bufsize)
    print(data.decode('utf-8'))
tcp_client.close()
