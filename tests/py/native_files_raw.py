# A deliberately incomplete or dishonest native files client, for the
# tests that need a transfer to break at a known point (not a seed program).
#
#   native_files_raw.py HOST PORT partial-put NAME LOCAL NBYTES
#       offers a put of LOCAL, sends only its first NBYTES, then drops the
#       connection (as a killed client would); prints the server's offer.
#   native_files_raw.py HOST PORT corrupt-put NAME LOCAL
#       sends all of LOCAL with a wrong md5 in the trailer; prints the
#       server's final answer as JSON.
#   native_files_raw.py HOST PORT seed002-corrupt-put NAME LOCAL
#       seed 002 upload whose single chunk does not match its md5; prints
#       the server's answer text.
#   native_files_raw.py HOST PORT hold-put NAME LOCAL NBYTES
#       like partial-put, but keeps the connection (and so the server's
#       transfer slot) open until its stdin reaches EOF.
#   native_files_raw.py HOST PORT stat NAME -
#       prints the server's answer to a stat request as JSON.
import hashlib
import json
import socket
import struct
import sys


def frame(header, body=b''):
    j = json.dumps(header).encode('utf-8')
    return struct.pack('<i', len(j)) + j + body


def read_exact(s, n):
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError('server closed the connection')
        data += chunk
    return data


def read_frame(s):
    n = struct.unpack('<i', read_exact(s, 4))[0]
    h = json.loads(read_exact(s, n))
    body = read_exact(s, h.get('total_size', 0))
    return h, body


def main():
    host, port, mode, name, local = sys.argv[1:6]
    s = socket.create_connection((host, int(port)), timeout=30)
    if mode == 'stat':
        s.sendall(frame({'op': 'stat', 'filename': name, 'total_size': 0}))
        print(json.dumps(read_frame(s)[0], ensure_ascii=False), flush=True)
        return
    data = open(local, 'rb').read()
    if mode == 'seed002-corrupt-put':
        s.sendall(('put ' + name).encode())
        s.sendall(struct.pack('i', len(data)))
        head = json.dumps({'file_name': name, 'file_size': len(data),
                           'md5': hashlib.md5(data + b'x').hexdigest()}).encode()
        s.sendall(struct.pack('i', len(head)) + head + data)
        print(s.recv(1024).decode('utf-8'))
        return
    s.sendall(frame({'op': 'put', 'filename': name, 'size': len(data), 'total_size': 0}))
    offer, _ = read_frame(s)
    print(json.dumps(offer), flush=True)
    off = offer.get('offset', 0)
    if mode in ('partial-put', 'hold-put'):
        n = int(sys.argv[6])
        s.sendall(frame({'op': 'data', 'offset': off, 'total_size': len(data) - off}))
        s.sendall(data[off:n])
        if mode == 'hold-put':
            print('holding', flush=True)
            sys.stdin.read()
        s.close()
        return
    s.sendall(frame({'op': 'data', 'offset': off, 'total_size': len(data) - off}, data[off:]))
    s.sendall(frame({'op': 'end', 'total_size': 0, 'md5': hashlib.md5(b'not the data').hexdigest()}))
    answer, _ = read_frame(s)
    print(json.dumps(answer, ensure_ascii=False), flush=True)


main()
