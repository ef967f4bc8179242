"""Reference vectors for wirekit's strftime, printed by real Python.

Run by core/tests/strftime_python.rs. For each instant (unix seconds, UTC
offset, zone name) it prints the broken-down fields (time.gmtime of the
shifted instant, which Tm::from_unix must reproduce) and then
time.strftime(fmt, t) for every format, where t is an 11-field
struct_time carrying tm_zone and tm_gmtoff. TZ is set to the same fixed
offset so that %s (glibc computes it with mktime) agrees.

With the argument `case` it instead prints a line  C <cp> <upper> <lower>
(hex code points) for every character that glibc's towupper (seen through
"%^<c>", non-ASCII only since ASCII letters there are conversions) or
towlower (seen through "%#Z" with tm_zone = c) changes.

Output lines, tab-separated, strings hex-encoded UTF-8:
  V  <python version> <libc name> <libc version>
  T  unix offset zone_hex year mon mday hour min sec wday_c yday0
  F  fmt_hex result_hex          (for the preceding T line)
"""
import os
import platform
import random
import sys
import time

CONVERSIONS = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%"
# Conversions glibc does not know (copied through) and odd characters.
UNKNOWN = "fiJKLNoqQvi!é?ß{ı"
FLAGS = ["", "-", "_", "0", "^", "#", "^#", "-^", "0#", "_^"]
WIDTHS = ["", "1", "3", "5", "10", "01"]
MODIFIERS = ["", "E", "O"]
EXTRA = [
    "", "%", "%%", "%%%", "%5", "%-", "%E", "%O", "%^", "%_10", "%5E",
    "%Y-%m-%d %X", "%Y-%m-%d %H:%M:%S", "年%Y月%m日", "a\tb\nc",
    "%+4Y", "%:z", "%::z", "%10:z", "%2047Y", "%2048Y", "%2042Ya",
    "%2047Ya", "%99999999999Y", "%2147483647Y", "é" * 50 + "%300Y",
    "%" * 7, "%-%", "%Oc", "%Ex", "%EC%Ey%EY", "%Ob%OB%Oh",
]


def formats():
    out = list(EXTRA)
    for c in CONVERSIONS + UNKNOWN:
        for f in FLAGS:
            for w in WIDTHS:
                out.append("%" + f + w + c)
        for m in MODIFIERS[1:]:
            out.append("%" + m + c)
            out.append("%_4" + m + c)
    rng = random.Random(20261122)
    pieces = [c for c in CONVERSIONS + UNKNOWN]
    for _ in range(400):
        parts = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.2:
                parts.append(rng.choice(["x", " ", "-", ":", "é", "%%", "\n"]))
                continue
            parts.append(
                "%"
                + "".join(rng.choice("-_0^#") for _ in range(rng.randint(0, 2)))
                + rng.choice(["", "", str(rng.randint(0, 40))])
                + rng.choice(["", "", "", "E", "O"])
                + rng.choice(pieces)
            )
        if rng.random() < 0.1:
            parts.append("%")
        out.append("".join(parts))
    return out


def posix_tz(offset):
    # POSIX TZ offsets count west of Greenwich: UTC+05:45 is "-05:45".
    sign = "-" if offset >= 0 else "+"
    a = abs(offset)
    return "<ZZZ>%s%02d:%02d:%02d" % (sign, a // 3600, a // 60 % 60, a % 60)


def hexs(s):
    return s.encode("utf-8", "surrogatepass").hex()


# Instants for the full format table: ISO-week year boundaries, leap
# days, Sunday/Monday week starts, 1900/2000/2100, midnight and noon.
FORMAT_INSTANTS = [
    (0, 0, "UTC"),
    (1709164800, 0, "UTC"),            # 2024-02-29 00:00 Thu (leap day)
    (951782400 + 43200, 0, "GMT"),      # 2000-02-29 12:00
    (1230681600 + 3599, 0, "UTC"),      # 2008-12-31 00:59:59 Wed, ISO 2009-W01
    (1104451200, 0, "UTC"),             # 2004-12-31 Fri, ISO 2004-W53
    (1104537600 + 43199, 0, "UTC"),     # 2005-01-01 11:59:59 Sat, ISO 2004-W53
    (1262304000 + 86399, 0, "UTC"),     # 2010-01-01 23:59:59 Fri, ISO 2009-W53
    (1293840000 + 45296, 0, "UTC"),     # 2011-01-01 Sat 12:34:56
    (1325376000, 0, "UTC"),             # 2012-01-01 Sun
    (1325462400 + 46800, 0, "UTC"),     # 2012-01-02 Mon 13:00
    (1735603200, 0, "UTC"),             # 2024-12-31 Tue, ISO 2025-W01
    (-2208988800, 0, "UTC"),            # 1900-01-01 Mon
    (-2203891200, 0, "UTC"),            # 1900-03-01
    (4107542400 + 43200, 0, "UTC"),     # 2100-03-01 12:00
    (4102358400, 0, "UTC"),             # 2099-12-31 Thu
    (1700000000, -18000, "EST"),        # negative offset
    (1700000000, 20700, "+0545"),       # Nepal, +05:45
    (1700000000, -12600, "NDT"),        # -03:30
    (1700000000, 50400, "LINT"),        # +14:00
    (1700000000, -37, "LMT"),           # odd seconds offset
    (-1, 0, "UTC"),
    (-62135596800, 0, "UTC"),           # 0001-01-01
    (-62167219200 - 86400 * 400, 0, "UTC"),  # year -400 -> negative years
    (-62198755200, 3600, "CET"),        # year -1
    (253402300799, 0, "UTC"),           # 9999-12-31 23:59:59
    (253402300800, 0, "UTC"),           # 10000-01-01
    (32503680000 * 3, 0, "UTC"),        # year ~4900
    (1000000000000, 0, "UTC"),          # year 33658
]


def more_instants():
    # Only the fields are checked for these (Tm::from_unix vs gmtime).
    rng = random.Random(7)
    out = [(t, 0, "UTC") for t in range(-86400 * 3, 86400 * 3, 3593)]
    for _ in range(2000):
        t = rng.randint(-62135596800 * 5, 253402300800 * 5)
        off = rng.choice([0, 3600, -3600, 20700, -34200, 50400, -43200])
        out.append((t, off, "X"))
    return out


def fields(unix, offset):
    g = time.gmtime(unix + offset)
    # struct_time weekday is Monday=0; C's tm_wday is Sunday=0.
    return (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec,
            (g.tm_wday + 1) % 7, g.tm_yday - 1, g.tm_wday, g.tm_yday)


def main():
    lib, ver = platform.libc_ver()
    print("V", "%d.%d" % sys.version_info[:2], lib or "-", ver or "-", sep="\t")
    fmts = formats()
    for (unix, offset, zone), with_formats in (
        [(i, True) for i in FORMAT_INSTANTS] + [(i, False) for i in more_instants()]
    ):
        y, mo, d, h, mi, s, wday_c, yday0, py_wday, py_yday = fields(unix, offset)
        print("T", unix, offset, hexs(zone), y, mo, d, h, mi, s, wday_c, yday0, sep="\t")
        if not with_formats:
            continue
        os.environ["TZ"] = posix_tz(offset)
        time.tzset()
        t = time.struct_time((y, mo, d, h, mi, s, py_wday, py_yday, 0, zone, offset))
        for f in fmts:
            print("F", hexs(f), hexs(time.strftime(f, t)), sep="\t")


def case_table():
    base = time.gmtime(0)
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        # ASCII letters after "%^" are conversions; only probe the rest.
        up = time.strftime("%^" + c, base)[2:] if cp >= 0x80 else c
        t = time.struct_time(tuple(base)[:9] + (c, 0))
        low = time.strftime("%#Z", t)
        if up != c or low != c:
            print("C", "%x" % cp, "%x" % ord(up), "%x" % ord(low), sep="\t")


if sys.argv[1:] == ["case"]:
    case_table()
else:
    main()
