# Seed 001, "终极方法解决粘包问题" client: 4-byte header length, JSON header
# (printed), then total_size bytes of output printed per read (GBK-decoded).
# Changes from the seed: address and port from argv; commands come from
# stdin lines instead of input(), and the client exits at EOF.
# usage: seed001_exec_json_client.py HOST PORT < commands
import json
import socket
import struct
import sys

'''
1.先拿到服务端传输过来的数据大小
2.做一个循环接收数据
'''

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((sys.argv[1], int(sys.argv[2])))
for line in sys.stdin:
    cmd = line.strip()
    if len(cmd) == 0: continue
    client.send(cmd.encode('utf-8'))

    # 接收端
    # 1.先收4个字节,从中提取接下来要收的头的长度
    x = client.recv(4)
    header_len = struct.unpack('i', x)[0]

    # 2.接收头,并解析
    json_str_bytes = client.recv(header_len)
    json_str = json_str_bytes.decode('utf-8')
    header_dic = json.loads(json_str)
    print(header_dic)
    total_size = header_dic.get('total_size')

    # 3.接收真实数据
    recv_size = 0
    while recv_size < total_size:
        recv_data = client.recv(1024)
        recv_size += len(recv_data)
        print(recv_data.decode('gbk'), end='')
    else:
        print()
