# Seed 001, 6.6.1: the ThreadingTCPServer upper-echo client.
# Changes from the seed: address and port come from argv, and input()
# is replaced by reading stdin lines so tests can script it; exits at EOF.
import sys
from socket import *

ip_port = (sys.argv[1], int(sys.argv[2]))
client = socket(AF_INET6 if ':' in ip_port[0] else AF_INET, SOCK_STREAM)
client.connect(ip_port)

for line in sys.stdin:
    msg = line.strip()
    if len(msg) == 0: continue
    client.send(msg.encode('utf-8'))

    res = client.recv(1024)
    print(res.decode('utf-8'))
client.close()
