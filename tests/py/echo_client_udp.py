# Seed 002: the ThreadingUDPServer upper-echo client.
# Changes from the seed: address and port come from argv, and input()
# is replaced by reading stdin lines so tests can script it; exits at EOF.
import sys
from socket import *

ip_port = (sys.argv[1], int(sys.argv[2]))
client = socket(AF_INET6 if ':' in ip_port[0] else AF_INET, SOCK_DGRAM)
client.settimeout(10)  # a lost datagram fails the test instead of hanging it
for line in sys.stdin:
    msg = line.strip()
    if len(msg) == 0: continue
    client.sendto(msg.encode('utf-8'), ip_port)
    data, client_addr = client.recvfrom(1024)
    print(data.decode('utf-8'))
client.close()
