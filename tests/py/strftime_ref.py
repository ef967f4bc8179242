# Reference for the strftime table test: for each stdin line (a format,
# given as hex of its UTF-8 bytes so any character survives), prints the
# hex of time.strftime(format) -- exactly what the seeds' time server
# answers -- or ERR if Python raises.
import sys
import time

for line in sys.stdin:
    fmt = bytes.fromhex(line.strip()).decode('utf-8')
    try:
        print(time.strftime(fmt).encode('utf-8').hex())
    except Exception:
        print('ERR')
