# Seed 002's FTP client (002_5cd61f1ee7684009.txt, "客户端"), kept faithful
# to the seed. Changes for scripted tests only: the server address comes
# from argv (HOST PORT); commands (and the "continue?" answer) are read one
# per line from stdin instead of input(), and the client exits at end of
# input. Files are read from and saved to the working directory.
# -*- coding: utf-8 -*-
# @Author : JKey
# Timer : 2021/1/18 18:00
import socket
import struct
import os
import sys
import json
import hashlib
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])


def input(prompt=''):
    print(prompt, end='', flush=True)
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return line.rstrip('\n')


class TcpClient:
    client_inet = socket.AF_INET
    client_type = socket.SOCK_STREAM
    server_ip_port = (HOST, PORT)

    @staticmethod
    def __progress(percent, width=50):
        if percent < 1:
            show_str = ('[%%-%ds]' % width) % (int(width * percent) * '#')
            print('\r%s %d%%' % (show_str, int(100 * percent)), end='')
        elif percent >= 1:
            percent = 1
            show_str = ('[%%-%ds]' % width) % (int(width * percent) * '#')
            print('\r%s %d%%' % (show_str, int(100 * percent)))

    def handle_request(self):
        client = socket.socket(self.client_inet, self.client_type)
        client.connect(self.server_ip_port)
        while True:
            cmd = input('请输入您的指令>>:').strip()
            if len(cmd) == 0:
                continue
            if ' ' not in cmd:
                print('请输入正确的指令')
                continue
            if len(cmd.split(' ')) != 2:
                print('请输入正确的指令')
            client.send(cmd.encode('utf-8'))
            func, file_name = cmd.split(' ')
            if hasattr(self, func):
                getattr(self, func)(file_name, client)
            else:
                print('没有该功能')

    def get(self, file_name, client):
        # 先接收到文件的全部大小
        print(f'客户端正在下载文件{file_name}')
        if os.path.exists(file_name):
            print('该文件已存在')
            i = input('是否继续下载>>:').strip()
            if i == 'y':
                file_name = file_name + '(1)'
            else:
                return
        try:
            file_size = struct.unpack('i', client.recv(4))[0]
        except struct.error:
            print('服务器端没有该文件')
            return
        s_size = 0
        file_data = b''
        while s_size < file_size:
            # 先接收4个字节 文件的头部信息
            header = client.recv(4)
            header_bytes_len = struct.unpack('i', header)[0]
            header_bytes = client.recv(header_bytes_len)
            header_bytes_json = header_bytes.decode('utf-8')
            header_dic = json.loads(header_bytes_json)
            line_size = header_dic['file_size']
            start_size = 0
            line_data = b''
            while start_size < line_size:
                data = client.recv(1024)
                start_size += len(data)
                line_data += data
            mm = hashlib.md5()
            mm.update(line_data)
            if mm.hexdigest() == header_dic['md5']:
                file_data += line_data
                s_size += line_size
                percent = s_size / file_size
                self.__progress(percent, width=70)
            else:
                print('下载文件不完整有误')
                break
        else:
            with open(file_name, 'ab') as w_f:
                w_f.write(file_data)
            print(f'{file_name} 下载成功')

    def put(self, file_name, client):
        """客户端上传文件"""
        print(f'客户端正在上传文件{file_name}')
        if not os.path.exists(file_name):
            print('没有该文件')
            return
        header_dic = {
            'file_name': file_name,
            'file_size': 0,
            'md5': None,
        }
        header_bytes_len = struct.pack('i', os.path.getsize(file_name))
        client.send(header_bytes_len)
        file_size = os.path.getsize(file_name)
        line_size = 0
        with open(file_name, 'rb') as r_f:
            for line in r_f:
                header_dic['file_size'] = len(line)
                line_size += len(line)
                mm = hashlib.md5()
                mm.update(line)
                header_dic['md5'] = mm.hexdigest()
                header_json = json.dumps(header_dic)
                header_bytes = header_json.encode('utf-8')
                header_bytes_len = struct.pack('i', len(header_bytes))
                client.send(header_bytes_len)
                client.send(header_bytes)
                client.send(line)
                self.__progress(line_size / file_size)
                time.sleep(0.01)


client1 = TcpClient()
client1.handle_request()
