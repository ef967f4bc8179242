# Seed 004's FTP get server. The seed (004_925dedee290250b8.txt) shows only
# the client and lists the server's steps: read the file name, check the
# file exists, open it, send its size, wait for the client's ack, send the
# file, send the md5. This follows those steps in the style of the seed's
# ssh server just above it (single client at a time, `recv(1024)`), and
# keeps the flaw the seed lists as problem 1: a missing file gets no answer,
# so the client hangs. For scripted tests: HOST PORT ROOT from argv (PORT 0
# picks a free port), works inside ROOT, prints
# "listening seed004 tcp HOST:PORT" once bound, and serves clients one
# after another.
import socket,os,hashlib
import sys

HOST, PORT, ROOT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.chdir(ROOT)

server = socket.socket()
server.bind((HOST, PORT))
server.listen()
print('listening seed004 tcp %s:%d' % server.getsockname()[:2], flush=True)
while True:
    conn, addr = server.accept()
    while True:
        data = conn.recv(1024)
        if not data:
            print("client lost!")
            break
        print("cmd:",data)
        cmd, filename = data.decode().split()
        if os.path.isfile(filename):
            f = open(filename, "rb")
            m = hashlib.md5()
            file_size = os.stat(filename).st_size
            conn.send(str(file_size).encode())     #发送文件大小
            client_ack = conn.recv(1024)           #等待客户端确认
            for line in f:
                m.update(line)
                conn.send(line)
            print("file md5", m.hexdigest())
            f.close()
            conn.send(m.hexdigest().encode())      #发送md5
    conn.close()
