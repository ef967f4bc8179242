# Seed 003, "4.4 ChatServer实验用完整代码": the group chat server (makefile +
# readline, a lock around the client table, exception handling). Each line
# is broadcast as "{:%Y/%m/%d %H:%M:%S} {ip}:{port}\n{line}\n" where the
# line still has its "\n".
# Changes from the seed: address and port from argv (port 0 = any free
# port, announced as "listening PORT" on stdout so a test can find it);
# console commands come from stdin lines instead of input(), and EOF acts
# like "quit"; the accept and recv threads are daemon threads (the seed
# itself suggests it: "也可以把recv和accept线程设置为daemon线程") so the
# process can exit while they block.
# usage: seed003_chat_server.py HOST PORT
import logging
import socket
import sys
import threading
import datetime

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(thread)d %(message)s")

class ChatServer:
    def __init__(self, ip='127.0.0.1', port=9999):  # 启动服务
        self.sock = socket.socket()
        self.addr = (ip, port)
        self.clients = {}  # 客户端
        self.event = threading.Event()
        self.lock = threading.Lock()

    def start(self):  # 启动监听
        self.sock.bind(self.addr)  # 绑定
        self.sock.listen()  # 监听
        print('listening', self.sock.getsockname()[1], flush=True)
        # accept会阻塞主线程,所以开一个新线程
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):  # 多人连接
        while not self.event.is_set():
            sock, client = self.sock.accept()  # 阻塞
            f = sock.makefile('rw')  # 支持读写
            with self.lock:
                self.clients[client] = f, sock  # 添加到客户端字典
            # 准备接收数据,recv是阻塞的,开启新的线程
            threading.Thread(target=self.recv, args=(f, client), daemon=True).start()

    def recv(self, f, client):  # 接收客户端数据
        while not self.event.is_set():
            try:  # 异常处理
                data = f.readline()  # 阻塞等一行来,换行符
            except Exception as e:
                logging.error(e)
                data = 'quit'
            msg = data.strip()
            # 客户端退出命令
            if msg == 'quit' or msg == '':  # 主动断开得到空串
                with self.lock:
                    _, sock = self.clients.pop(client)
                    f.close()
                    sock.close()
                logging.info('{} quits'.format(client))
                break
            msg = "{:%Y/%m/%d %H:%M:%S} {}:{}\n{}\n".format(datetime.datetime.now(), *client, data)
            logging.info(msg)
            with self.lock:
                for ff, _ in self.clients.values():
                    ff.write(msg)
                    ff.flush()

    def stop(self):  # 停止服务
        self.event.set()
        with self.lock:
            for f, s in self.clients.values():
                f.close()
                s.close()
        self.sock.close()

def main():
    cs = ChatServer(sys.argv[1], int(sys.argv[2]))
    cs.start()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == 'quit':
            break
        logging.info(threading.enumerate())  # 用来观察断开后线程的变化
        logging.info(cs.clients)
    cs.stop()
    threading.Event().wait(3)

if __name__ == '__main__':
    main()
