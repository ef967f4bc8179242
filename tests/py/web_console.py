# Drives the wirekit web console in a real headless browser (Debian's
# chromium through Playwright) against a running `wirekit serve --listen
# chat=... --listen echo=... --web ...`, with raw TCP peers on the side.
# Checks: the page loads and goes live; counts move after echo traffic; a
# browser user and a TCP chat client exchange lines both ways; /nick and
# /who work from the browser; hostile text from TCP shows as text. Saves a
# screenshot. Prints "OK" at the end; any failure raises (non-zero exit).
# usage: web_console.py WEB_ADDR CHAT_ADDR ECHO_ADDR OUT_DIR
#        web_console.py --token WEB_ADDR TOKEN   (a console with a token:
#        without it the page stays disconnected, with #token=TOKEN it is live)
import os
import socket
import sys
import tempfile
import time

from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("WIREKIT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = "<img src=x onerror=window.pwned=1><b>bold</b>"
ESCAPES = "\x1b[2J\x1b]0;title\x07ansi-red"
TIMEOUT_MS = 10_000


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


class TcpChat:
    """A raw seed 003 chat client: sends lines, collects what arrives."""

    def __init__(self, chat_addr):
        self.sock = socket.create_connection(addr(chat_addr), timeout=5)
        self.seen = b""

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def wait_for(self, text):
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while text.encode() not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"TCP client never saw {text!r}; got {self.seen!r}")
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"chat closed before {text!r}; got {self.seen!r}")
            self.seen += chunk


def echo_traffic(echo_addr, n=20_000):
    with socket.create_connection(addr(echo_addr), timeout=5) as s:
        s.sendall(b"x" * n)
        got = 0
        while got < n:
            got += len(s.recv(65536))


def row(page, service):
    return page.locator(f'#listeners tr[data-service="{service}"]')


def check_counts(page, echo_addr):
    expect(page.locator("#state")).to_have_text("live", timeout=TIMEOUT_MS)
    expect(row(page, "chat")).to_have_count(1, timeout=TIMEOUT_MS)
    accepted = row(page, "echo").locator('td[data-k="accepted"]')
    expect(accepted).to_have_text("0", timeout=TIMEOUT_MS)
    echo_traffic(echo_addr)
    expect(accepted).to_have_text("1", timeout=TIMEOUT_MS)
    expect(row(page, "echo").locator('td[data-k="rx_bytes"]')).to_have_text("19.5 KiB")
    expect(page.locator("#events li.ev-close").filter(has_text="echo")).not_to_have_count(0)


def check_chat(page, chat_addr):
    log = page.locator("#chatlog")
    expect(page.locator("#chatinput")).to_be_enabled(timeout=TIMEOUT_MS)
    tcp = TcpChat(chat_addr)
    tcp.send("/nick tcpuser")
    say(page, "/nick webuser")
    expect(log).to_contain_text("tcpuser", timeout=TIMEOUT_MS)
    say(page, "hello from the browser")
    tcp.wait_for(" webuser\nhello from the browser\n")
    tcp.send("hello from tcp")
    expect(log).to_contain_text("hello from tcp", timeout=TIMEOUT_MS)
    assert_said_by(page, "hello from tcp", "tcpuser")
    say(page, "/who")
    expect(log).to_contain_text("* online (2):", timeout=TIMEOUT_MS)
    who = log.locator(".line").filter(has_text="* online (2):").last.text_content()
    assert "webuser" in who and "tcpuser" in who, who
    return tcp


def check_hostile(page, tcp):
    log = page.locator("#chatlog")
    tcp.send(HOSTILE)
    tcp.send(ESCAPES)
    expect(log).to_contain_text(HOSTILE, timeout=TIMEOUT_MS)
    assert_said_by(page, HOSTILE, "tcpuser")
    expect(log).to_contain_text("ansi-red", timeout=TIMEOUT_MS)
    assert page.locator("#chatlog img, #chatlog b").count() == 0, "chat text became HTML"
    assert page.evaluate("window.pwned") is None, "hostile text ran script"
    text = log.text_content()
    assert "\x1b" not in text and "\x07" not in text, repr(text)


def assert_said_by(page, text, nick):
    """The seed format: a "DATE TIME SENDER" line, then the text."""
    lines = page.locator("#chatlog .line").all_text_contents()
    i = lines.index(text)
    assert lines[i - 1].endswith(" " + nick), lines[i - 1:i + 1]


def say(page, line):
    page.fill("#chatinput", line)
    page.click("#chatsend")


def browser(p, profile):
    return p.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, args=ARGS, headless=True,
        viewport={"width": 1200, "height": 660})


def token_mode(web, token):
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = browser(p, profile)
        page = ctx.new_page()
        page.goto(f"http://{web}/")
        expect(page.locator("#state")).to_contain_text("disconnected", timeout=TIMEOUT_MS)
        expect(page.locator("#listeners tr")).to_have_count(0)
        page.goto(f"http://{web}/#token={token}")
        page.reload()
        expect(page.locator("#state")).to_have_text("live", timeout=TIMEOUT_MS)
        expect(page.locator("#listeners tr")).not_to_have_count(0, timeout=TIMEOUT_MS)
        ctx.close()
    print("OK")


def main():
    if sys.argv[1] == "--token":
        return token_mode(sys.argv[2], sys.argv[3])
    web, chat_addr, echo_addr, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = browser(p, profile)
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://{web}/")
        check_counts(page, echo_addr)
        tcp = check_chat(page, chat_addr)
        check_hostile(page, tcp)
        page.wait_for_timeout(1200)  # one more status tick for the picture
        page.screenshot(path=os.path.join(out, "console.png"))
        assert not errors, errors
        ctx.close()
    print("OK")


if __name__ == "__main__":
    main()
