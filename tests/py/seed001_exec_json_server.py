# Seed 001, "终极方法解决粘包问题" server: remote shell answering
# struct.pack('i', len(json)) + json {"filename","total_size","md5"} +
# stdout + stderr (the md5 is the seed's placeholder, not a digest).
# Changes from the seed: address and port from argv (port 0 = any free port,
# announced as "listening PORT" on stdout so a test can find it).
# usage: seed001_exec_json_server.py HOST PORT
import socket
import struct
import json
import subprocess
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(5)
print('listening', server.getsockname()[1], flush=True)

# 服务端应该做两件事:
# 1.循环地从半连接池中取出连接请求与其立马建立双向连接,拿到连接对象
while True:
    conn, client_addr = server.accept()
    # 2.拿到连接对象,与其进行循环通信
    while True:
        try:
            cmd = conn.recv(1024)
            if len(cmd) == 0: break
            obj = subprocess.Popen(cmd.decode('utf-8'),
                                   shell=True,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE
                                   )

            stdout_res = obj.stdout.read()
            stderr_res = obj.stderr.read()
            total_size = len(stdout_res) + len(stderr_res)

            # 1.制作头部信息
            header_dic = {
                'filename': 'a.txt',
                'total_size': total_size,
                'md5': '12387459560yhsdjsncvnchfuuiokwjdndb'
            }

            json_str = json.dumps(header_dic)
            json_str_bytes = json_str.encode('utf-8')

            # 2.先把头信息的长度发出去
            x = struct.pack('i', len(json_str_bytes))
            conn.send(x)
            # 3.发头信息
            conn.send(json_str_bytes)

            # 4.再发真实数据
            conn.send(stdout_res)
            conn.send(stderr_res)
        except Exception:
            break
    conn.close()
