# Seed 004's FTP get client (004_925dedee290250b8.txt, the code under
# "ftp_server端", which is the client), kept faithful to the seed. Changes
# for scripted tests only: the server address comes from argv (HOST PORT);
# commands are read one per line from stdin instead of input(), and the
# client exits at end of input. `get a.txt` saves a_new.txt in the
# working directory.
#Author__Aaron
import socket,hashlib
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])


def input(prompt=''):
    print(prompt, end='', flush=True)
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return line.rstrip('\n')


client = socket.socket()
client.connect((HOST, PORT))
while True:
    cmd = input('cmd:')
    if len(cmd) == 0:
        continue
    if cmd.startswith("get"):
        m = hashlib.md5()
        client.send(cmd.encode())
        totle_size = client.recv(1024).decode()
        totle_size = int(totle_size)
        print("文件大小:",totle_size)
        client.send(b"ready to recv file")
        reveived_size = 0
        cmd = cmd.split()[1]
        filename = cmd.split(".")[0]+"_new."+cmd.split(".")[1]#新文件名是原文件名+‘new’
        f = open(filename,"wb")
        while reveived_size < totle_size:
            if totle_size - reveived_size > 1024:
                get_size = 1024             #防止粘包
            else:
                get_size = totle_size-reveived_size
            data = client.recv(get_size)
            f.write(data)
            m.update(data)
            reveived_size += len(data)
        else:
            print("received done")
            f.close()
        file_md5 = client.recv(1024).decode()
        new_file_md5 = m.hexdigest()
        if file_md5 == new_file_md5:
            print("文件校验正确,md5=%s,文件接受完毕!"%file_md5)
        else:
            print("文件校验失败")
            print("源文件校验码:",file_md5)
            print("新文件校验码:",new_file_md5)
