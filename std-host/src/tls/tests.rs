//! The TLS pieces over real loopback sockets: identities, every way a
//! client trusts a server (and refuses one), client certificates, reload,
//! and handshakes that never finish.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::client::{ClientTls, TlsClientOpts};
use super::identity::self_signed_paths;
use super::server::{ServerTls, TlsServerOpts};

fn temp(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("wk-tls-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn self_signed_opts(state: &Path) -> TlsServerOpts {
    TlsServerOpts {
        tls_self_signed: true,
        state_dir: Some(state.to_path_buf()),
        tls_handshake_timeout: 5.0,
        ..TlsServerOpts::default()
    }
}

/// A TLS echo server on 127.0.0.1 that serves until the test ends.
async fn echo_server(tls: ServerTls) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(mut s) = tls.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 256];
                while let Ok(n @ 1..) = s.read(&mut buf).await {
                    if s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Connects with `opts` and checks a round trip; the error otherwise.
async fn round_trip(opts: &TlsClientOpts, addr: &str, port: u16) -> anyhow::Result<()> {
    let client = ClientTls::from_opts(opts, addr)?.expect("TLS asked for");
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut s = client.connect(tcp).await?;
    s.write_all(b"ping").await?;
    let mut got = [0u8; 4];
    s.read_exact(&mut got).await?;
    anyhow::ensure!(&got == b"ping", "echo came back as {got:?}");
    Ok(())
}

fn pin_opts(pin: &str) -> TlsClientOpts {
    TlsClientOpts {
        tls_pin: Some(pin.into()),
        ..TlsClientOpts::default()
    }
}

#[tokio::test]
async fn a_self_signed_identity_is_made_once_and_reused() {
    let state = temp("ss");
    let a = ServerTls::new(&self_signed_opts(&state)).unwrap();
    let b = ServerTls::new(&self_signed_opts(&state)).unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
    let (_, key) = self_signed_paths(&state);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
}

#[tokio::test]
async fn a_pinned_fingerprint_is_required_exactly() {
    let tls = ServerTls::new(&self_signed_opts(&temp("pin"))).unwrap();
    let fp = tls.fingerprint();
    let port = echo_server(tls).await.port();
    let addr = format!("127.0.0.1:{port}");
    round_trip(&pin_opts(&fp), &addr, port).await.unwrap();
    let wrong = format!("sha256:{}", "00".repeat(32));
    let e = round_trip(&pin_opts(&wrong), &addr, port)
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("--tls-pin"), "{e:#}");
}

#[tokio::test]
async fn trust_on_first_use_remembers_and_refuses_a_changed_certificate() {
    let known = temp("tofu").join("known_hosts");
    let opts = TlsClientOpts {
        tls: true,
        known_hosts: Some(known.clone()),
        ..TlsClientOpts::default()
    };
    let first = ServerTls::new(&self_signed_opts(&temp("tofu-a"))).unwrap();
    let fp = first.fingerprint();
    let port = echo_server(first).await.port();
    // The name the user typed is what is remembered.
    let addr = "Localhost:4433";
    round_trip(&opts, addr, port).await.unwrap();
    let text = std::fs::read_to_string(&known).unwrap();
    assert_eq!(text, format!("localhost:4433 {fp}\n"));
    round_trip(&opts, addr, port).await.unwrap();
    // Another certificate behind the same name: refused, file untouched.
    let other = ServerTls::new(&self_signed_opts(&temp("tofu-b"))).unwrap();
    let port2 = echo_server(other).await.port();
    let e = round_trip(&opts, addr, port2).await.unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("CHANGED") && msg.contains("line 1"), "{msg}");
    assert_eq!(std::fs::read_to_string(&known).unwrap(), text);
}

/// A CA, and a server certificate it issued for `localhost`.
fn ca_and_leaf(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, leaf.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[tokio::test]
async fn a_ca_verifies_the_server_name() {
    let dir = temp("ca");
    let (ca, cert, key) = ca_and_leaf(&dir);
    let tls = ServerTls::new(&TlsServerOpts {
        tls_cert: Some(cert),
        tls_key: Some(key),
        tls_handshake_timeout: 5.0,
        ..TlsServerOpts::default()
    })
    .unwrap();
    let port = echo_server(tls).await.port();
    let mut opts = TlsClientOpts {
        tls_ca: Some(ca.to_str().unwrap().into()),
        ..TlsClientOpts::default()
    };
    round_trip(&opts, &format!("localhost:{port}"), port)
        .await
        .unwrap();
    let e = round_trip(&opts, &format!("127.0.0.1:{port}"), port)
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("certificate"), "{e:#}");
    opts.tls_server_name = Some("localhost".into());
    round_trip(&opts, &format!("127.0.0.1:{port}"), port)
        .await
        .unwrap();
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_set() {
    let dir = temp("mtls");
    let (ca, cert, key) = ca_and_leaf(&dir);
    let mut server = self_signed_opts(&temp("mtls-srv"));
    server.tls_client_ca = Some(ca);
    let tls = ServerTls::new(&server).unwrap();
    let fp = tls.fingerprint();
    let port = echo_server(tls).await.port();
    let addr = format!("127.0.0.1:{port}");
    assert!(round_trip(&pin_opts(&fp), &addr, port).await.is_err());
    let with_cert = TlsClientOpts {
        tls_cert: Some(cert),
        tls_key: Some(key),
        ..pin_opts(&fp)
    };
    round_trip(&with_cert, &addr, port).await.unwrap();
}

#[tokio::test]
async fn reload_swaps_the_certificate_for_new_handshakes_only() {
    let dir = temp("reload");
    let (_, cert, key) = ca_and_leaf(&dir);
    let opts = TlsServerOpts {
        tls_cert: Some(cert.clone()),
        tls_key: Some(key.clone()),
        tls_handshake_timeout: 5.0,
        ..TlsServerOpts::default()
    };
    let tls = ServerTls::new(&opts).unwrap();
    let old = tls.fingerprint();
    let port = echo_server(tls.clone()).await.port();
    let addr = format!("127.0.0.1:{port}");
    let client = ClientTls::from_opts(&pin_opts(&old), &addr)
        .unwrap()
        .unwrap();
    let mut open = client
        .connect(TcpStream::connect(("127.0.0.1", port)).await.unwrap())
        .await
        .unwrap();
    let (_, cert2, key2) = ca_and_leaf(&temp("reload2"));
    // A broken file keeps the old certificate in use.
    std::fs::write(&cert, "garbage").unwrap();
    assert!(tls.reload().is_err());
    assert_eq!(tls.fingerprint(), old);
    std::fs::copy(&cert2, &cert).unwrap();
    std::fs::copy(&key2, &key).unwrap();
    let new = tls.reload().unwrap();
    assert_ne!(new, old);
    round_trip(&pin_opts(&new), &addr, port).await.unwrap();
    assert!(round_trip(&pin_opts(&old), &addr, port).await.is_err());
    // The connection made before the reload goes on.
    open.write_all(b"still").await.unwrap();
    let mut got = [0u8; 5];
    open.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"still");
}

#[tokio::test]
async fn silent_and_plain_text_peers_fail_the_handshake_in_bounded_time() {
    let mut opts = self_signed_opts(&temp("hs"));
    opts.tls_handshake_timeout = 0.5;
    let tls = ServerTls::new(&opts).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    // Silent: connects and sends nothing.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let (tcp, _) = l.accept().await.unwrap();
    let t0 = Instant::now();
    let e = tls.accept(tcp).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3), "{e:#}");
    assert!(format!("{e:#}").contains("not completed"), "{e:#}");
    // Plain text: refused at once, not after the timeout.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let (tcp, _) = l.accept().await.unwrap();
    let e = tls.accept(tcp).await.unwrap_err();
    assert!(format!("{e:#}").contains("handshake failed"), "{e:#}");
}

#[test]
fn no_identity_is_a_clear_error() {
    let e = ServerTls::new(&TlsServerOpts::default()).unwrap_err();
    assert!(format!("{e:#}").contains("--tls-self-signed"), "{e:#}");
}

/// wirekit's own client and server agree on TLS 1.3 with AES-128-GCM (the
/// cheaper suite on AES-capable CPUs), and the provider still offers every
/// suite ring does, so no peer loses a suite it could use before.
#[tokio::test]
async fn wirekit_peers_negotiate_tls13_aes_128_gcm() {
    let tls = ServerTls::new(&self_signed_opts(&temp("suite"))).unwrap();
    let fp = tls.fingerprint();
    let port = echo_server(tls).await.port();
    let client = ClientTls::from_opts(&pin_opts(&fp), &format!("127.0.0.1:{port}"))
        .unwrap()
        .expect("TLS asked for");
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let s = client.connect(tcp).await.unwrap();
    let conn = s.get_ref().1;
    assert_eq!(
        conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
    assert_eq!(suite, Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256));
    let ours: std::collections::BTreeSet<u16> = super::provider()
        .cipher_suites
        .iter()
        .map(|s| u16::from(s.suite()))
        .collect();
    let ring: std::collections::BTreeSet<u16> = rustls::crypto::ring::default_provider()
        .cipher_suites
        .iter()
        .map(|s| u16::from(s.suite()))
        .collect();
    assert_eq!(ours, ring);
}
