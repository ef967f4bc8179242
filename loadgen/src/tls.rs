//! `--tls` for `wirekit-bench echo` and `wirekit-bench connect`: the same loads
//! over TLS, against a `SERVICE+tls` listener or any TLS echo server
//! (`socat OPENSSL-LISTEN:…`), so they can be compared side by side.
//!
//! This is a load generator, not a client to trust: without `--tls-pin`
//! it accepts any certificate (the handshake signature is still checked).
//! Session resumption is off, so every new connection pays a full
//! handshake, the worst case and the same for every server measured.

use std::cell::RefCell;
use std::io::{self, ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rustls::client::{Resumption, UnbufferedClientConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;
use wirekit_host::tls::read_ahead::CHUNK;

use wirekit_host::tls::trust::FingerprintVerifier;
use wirekit_host::tls::{format_fingerprint, parse_fingerprint, provider};

/// TLS options of the TCP bench modes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Speak TLS 1.3 (or 1.2) to the server. For benchmarks only: without
    /// --tls-pin ANY certificate is accepted.
    #[arg(long)]
    pub tls: bool,
    /// Accept only the certificate with this fingerprint (as `wirekit
    /// serve` prints it). Implies --tls.
    #[arg(long, value_name = "sha256:HEX")]
    pub tls_pin: Option<String>,
}

/// A TLS client setup for the bench, shared by all its connections.
#[derive(Clone)]
pub struct BenchTls {
    config: Arc<ClientConfig>,
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl BenchTls {
    /// The setup `args` ask for (None: plain TCP), for server `addr`.
    pub fn from_args(args: &TlsArgs, addr: &str) -> anyhow::Result<Option<BenchTls>> {
        if !args.tls && args.tls_pin.is_none() {
            return Ok(None);
        }
        let verifier = match &args.tls_pin {
            Some(pin) => {
                let fp = parse_fingerprint(pin)?;
                let why = format!(
                    "certificate does not match --tls-pin {}",
                    format_fingerprint(&fp)
                );
                FingerprintVerifier::new(Some(fp), why)
            }
            None => FingerprintVerifier::new(None, String::new()),
        };
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .with_context(|| format!("`{host}` is not a valid server name"))?;
        let config = Arc::new(config);
        Ok(Some(BenchTls {
            connector: TlsConnector::from(Arc::clone(&config)),
            config,
            name,
        }))
    }

    /// Handshakes over a connected socket (`connect` mode: tokio-rustls).
    pub async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        self.connector.connect(self.name.clone(), tcp).await
    }

    /// Handshakes over a connected socket for the echo loop: a [`Wire`]
    /// driven through rustls's unbuffered API, bounded by [`HANDSHAKE`].
    pub async fn wire(&self, tcp: tokio::net::TcpStream) -> io::Result<Wire> {
        let conn = UnbufferedClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(io::Error::other)?;
        let mut tls = Box::new(Tls::new(conn));
        tokio::time::timeout(HANDSHAKE, tls.handshake(&tcp))
            .await
            .map_err(|_| io::Error::new(ErrorKind::TimedOut, "TLS handshake timed out"))??;
        Ok(Wire::Tls(tcp.into_std()?, tls))
    }
}

/// How long a bench connection's handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Plaintext encrypted per `send`: four full records.
const SEND_MAX: usize = 4 * 16 * 1024;

/// Ciphertext out per turn: [`SEND_MAX`] encrypted, and handshake and
/// alert records.
const OUT_SIZE: usize = SEND_MAX + 16 * 1024;

/// Ciphertext in per read: a largest record (16 KiB + 256 + header) and
/// the start of the next.
const IN_SIZE: usize = 2 * CHUNK;

/// The buffers every connection of the (single) measuring thread reads
/// into and encrypts into. Shared, they stay in the CPU cache: with a
/// pair per connection, 256 connections' buffers did not, and copying
/// into them cost more than copying twice within the cache. A connection
/// keeps only what is left over between turns (a partial record,
/// ciphertext the socket did not take), usually nothing.
struct Scratch {
    inb: Box<[u8]>,
    out: Box<[u8]>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        inb: vec![0u8; IN_SIZE].into_boxed_slice(),
        out: vec![0u8; OUT_SIZE].into_boxed_slice(),
    });
}

/// One benchmark connection in non-blocking mode: plain, or TLS driven by
/// hand through rustls's unbuffered API ([`Tls`]).
pub enum Wire {
    /// Clear text.
    Plain(TcpStream),
    /// TLS, handshake done.
    Tls(TcpStream, Box<Tls>),
}

/// A TLS client connection over caller-owned buffers. The socket is read
/// straight into a buffer where rustls decrypts the records in place, so
/// the ciphertext is not copied again into rustls's own growing buffer
/// (with the buffered API that copy and its `realloc`s were about a tenth
/// of the generator's CPU in the 256 x 16 KiB TLS echo); records are
/// encrypted into a buffer the socket is written from.
pub struct Tls {
    conn: UnbufferedClientConnection,
    /// Ciphertext read but not processed (a partial record).
    partial: Vec<u8>,
    /// Ciphertext the socket has not taken yet: `unsent[unsent_at..]`.
    unsent: Vec<u8>,
    unsent_at: usize,
    /// Plaintext decrypted beyond what the reader asked for.
    plain: Vec<u8>,
    plain_at: usize,
    /// The server sent close_notify.
    eof: bool,
}

/// The buffers of one turn: ciphertext in at `inb[..inlen]`, ciphertext
/// out appended at `out[out_len..]`.
struct Bufs<'a> {
    inb: &'a mut [u8],
    inlen: usize,
    out: &'a mut [u8],
    out_len: usize,
}

/// What one [`Tls::turn`] did.
#[derive(Default)]
struct Turn {
    /// Plaintext bytes put into the caller's buffer.
    got: usize,
    /// Plaintext bytes encrypted.
    sent: usize,
    /// The connection may send application data (handshake done).
    ready: bool,
}

impl Tls {
    fn new(conn: UnbufferedClientConnection) -> Self {
        Self {
            conn,
            partial: Vec::new(),
            unsent: Vec::new(),
            unsent_at: 0,
            plain: Vec::new(),
            plain_at: 0,
            eof: false,
        }
    }

    /// Runs rustls over the ciphertext in `b` until it waits for more
    /// input or may send: decrypted data goes into `dst` (the rest to
    /// `plain`), records to send into `b.out`, and when it may send, up
    /// to [`SEND_MAX`] of `msg` is encrypted. Consumed input is removed
    /// from the front of `b.inb`.
    fn turn(&mut self, b: &mut Bufs<'_>, dst: &mut [u8], msg: &[u8]) -> io::Result<Turn> {
        let mut t = Turn::default();
        loop {
            let UnbufferedStatus { mut discard, state } =
                self.conn.process_tls_records(&mut b.inb[..b.inlen]);
            let done = match state.map_err(io::Error::other)? {
                ConnectionState::ReadTraffic(mut r) => {
                    while let Some(rec) = r.next_record() {
                        let rec = rec.map_err(io::Error::other)?;
                        discard += rec.discard;
                        let n = rec.payload.len().min(dst.len() - t.got);
                        dst[t.got..t.got + n].copy_from_slice(&rec.payload[..n]);
                        t.got += n;
                        self.plain.extend_from_slice(&rec.payload[n..]);
                    }
                    false
                }
                ConnectionState::EncodeTlsData(mut e) => {
                    match e.encode(&mut b.out[b.out_len..]) {
                        Ok(n) => b.out_len += n,
                        Err(EncodeError::InsufficientSize(_)) => {
                            return Err(io::Error::other("TLS output buffer full"))
                        }
                        Err(e) => return Err(io::Error::other(e)),
                    }
                    false
                }
                // Marked sent now: the caller transmits `b.out` after the turn.
                ConnectionState::TransmitTlsData(tx) => {
                    tx.done();
                    false
                }
                ConnectionState::WriteTraffic(mut w) => {
                    t.ready = true;
                    if !msg.is_empty() && t.sent == 0 {
                        let m = &msg[..msg.len().min(SEND_MAX)];
                        match w.encrypt(m, &mut b.out[b.out_len..]) {
                            Ok(n) => (b.out_len, t.sent) = (b.out_len + n, m.len()),
                            Err(EncryptError::InsufficientSize(_)) => {
                                return Err(io::Error::other("TLS output buffer full"))
                            }
                            Err(e) => return Err(io::Error::other(e)),
                        }
                    }
                    true
                }
                ConnectionState::BlockedHandshake => true,
                ConnectionState::PeerClosed | ConnectionState::Closed => {
                    self.eof = true;
                    true
                }
                other => return Err(io::Error::other(format!("TLS state {other:?}"))),
            };
            if discard > 0 {
                b.inb.copy_within(discard..b.inlen, 0);
                b.inlen -= discard;
            }
            if done {
                return Ok(t);
            }
        }
    }

    /// Sends `out` after what is still unsent; keeps what the socket does
    /// not take.
    fn transmit(&mut self, s: &mut TcpStream, out: &[u8]) -> io::Result<()> {
        if self.has_unsent() {
            self.unsent.extend_from_slice(out);
            return self.flush(s);
        }
        let mut at = 0;
        while at < out.len() {
            match s.write(&out[at..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => at += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        self.unsent.extend_from_slice(&out[at..]);
        Ok(())
    }

    /// Writes the unsent ciphertext until none is left or the socket is
    /// full.
    fn flush(&mut self, s: &mut TcpStream) -> io::Result<()> {
        while self.has_unsent() {
            match s.write(&self.unsent[self.unsent_at..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.unsent_at += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.unsent.clear();
        self.unsent_at = 0;
        Ok(())
    }

    fn has_unsent(&self) -> bool {
        self.unsent_at < self.unsent.len()
    }

    /// Encrypts up to [`SEND_MAX`] of `data` and sends it.
    fn send(&mut self, s: &mut TcpStream, data: &[u8]) -> io::Result<usize> {
        self.flush(s)?;
        if self.has_unsent() {
            return Err(ErrorKind::WouldBlock.into());
        }
        let sent = SCRATCH.with_borrow_mut(|sc| {
            let mut b = Bufs {
                inb: &mut [],
                inlen: 0,
                out: &mut sc.out,
                out_len: 0,
            };
            let t = self.turn(&mut b, &mut [], data)?;
            let n = b.out_len;
            self.transmit(s, &sc.out[..n])?;
            io::Result::Ok(t.sent)
        })?;
        match sent {
            0 if self.eof => Err(ErrorKind::BrokenPipe.into()),
            0 => Err(ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    /// Reads the socket once and decrypts what came: the bytes put into
    /// `buf` (0 when no whole record came; beyond `buf`, into `plain`), or
    /// `None` at the end of the stream.
    fn read_turn(&mut self, s: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
        SCRATCH.with_borrow_mut(|sc| {
            let p = self.partial.len();
            sc.inb[..p].copy_from_slice(&self.partial);
            let n = s.read(&mut sc.inb[p..])?;
            self.partial.clear();
            if n == 0 {
                return Ok(None);
            }
            let mut b = Bufs {
                inb: &mut sc.inb,
                inlen: p + n,
                out: &mut sc.out,
                out_len: 0,
            };
            let t = self.turn(&mut b, buf, &[])?;
            let (left, o) = (b.inlen, b.out_len);
            self.partial.extend_from_slice(&sc.inb[..left]);
            // Records rustls answers by itself (a key update) go out now.
            self.transmit(s, &sc.out[..o])?;
            Ok(Some(t.got))
        })
    }

    /// The handshake, on tokio's non-blocking socket, with its own
    /// buffers (the measuring thread's are not used across an `await`).
    async fn handshake(&mut self, tcp: &tokio::net::TcpStream) -> io::Result<()> {
        let (mut inb, mut out) = (vec![0u8; IN_SIZE], vec![0u8; OUT_SIZE]);
        let mut inlen = 0;
        loop {
            let mut b = Bufs {
                inb: &mut inb,
                inlen,
                out: &mut out,
                out_len: 0,
            };
            let t = self.turn(&mut b, &mut [], &[])?;
            let (left, o) = (b.inlen, b.out_len);
            inlen = left;
            let mut at = 0;
            while at < o {
                tcp.writable().await?;
                match tcp.try_write(&out[at..o]) {
                    Ok(n) => at += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if t.ready {
                self.partial.extend_from_slice(&inb[..inlen]);
                return Ok(());
            }
            if self.eof || inlen == inb.len() {
                return Err(io::Error::other("TLS handshake failed"));
            }
            tcp.readable().await?;
            match tcp.try_read(&mut inb[inlen..]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => inlen += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Wire {
    /// The socket (for epoll).
    pub fn sock(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) | Wire::Tls(s, _) => s,
        }
    }

    /// Like a non-blocking `write`: how much of `data` was taken, or
    /// `WouldBlock` when nothing could be.
    pub fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(data),
            Wire::Tls(s, t) => t.send(s, data),
        }
    }

    /// Sends what TLS still holds; true while some is left.
    pub fn pending(&mut self) -> io::Result<bool> {
        match self {
            Wire::Plain(_) => Ok(false),
            Wire::Tls(s, t) => {
                t.flush(s)?;
                Ok(t.has_unsent())
            }
        }
    }

    /// Like a non-blocking `read` (0 at the end of the stream).
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s, t) => loop {
                if t.plain_at < t.plain.len() {
                    let n = buf.len().min(t.plain.len() - t.plain_at);
                    buf[..n].copy_from_slice(&t.plain[t.plain_at..t.plain_at + n]);
                    t.plain_at += n;
                    if t.plain_at == t.plain.len() {
                        t.plain.clear();
                        t.plain_at = 0;
                    }
                    return Ok(n);
                }
                if t.eof || buf.is_empty() {
                    return Ok(0);
                }
                match t.read_turn(s, buf)? {
                    None => return Ok(0),
                    Some(0) => {}
                    Some(n) => return Ok(n),
                }
            },
        }
    }
}
