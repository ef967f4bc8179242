# Seed 001, "一般方法解决粘包问题" client: reads the 4-byte length, then
# receives until that many bytes arrived, printing each read (GBK-decoded).
# Changes from the seed: address and port from argv; commands come from
# stdin lines instead of input(), and the client exits at EOF.
# usage: seed001_exec_len_client.py HOST PORT < commands
import socket
import struct
import sys
'''
1.先拿到服务端传输过来的数据大小
2.做一个循环接收数据
'''

client = socket.socket(socket.AF_INET,socket.SOCK_STREAM)
client.connect((sys.argv[1], int(sys.argv[2])))
for line in sys.stdin:
    cmd = line.strip()
    if len(cmd) == 0:continue
    client.send(cmd.encode('utf-8'))

    # 解决粘包问题思路
    # 一、先固定长度的头:解析出数据的描述信息,包括数据的总大小total
    header = client.recv(4)
    total_size = struct.unpack('i',header)[0]

    # 二、根据解析出的描述信息,接受真实的数据
    # recv_size=0,循环接收,每接受一次,recv_size+=接收长度
    # 直到recv_size=total_size,结束循环
    recv_size = 0
    while recv_size < total_size:
        recv_data = client.recv(1024)
        recv_size += len(recv_data)
        print(recv_data.decode('gbk'),end='')
    else:
        print()
