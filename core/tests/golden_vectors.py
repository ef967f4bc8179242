"""Golden vectors for wirekit-core, built exactly as the seeds build frames.

Mode `make`: prints one vector per line:
    name frame_hex filename_hex total_size md5_or_- body_hex
Mode `check`: reads lines `name frame_hex` (frames written by wirekit-core)
from stdin and decodes each the way the seeds' clients do, printing
    name filename_hex total_size md5_or_- body_hex
"""
import hashlib
import json
import struct
import sys


def ultimate(header_dic, body):
    """Seed 001/002 'ultimate' fix: pack('i', len(json)) + json + body."""
    json_bytes = json.dumps(header_dic).encode('utf-8')
    return struct.pack('i', len(json_bytes)) + json_bytes + body


def hx(b):
    return b.hex() if b else '-'


def make():
    out = []
    stdout, stderr = b'total 0\n', 'ls: 无法访问\n'.encode('utf-8')
    body = stdout + stderr
    # seed 001: fake md5, filename a.txt
    dic = {'filename': 'a.txt', 'total_size': len(body),
           'md5': '12387459560yhsdjsncvnchfuuiokwjdndb'}
    out.append(('seed001_exec', ultimate(dic, body), 'a.txt', len(body), '-', body))
    # seed 000 download header: lenth / md5 / size(MB)
    data = b'line one\nline two\n' * 3
    dic = {'lenth': len(data), 'md5': hashlib.md5(data).hexdigest(),
           'size(MB)': round(len(data) / float(1024 * 1024), 2)}
    out.append(('seed000_download', ultimate(dic, data), '', len(data),
                hashlib.md5(data).hexdigest(), data))
    # seed 002 ftp per-line frame, non-ASCII name (json escapes it as \uXXXX)
    line = '第一行 first line\n'.encode('utf-8')
    dic = {'file_name': '文件 "x".txt', 'file_size': len(line),
           'md5': hashlib.md5(line).hexdigest()}
    out.append(('seed002_line', ultimate(dic, line), '文件 "x".txt', len(line),
                hashlib.md5(line).hexdigest(), line))
    # seed 002's 1 TB header (no body follows: decode the header only)
    dic = {'file_size': 1073741824000, 'file_name': '/a/b/c/d/e/a.txt',
           'md5': '8f6fbf8347faa4924a76856701edb0f3'}
    out.append(('seed002_1tb_header', ultimate(dic, b''), '/a/b/c/d/e/a.txt',
                1073741824000, '8f6fbf8347faa4924a76856701edb0f3', b''))
    # seed 000 missing file: an empty dict
    out.append(('seed000_missing', ultimate({}, b''), '', 0, '-', b''))
    for name, frame, fname, size, md5, b in out:
        print(name, frame.hex(), hx(fname.encode('utf-8')), size, md5, hx(b))


def check():
    for line in sys.stdin:
        name, frame_hex = line.split()
        data = bytes.fromhex(frame_hex)
        header_len = struct.unpack('i', data[:4])[0]
        header = json.loads(data[4:4 + header_len].decode('utf-8'))
        total = header.get('total_size')
        body = data[4 + header_len:4 + header_len + total]
        assert len(body) == total, (name, len(body), total)
        md5 = header.get('md5') or '-'
        if md5 != '-':
            assert hashlib.md5(body).hexdigest() == md5, name
        print(name, hx(header.get('filename', '').encode('utf-8')), total, md5, hx(body))


if __name__ == '__main__':
    make() if sys.argv[1] == 'make' else check()
