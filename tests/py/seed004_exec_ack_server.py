# Seed 004, the final "ssh" server: runs the command with os.popen, sends
# the size as text, waits for the client's ack, then sends the output.
# Changes from the seed: address and port from argv (port 0 = any free port,
# announced as "listening PORT" on stdout so a test can find it).
# usage: seed004_exec_ack_server.py HOST PORT
import socket,os,sys
server = socket.socket()
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen()
print('listening', server.getsockname()[1], flush=True)
conn, addr = server.accept()
while True:
    data = conn.recv(1024)
    if not data:
        print("client lost!")
        break
    print("cmd:",data)
    res = os.popen(data.decode()).read()
    data_size = len(res)
    if data_size == 0:
        res = 'cmd has no output'
    print(str(data_size))
    conn.send(str(data_size).encode())
    client_ack = conn.recv(1024)   #等待服务器响应,服务器无响应的话就阻塞在这里
    conn.send(res.encode('GBK'))   #这里在调试时先用的时UTF-8,但出现unicodeDecodeError,
                                    # 改成GBK就好了,问题原因未解
server.close()
