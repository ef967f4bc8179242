//! The floor under issue 14's TLS echo ratio: what the crypto alone costs
//! per 16 KiB record on this machine, and what rustls adds around it. A
//! measurement, not a service (it is not part of the `wirekit` binary).
//!
//! A TLS echo of one record costs four AEAD passes: the client seals, the
//! server opens and seals again, the client opens. Measured here, all in
//! memory and on one thread:
//! - ring's AES-128-GCM (rustls's provider in this workspace, and the
//!   suite wirekit's peers negotiate) sealing and opening in place;
//! - a 16 KiB `memcpy`, the unit of rustls's buffer copies;
//! - one direction of rustls's buffered API (`writer` + `write_tls` on
//!   the sender, `read_tls` + `process_new_packets` + `reader` on the
//!   receiver), as the server's `tokio-rustls` stream and the bench's
//!   client use it;
//! - the same direction through rustls's unbuffered API
//!   (`WriteTraffic::encrypt`, `ReadTraffic::next_record`).
//!
//! Usage: `tls_floor [ROUNDS [PLAIN_SERVER_US PLAIN_CLIENT_US]]`. With the
//! CPU per plain echo of server and generator (from `scripts/bench-tls`
//! or `wirekit-bench --pid`), it prints the highest TLS/plain ratio two
//! CPU-bound processes sharing the cores can reach.
//!
//! Run: `cargo run --release -p wirekit-host --example tls_floor`.

use std::hint::black_box;
use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use rustls::client::{Resumption, UnbufferedClientConnection};
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, UnbufferedStatus};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use wirekit_host::tls::provider;
use wirekit_host::tls::trust::FingerprintVerifier;

/// The server's and the client's configuration.
type Configs = (Arc<ServerConfig>, Arc<ClientConfig>);

/// Plaintext bytes per record: the TLS maximum, as the bench's 16 KiB echo.
const SIZE: usize = 16 * 1024;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: u32 = args.first().map_or(Ok(20_000), |s| s.parse())?;
    let plain: Option<(f64, f64)> = match (args.get(1), args.get(2)) {
        (Some(s), Some(c)) => Some((s.parse()?, c.parse()?)),
        _ => None,
    };
    let (seal, open) = aead(rounds);
    println!(
        "ring AES-128-GCM {SIZE} B in place: seal {:.2} us, open {:.2} us ({:.2} / {:.2} GB/s)",
        us(seal),
        us(open),
        gbps(seal),
        gbps(open)
    );
    println!("memcpy {SIZE} B: {:.2} us", us(memcpy(rounds)));
    let (configs, suite) = configs()?;
    println!("negotiated between wirekit peers: {suite}");
    let (bs, br) = buffered(&configs, rounds)?;
    println!(
        "rustls buffered, one direction: sender {:.2} us, receiver {:.2} us (crypto + {:.2} us)",
        us(bs),
        us(br),
        us(bs + br) - us(seal + open)
    );
    let (us_, ur) = unbuffered(&configs, rounds)?;
    println!(
        "rustls unbuffered, one direction: sender {:.2} us, receiver {:.2} us (crypto + {:.2} us)",
        us(us_),
        us(ur),
        us(us_ + ur) - us(seal + open)
    );
    let floor = 2.0 * us(seal + open);
    let rustls = 2.0 * us(bs + br);
    println!(
        "per echo op: 4 AEAD passes = {floor:.2} us; through buffered rustls = {rustls:.2} us"
    );
    if let Some((s, c)) = plain {
        // Both processes are CPU-bound on the same cores, so the rate
        // follows the CPU per operation of the two together.
        let p = s + c;
        println!(
            "plain echo {p:.1} us/op (server {s} + client {c}): max TLS/plain ratio {:.2} \
             (crypto only), {:.2} (crypto + rustls's buffered copies)",
            p / (p + floor),
            p / (p + rustls)
        );
    }
    Ok(())
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn gbps(d: Duration) -> f64 {
    SIZE as f64 / d.as_secs_f64() / 1e9
}

/// Mean time of ring's AES-128-GCM seal and open of one record, in place,
/// with a TLS 1.3 record header as additional data.
fn aead(rounds: u32) -> (Duration, Duration) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7u8; 16]).expect("key"));
    let mut buf = vec![b'x'; SIZE];
    let (mut seal, mut open) = (Duration::ZERO, Duration::ZERO);
    for i in 0..rounds {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&u64::from(i).to_be_bytes());
        let hdr = [23u8, 3, 3, 0x40, 0x11];
        let t = Instant::now();
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(n), Aad::from(hdr), &mut buf)
            .expect("seal");
        seal += t.elapsed();
        buf.extend_from_slice(tag.as_ref());
        let t = Instant::now();
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(n), Aad::from(hdr), &mut buf)
            .expect("open");
        black_box(plain);
        open += t.elapsed();
        buf.truncate(SIZE);
    }
    (seal / rounds, open / rounds)
}

fn memcpy(rounds: u32) -> Duration {
    let (a, mut b) = (vec![1u8; SIZE], vec![0u8; SIZE]);
    let t = Instant::now();
    for _ in 0..rounds {
        b.copy_from_slice(black_box(&a));
        black_box(&mut b);
    }
    t.elapsed() / rounds
}

/// The server and client configurations of `wirekit serve` and
/// `wirekit-bench` (ring, AES-128-GCM first, no resumption), with a fresh
/// self-signed certificate; and the suite they negotiate.
fn configs() -> anyhow::Result<(Configs, String)> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)?;
    let mut client = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(FingerprintVerifier::new(None, String::new())))
        .with_no_client_auth();
    client.resumption = Resumption::disabled();
    let configs = (Arc::new(server), Arc::new(client));
    let (c, _) = buffered_pair(&configs)?;
    let suite = format!("{:?}", c.negotiated_cipher_suite().map(|s| s.suite()));
    Ok((configs, suite))
}

fn name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("name")
}

/// A buffered client and server, handshake done.
fn buffered_pair(
    (server, client): &Configs,
) -> anyhow::Result<(ClientConnection, ServerConnection)> {
    let mut c = ClientConnection::new(Arc::clone(client), name())?;
    let mut s = ServerConnection::new(Arc::clone(server))?;
    for _ in 0..20 {
        let mut wire = Vec::new();
        c.write_tls(&mut wire)?;
        s.read_tls(&mut &wire[..])?;
        s.process_new_packets()?;
        wire.clear();
        s.write_tls(&mut wire)?;
        c.read_tls(&mut &wire[..])?;
        c.process_new_packets()?;
        if !c.is_handshaking() && !s.is_handshaking() && !s.wants_write() {
            return Ok((c, s));
        }
    }
    anyhow::bail!("buffered handshake did not finish")
}

/// Mean time per record, client to server, through the buffered API: the
/// sender's `writer().write` + `write_tls`, the receiver's `read_tls` +
/// `process_new_packets` + `reader().read`.
fn buffered(configs: &Configs, rounds: u32) -> anyhow::Result<(Duration, Duration)> {
    let (mut c, mut s) = buffered_pair(configs)?;
    let msg = vec![b'x'; SIZE];
    let mut got = vec![0u8; SIZE];
    let mut wire = Vec::with_capacity(2 * SIZE);
    let (mut send, mut recv) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        wire.clear();
        let t = Instant::now();
        c.writer().write_all(&msg)?;
        while c.wants_write() {
            c.write_tls(&mut wire)?;
        }
        send += t.elapsed();
        let t = Instant::now();
        let mut rd = &wire[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd)?;
            s.process_new_packets()?;
        }
        s.reader().read_exact(&mut got)?;
        recv += t.elapsed();
    }
    anyhow::ensure!(got == msg, "buffered: wrong bytes");
    Ok((send / rounds, recv / rounds))
}

/// Runs one unbuffered connection until it blocks on input: handshake
/// records go to `to_peer` (through `scratch`), application data read is
/// appended to `got`.
/// True once it may send application data.
macro_rules! drive {
    ($conn:expr, $incoming:expr, $to_peer:expr, $got:expr, $scratch:expr) => {{
        loop {
            let UnbufferedStatus { mut discard, state } =
                $conn.process_tls_records(&mut $incoming[..]);
            let step = match state? {
                ConnectionState::EncodeTlsData(mut e) => {
                    let n = e.encode(&mut $scratch)?;
                    $to_peer.extend_from_slice(&$scratch[..n]);
                    None
                }
                ConnectionState::TransmitTlsData(t) => {
                    t.done();
                    None
                }
                ConnectionState::ReadTraffic(mut r) => {
                    while let Some(rec) = r.next_record() {
                        let rec = rec?;
                        discard += rec.discard;
                        $got.extend_from_slice(rec.payload);
                    }
                    None
                }
                ConnectionState::BlockedHandshake => Some(false),
                ConnectionState::WriteTraffic(_) => Some(true),
                other => anyhow::bail!("unexpected state {other:?}"),
            };
            $incoming.drain(..discard);
            if let Some(ready) = step {
                break ready;
            }
        }
    }};
}

/// Encrypts `msg` on an unbuffered connection that may send, into `out`.
macro_rules! encrypt {
    ($conn:expr, $msg:expr, $out:expr) => {{
        match $conn.process_tls_records(&mut []).state? {
            ConnectionState::WriteTraffic(mut w) => w.encrypt($msg, $out)?,
            other => anyhow::bail!("cannot send in state {other:?}"),
        }
    }};
}

/// Mean time per record, client to server, through the unbuffered API:
/// the sender's `encrypt` into its outgoing buffer, the receiver's
/// `process_tls_records` + `next_record` + a copy of the payload out.
fn unbuffered((server, client): &Configs, rounds: u32) -> anyhow::Result<(Duration, Duration)> {
    let mut c = UnbufferedClientConnection::new(Arc::clone(client), name())?;
    let mut s = UnbufferedServerConnection::new(Arc::clone(server))?;
    let (mut c_in, mut s_in, mut got) = (Vec::new(), Vec::new(), Vec::new());
    // Handshake records and the server's session tickets pass through it.
    let mut scratch = vec![0u8; 64 * 1024];
    let mut ready = false;
    for _ in 0..20 {
        let c_ready = drive!(c, c_in, s_in, got, scratch);
        let s_ready = drive!(s, s_in, c_in, got, scratch);
        if c_ready && s_ready && c_in.is_empty() && s_in.is_empty() {
            ready = true;
            break;
        }
    }
    anyhow::ensure!(ready, "unbuffered handshake did not finish");
    let msg = vec![b'x'; SIZE];
    let mut out = vec![0u8; SIZE + 1024];
    let mut sink = Vec::new();
    let (mut send, mut recv) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        got.clear();
        let t = Instant::now();
        let n = encrypt!(c, &msg, &mut out);
        send += t.elapsed();
        s_in.extend_from_slice(&out[..n]);
        let t = Instant::now();
        drive!(s, s_in, sink, got, scratch);
        recv += t.elapsed();
        anyhow::ensure!(got.len() == SIZE, "unbuffered: {} bytes", got.len());
    }
    anyhow::ensure!(got == msg, "unbuffered: wrong bytes");
    Ok((send / rounds, recv / rounds))
}
