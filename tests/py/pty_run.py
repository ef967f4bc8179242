"""Runs a command on a pseudo-terminal and prints what the terminal showed.

usage: pty_run.py [--cols N] [--stderr-only] [--type TEXT] -- ARGV...

--stderr-only: only stderr is the terminal (stdin and stdout /dev/null), as
for a progress bar; otherwise stdin, stdout and stderr all are.
--type TEXT: typed on the terminal (with a newline), then Ctrl-D a second
later. The exit code is the command's.
"""
import argparse, fcntl, os, pty, struct, subprocess, sys, termios, time

ap = argparse.ArgumentParser()
ap.add_argument("--cols", type=int, default=80)
ap.add_argument("--stderr-only", action="store_true")
ap.add_argument("--type")
ap.add_argument("argv", nargs="+")
a = ap.parse_args()

master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 20, a.cols, 0, 0))
env = dict(os.environ, COLUMNS=str(a.cols))
if a.stderr_only:
    io = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
else:
    io = dict(stdin=slave, stdout=slave, stderr=slave)
p = subprocess.Popen(a.argv, env=env, **io)
os.close(slave)
if a.type is not None:
    os.write(master, a.type.encode() + b"\n")
    time.sleep(1)
    os.write(master, b"\x04")
out = b""
while True:
    try:
        d = os.read(master, 65536)
    except OSError:
        break
    if not d:
        break
    out += d
p.wait()
sys.stdout.buffer.write(out)
sys.exit(p.returncode)
