# Seed 000's file download server (000_142c0dc25387bc05.txt, "下载服务端"),
# kept faithful to the seed. Changes for scripted tests only:
# - address and the served directory come from argv: HOST PORT ROOT
#   (PORT 0 picks a free port); the script works inside ROOT, which is
#   what the seed's "file next to the server" assumes;
# - prints "listening seed000 tcp HOST:PORT" once bound;
# - the send loop stops at end of file (`if not data: break`): the seed's
#   loop sends empty chunks forever and never serves a second request.
import socket
import time
import struct
import json
import sys
# 计算当前文件夹下文件的md5值、大小
import os, hashlib

HOST, PORT, ROOT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.chdir(ROOT)


def get_info(file_name):
    file_info = {}
    base_dir = ROOT
    file_dir = os.path.join(base_dir, file_name)
    if os.path.exists(file_dir):
        # md5计算时文件数据是放在内存中的,当我们计算一个大文件时,可以用update方法进行分步计算,
        # 每次添加部分文件数据进行计算,减少内存占用。
        with open(file_dir, 'rb') as f:
            le = 0
            d5 = hashlib.md5()
            for line in f:
                le += len(line)
                d5.update(line)
            file_info['lenth'] = le  # 将文件长度加入报头字典
            file_md5 = d5.hexdigest()
            file_info['md5'] = file_md5  # 将文件md5加入报头字典
            file_size = os.path.getsize(file_dir) / float(1024 * 1024)
            file_info['size(MB)'] = round(file_size, 2)  # 将文件大小加入报头字典
            return file_info
    else:
        return file_info


server = socket.socket()
server.bind((HOST, PORT))
server.listen(5)
print('listening seed000 tcp %s:%d' % server.getsockname()[:2], flush=True)
while True:
    conn, client_addr = server.accept()
    print('%s >:客户端(%s)已连接' % (time.strftime('%Y-%m-%d %H:%M:%S'), client_addr))
    while True:
        try:
            download_filename = conn.recv(1024).decode('utf-8')
            download_file_info_dic = get_info(download_filename)
            j_head = json.dumps(download_file_info_dic)  # 将文件信息字典转成json字符串格式
            head = struct.pack('i', len(j_head))
            conn.send(head)
            conn.send(j_head.encode('utf-8'))
            if not download_file_info_dic:
                continue
            with open(download_filename, 'rb') as f:
                while True:
                    data = f.read(1024)
                    if not data:
                        break
                    conn.send(data)
                    # for line in f:
                    #     conn.send(line)
        except ConnectionResetError:
            print('%s >:客户端(%s)已断开' % (time.strftime('%Y-%m-%d %H:%M:%S'), client_addr))
            conn.close()
            break
