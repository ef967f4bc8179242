# Seed 002's FTP server (002_5cd61f1ee7684009.txt, "服务器端"), kept
# faithful to the seed. Changes for scripted tests only: the address and
# the directory it serves come from argv (HOST PORT ROOT; PORT 0 picks a
# free port), it works inside ROOT, and prints
# "listening seed002 tcp HOST:PORT" once bound.
# -*- coding: utf-8 -*-
# @Author : JKey
# Timer : 2021/1/18 18:00
import socket
import socketserver
import struct
import time
import json
import os
import sys
import hashlib

HOST, PORT, ROOT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.chdir(ROOT)


class TcpServer(socketserver.BaseRequestHandler):
    server_inet = socket.AF_INET
    server_type = socket.SOCK_STREAM
    server_ip_port = (HOST, PORT)
    server_listen = 5

    def handle(self) -> None:
        while True:
            try:
                cmd = self.request.recv(1024)  # b 'get a.txt'
                if len(cmd) == 0:
                    break
                cmd = cmd.decode('utf-8')  # get a.txt
                func, file_name = cmd.split(' ')  # func = get/put 上传下载 file_name = 文件名
                if hasattr(self, func):
                    try:
                        getattr(self, func)(file_name)
                    except FileNotFoundError:
                        print('没有该文件')
                        return
                else:
                    print('暂不支持')
            except ConnectionResetError:
                break

    def get(self, file_name):
        print(f'客户端正在下载文件{file_name}')
        header_dic = {
            'file_name': file_name,
            'file_size': 0,
            'md5': None,
        }
        header_bytes_len = struct.pack('i', os.path.getsize(file_name))
        self.request.send(header_bytes_len)
        with open(file_name, 'rb') as r_f:
            for line in r_f:
                header_dic['file_size'] = len(line)
                mm = hashlib.md5()
                mm.update(line)
                header_dic['md5'] = mm.hexdigest()
                header_json = json.dumps(header_dic)
                header_bytes = header_json.encode('utf-8')
                header_bytes_len = struct.pack('i', len(header_bytes))
                self.request.send(header_bytes_len)
                self.request.send(header_bytes)
                self.request.send(line)
                time.sleep(0.01)

    def put(self, file_name):
        print(f'客户端正在上传文件{file_name}')
        file_size = struct.unpack('i', self.request.recv(4))[0]
        s_size = 0
        file_data = b''
        while s_size < file_size:
            # 先接收4个字节 文件的头部信息
            header = self.request.recv(4)
            header_bytes_len = struct.unpack('i', header)[0]
            header_bytes = self.request.recv(header_bytes_len)
            header_bytes_json = header_bytes.decode('utf-8')
            header_dic = json.loads(header_bytes_json)
            line_size = header_dic['file_size']
            start_size = 0
            line_data = b''
            while start_size < line_size:
                data = self.request.recv(1024)
                start_size += len(data)
                line_data += data
            mm = hashlib.md5()
            mm.update(line_data)
            if mm.hexdigest() == header_dic['md5']:
                file_data += line_data
                s_size += line_size
            else:
                print('下载文件不完整有误')
                break
        else:
            with open(file_name, 'ab') as w_f:
                w_f.write(file_data)
            self.request.send(f'{file_name} 上传成功'.encode('utf-8'))


server_obj = socketserver.ThreadingTCPServer((HOST, PORT), TcpServer, bind_and_activate=True)
print('listening seed002 tcp %s:%d' % server_obj.server_address[:2], flush=True)
server_obj.serve_forever()
server_obj.handle_request()
