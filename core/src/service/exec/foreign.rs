//! Tells command text from another protocol's first message.
//!
//! The seed dialects hand each read to `sh -c`, so anything that reaches an
//! exec port runs as a command: an HTTP request a web page makes the
//! browser send (`POST /;touch$IFS/tmp/x; HTTP/1.1`), a TLS ClientHello,
//! an SSH banner. No seed client ever sends those, so the server refuses
//! such a message, and closes, before anything runs.
//!
//! What counts as foreign ([`classify`]):
//! - an HTTP request line (`METHOD /target HTTP/x`, or a method followed by
//!   an origin-form or absolute target) or a header line (`Host: …`) in the
//!   message;
//! - a TLS record header (`0x16 0x03`), as a ClientHello starts;
//! - an SSH identification string (`SSH-`);
//! - a native frame sent with a broken length (its JSON header follows four
//!   bytes that are not a small length);
//! - any control byte other than tab, CR and LF (this includes DEL and the
//!   NUL a native frame's length holds).
//!
//! Once a prefix of a message is foreign, any longer message that starts
//! with it is foreign too (the classes above only look forward), so a
//! message cut into several reads is refused no later than when its
//! foreign part arrives.

/// Which other protocol a message looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// An HTTP request line or header.
    Http,
    /// A TLS record (ClientHello).
    Tls,
    /// An SSH identification string.
    Ssh,
    /// A native wirekit frame with a broken length prefix.
    MisframedNative,
    /// A control byte other than tab, CR, LF.
    Control(u8),
}

impl core::fmt::Display for Foreign {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Http => f.write_str("an HTTP request"),
            Self::Tls => f.write_str("a TLS handshake"),
            Self::Ssh => f.write_str("an SSH banner"),
            Self::MisframedNative => f.write_str("a mis-framed native frame"),
            Self::Control(b) => write!(f, "control byte 0x{b:02x}"),
        }
    }
}

/// HTTP methods a client (or a browser) may start a request with.
const METHODS: [&[u8]; 10] = [
    b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH", b"PRI",
];

/// Header names every HTTP client sends one of; a shell command starting
/// with one of these followed by a colon does not exist.
const HEADERS: [&[u8]; 12] = [
    b"host",
    b"user-agent",
    b"accept",
    b"content-length",
    b"content-type",
    b"connection",
    b"origin",
    b"referer",
    b"cookie",
    b"transfer-encoding",
    b"upgrade",
    b"authorization",
];

/// Classifies one message (a read, in the seed dialects one command):
/// `Some` if it is another protocol's and must not run.
///
/// ```
/// use wirekit_core::service::exec::foreign::{classify, Foreign};
/// assert_eq!(classify(b"ls -l\n"), None);
/// assert_eq!(classify(b"POST /;id; HTTP/1.1\r\nHost: x\r\n"), Some(Foreign::Http));
/// assert_eq!(classify(b"SSH-2.0-OpenSSH_9.2\r\n"), Some(Foreign::Ssh));
/// ```
pub fn classify(msg: &[u8]) -> Option<Foreign> {
    if msg.starts_with(&[0x16, 0x03]) {
        return Some(Foreign::Tls);
    }
    if msg.starts_with(b"SSH-") {
        return Some(Foreign::Ssh);
    }
    if msg.len() > 4 && msg[4..].starts_with(b"{\"") {
        return Some(Foreign::MisframedNative);
    }
    if let Some(&b) = msg.iter().find(|&&b| is_forbidden_control(b)) {
        return Some(Foreign::Control(b));
    }
    if msg.split(|&b| b == b'\n').any(is_http_line) {
        return Some(Foreign::Http);
    }
    None
}

fn is_forbidden_control(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f
}

/// True for a request line or a well-known header line. A line cut short
/// still counts once its method and the start of its target are there.
fn is_http_line(line: &[u8]) -> bool {
    is_request_line(line) || is_header_line(line)
}

fn is_request_line(line: &[u8]) -> bool {
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return false;
    };
    let (method, rest) = (&line[..sp], &line[sp + 1..]);
    if !METHODS.contains(&method) {
        return false;
    }
    // Browsers send an origin-form target (`/…`); proxies an absolute one;
    // OPTIONS may use `*`. A method word followed by anything else is a
    // command (`GET` of libwww-perl takes a URL), unless the line also
    // names the HTTP version.
    rest.starts_with(b"/")
        || rest.starts_with(b"*")
        || starts_with_ignore_case(rest, b"http://")
        || starts_with_ignore_case(rest, b"https://")
        || contains(rest, b" HTTP/")
}

fn is_header_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = &line[..colon];
    HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h))
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_curl_repro_is_http() {
        let req = b"POST /;touch$IFS/tmp/x; HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\
                    User-Agent: Mozilla/5.0 (X11)\r\nAccept: */*\r\n\
                    Content-Length: 1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nx";
        assert_eq!(classify(req), Some(Foreign::Http));
        assert_eq!(
            classify(&req[..8]),
            Some(Foreign::Http),
            "a cut request line"
        );
        assert_eq!(classify(b"GET / HTTP/1.0\r\n\r\n"), Some(Foreign::Http));
        assert_eq!(classify(b"OPTIONS * HTTP/1.1"), Some(Foreign::Http));
        assert_eq!(classify(b"GET http://x/ HTTP/1.1"), Some(Foreign::Http));
        assert_eq!(
            classify(b"garbage\r\nhost: example\r\n"),
            Some(Foreign::Http)
        );
    }

    #[test]
    fn other_protocols() {
        let hello = [
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        assert_eq!(classify(&hello), Some(Foreign::Tls));
        assert_eq!(classify(b"SSH-2.0-OpenSSH_9.2p1\r\n"), Some(Foreign::Ssh));
        assert_eq!(
            classify(b"AAAA{\"op\":\"hello\"}"),
            Some(Foreign::MisframedNative)
        );
        assert_eq!(classify(b"\x0f\x00\x00\x00{"), Some(Foreign::Control(0x0f)));
        assert_eq!(classify(b"echo \x1b[2J"), Some(Foreign::Control(0x1b)));
        assert_eq!(classify(b"ls\x7f"), Some(Foreign::Control(0x7f)));
    }

    #[test]
    fn commands_pass() {
        for cmd in [
            &b"ls -l\n"[..],
            b"dir",
            b"echo hello\r\n",
            b"printf 'a\\tb'\t| cat",
            "ls 你好".as_bytes(),
            b"\xff\xfe",
            b"GET",
            b"GET http",
            b"echo GET / HTTP/1.1",
            b"hostname",
            b"echo host: x",
            b"POSTGRES=1 env",
            b"head -c 100000 /dev/zero | tr '\\0' x",
            b"while :; do echo 5150515051505150; done",
            b"SSH",
            b"",
        ] {
            assert_eq!(classify(cmd), None, "{:?}", core::str::from_utf8(cmd));
        }
    }

    proptest! {
        #[test]
        fn never_panics(msg in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = classify(&msg);
        }

        /// A foreign prefix stays foreign however the rest arrives, so
        /// cutting a message into reads never lets a foreign one through.
        #[test]
        fn foreign_prefixes_stay_foreign(
            msg in prop::collection::vec(any::<u8>(), 0..120),
            tail in prop::collection::vec(any::<u8>(), 0..60),
        ) {
            if let Some(class) = classify(&msg) {
                let mut whole = msg.clone();
                whole.extend_from_slice(&tail);
                prop_assert!(classify(&whole).is_some(), "{:?} then {:?}", class, tail);
            }
        }

        #[test]
        fn printable_commands_without_http_words_pass(cmd in "[a-z0-9 |;&'$./_-]{0,80}") {
            prop_assert_eq!(classify(cmd.as_bytes()), None);
        }
    }
}
