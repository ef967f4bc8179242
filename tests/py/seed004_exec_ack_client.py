# Seed 004, the final "ssh" client: sends the command, reads the size as
# text, acknowledges, then reads until that many characters arrived.
# Changes from the seed: address and port from argv; commands come from
# stdin lines instead of input(), and the client exits at EOF.
# usage: seed004_exec_ack_client.py HOST PORT < commands
import socket,sys
client = socket.socket()
client.connect((sys.argv[1], int(sys.argv[2])))
for line in sys.stdin:
    msg = line.strip()
    if len(msg) == 0:
        continue
    client.send(msg.encode("utf-8"))
    data_size = int(client.recv(1024).decode())#先获得传输的数据大小
    client.send('准备接收数据'.encode())#在这里给服务器发一个状态,服务器接收后开始发数据
    received_size = 0
    data = ''
    while received_size <data_size:
        data += client.recv(1024).decode('GBK')
        received_size = len(data)
    print(data)
client.close()
