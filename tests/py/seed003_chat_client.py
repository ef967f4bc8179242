# Seed 003, "5.3 开始编写客户端类": ChatClient. Sends "I'm ready." on
# connect, then each typed line with "\n" appended; a receive thread logs
# every chunk it receives (to stderr, via logging).
# Changes from the seed: address and port from argv; lines come from stdin
# instead of input(), and EOF acts like "quit"; the receive thread is a
# daemon thread and stops when the server closes the connection (the seed's
# loop would spin forever logging empty reads), so the process can exit.
# usage: seed003_chat_client.py HOST PORT < lines
import socket
import sys
import threading
import datetime
import logging

FORMAT = "%(asctime)s %(threadName)s %(thread)d %(message)s"
logging.basicConfig(format=FORMAT, level=logging.INFO)


class ChatClient:
    def __init__(self, ip='127.0.0.1', port=9999):
        self.sock = socket.socket()
        self.addr = (ip, port)
        self.event = threading.Event()

    def start(self):  # 启动对远端服务器的连接
        self.sock.connect(self.addr)
        self.send("I'm ready.")
        # 准备接收数据,recv是阻塞的,开启新的线程
        threading.Thread(target=self.recv, name="recv", daemon=True).start()

    def recv(self):  # 接收服务端的数据
        while not self.event.is_set():
            try:
                data = self.sock.recv(1024)  # 阻塞
            except Exception as e:
                logging.error(e)
                break
            if not data:
                logging.info('server closed the connection')
                break
            msg = "{:%Y/%m/%d %H:%M:%S} {}:{}\n{}\n".format(datetime.datetime.now(), *self.addr, data.strip())
            logging.info(msg)

    def send(self, msg: str):
        data = "{}\n".format(msg.strip()).encode()  # 服务端需要一个换行符
        self.sock.send(data)

    def stop(self):
        self.sock.close()
        self.event.wait(3)
        self.event.set()
        logging.info('Client stops.')


def main():
    cc = ChatClient(sys.argv[1], int(sys.argv[2]))
    cc.start()
    for cmd in sys.stdin:
        if cmd.strip() == 'quit':
            break
        cc.send(cmd)  # 发送消息
    cc.stop()


if __name__ == '__main__':
    main()
