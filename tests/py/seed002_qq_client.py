# Seed 002, "qq聊天" UDP client: choose a contact from the contact book,
# then send typed lines to it, waiting for one reply after each; "quit"
# goes back to choosing a contact.
# Changes from the seed: the contact book comes from argv as NAME=HOST:PORT
# (the seed hard-codes four names, all at 127.0.0.1:8081); contact names
# and messages come from stdin lines instead of input(), and the client
# exits at EOF.
# usage: seed002_qq_client.py NAME=HOST:PORT... < lines
import socket
import sys

BUFSIZE=1024
udp_client_socket=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
qq_name_dic={}
for arg in sys.argv[1:]:
    name, _, addr = arg.partition('=')
    host, _, port = addr.rpartition(':')
    qq_name_dic[name] = (host, int(port))


def read_line():
    line = sys.stdin.readline()
    if not line:
        udp_client_socket.close()
        sys.exit(0)
    return line


while True:
    qq_name=read_line().strip()
    while True:
        msg=read_line().strip()
        if msg == 'quit':break
        if not msg or not qq_name or qq_name not in qq_name_dic:continue
        udp_client_socket.sendto(msg.encode('utf-8'),qq_name_dic[qq_name])
        back_msg,addr=udp_client_socket.recvfrom(BUFSIZE)
        print('来自[%s:%s]的一条消息:\033[1;44m%s\033[0m' %(addr[0],addr[1],back_msg.decode('utf-8')), flush=True)
