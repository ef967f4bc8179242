# Seed 001, "一般方法解决粘包问题" server: remote shell answering
# struct.pack('i', len(stdout + stderr)) + stdout + stderr.
# Changes from the seed: address and port from argv (port 0 = any free port,
# announced as "listening PORT" on stdout so a test can find it).
# usage: seed001_exec_len_server.py HOST PORT
import socket
import struct
import subprocess
import sys

server = socket.socket(socket.AF_INET,socket.SOCK_STREAM)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(5)
print('listening', server.getsockname()[1], flush=True)

# 服务端应该做两件事:
# 1.循环地从半连接池中取出连接请求与其立马建立双向连接,拿到连接对象
while True:
    conn,client_addr = server.accept()
    # 2.拿到连接对象,与其进行循环通信
    while True:
        try:
            cmd = conn.recv(1024)
            if len(cmd) == 0:break
            obj = subprocess.Popen(cmd.decode('utf-8'),
                                   shell=True,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE
                                   )
            stdout_res = obj.stdout.read()
            stderr_res = obj.stderr.read()
            total_size = len(stdout_res)+len(stderr_res)
            # 先发头信息(固定能够长度的Bytes):对数据描述信息
            # int-->固定长度的Bytes
            header = struct.pack('i',total_size)
            conn.send(header)

            # 再发真实数据
            conn.send(stdout_res)
            conn.send(stderr_res)
        except Exception:
            break
    conn.close()
