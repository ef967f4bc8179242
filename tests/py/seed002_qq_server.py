# Seed 002, "qq聊天" UDP server: prints each incoming message with the
# sender's address and answers the sender with the next typed line.
# Changes from the seed: address and port from argv (port 0 = any free
# port, announced as "listening PORT" on stdout so a test can find it);
# replies come from stdin lines instead of input('回复消息: '), and the
# server exits at EOF.
# usage: seed002_qq_server.py HOST PORT < replies
import socket
import sys

ip_port=(sys.argv[1], int(sys.argv[2]))
udp_server_sock=socket.socket(socket.AF_INET,socket.SOCK_DGRAM) #买手机
udp_server_sock.bind(ip_port)
print('listening', udp_server_sock.getsockname()[1], flush=True)

while True:
    qq_msg,addr=udp_server_sock.recvfrom(1024)
    print('来自[%s:%s]的一条消息:\033[1;44m%s\033[0m' %(addr[0],addr[1],qq_msg.decode('utf-8')), flush=True)
    line=sys.stdin.readline()
    if not line:
        break
    back_msg=line.strip()
    udp_server_sock.sendto(back_msg.encode('utf-8'),addr)
