//! Exec over TLS (issue 14) over real sockets: the native token proof is
//! bound to the TLS session, so a man in the middle who terminates the
//! client's TLS and opens his own session to the server cannot use the
//! proof he relays; the client's pin, first use and changed certificate;
//! the seed dialects over TLS with OpenSSL's `s_client` and `ncat --ssl`;
//! plain text on a TLS port; and the exposure rule for exec listeners.

wirekit_testkit::kit!();

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kit::{run_with_timeout, stderr_text, temp_dir, wirekit, Scratch, Server};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest as _, Sha256};

const T: Duration = Duration::from_secs(30);
const TOKEN: &str = "0123456789abcdef-exec-over-tls\n";

fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("!!! SKIPPED: {tool} not installed (scripts/install-deps installs it) !!!");
    }
    ok
}

fn sha256_pin(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A scratch directory with the server's state, the token and flag files.
struct Setup {
    dir: Scratch,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let dir = temp_dir(tag);
        std::fs::write(dir.join("token"), TOKEN).unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// `wirekit serve` with a self-signed certificate in this directory.
    fn serve(&self, listens: &[&str], extra: &[&str]) -> Server {
        let state = self.path("state");
        let mut args = vec!["serve", "--tls-self-signed", "--state-dir", &state];
        for l in listens {
            args.extend(["--listen", l]);
        }
        args.extend_from_slice(extra);
        Server::start(&args, listens.len())
    }

    /// A server with native exec over TLS and in clear text, token required.
    fn token_server(&self) -> Server {
        let token = self.path("token");
        self.serve(
            &["exec+tls=127.0.0.1:0", "exec=127.0.0.1:0"],
            &["--exec-token-file", &token],
        )
    }

    /// The pin of the server's certificate, from its PEM file.
    fn pin(&self) -> String {
        let pem = self.dir.join("state/tls-self-signed-cert.pem");
        let der = CertificateDer::from_pem_file(&pem).expect("the server's certificate");
        sha256_pin(&der)
    }

    /// Runs `wirekit exec ADDR OPTS… --token-file TOKEN -- touch FLAG`.
    fn touch(&self, addr: &str, opts: &[&str], flag: &str) -> Output {
        let (token, flag) = (self.path("token"), self.path(flag));
        let mut args = vec!["exec", addr];
        args.extend_from_slice(opts);
        args.extend(["--token-file", &token, "--", "touch", &flag]);
        run_with_timeout(wirekit(&args), b"", T)
    }

    fn exists(&self, flag: &str) -> bool {
        self.dir.join(flag).exists()
    }
}

/// Accepts any server certificate, as a man in the middle would (the
/// handshake signature is still checked).
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A man in the middle for one connection: terminates the client's TLS
/// with its own certificate (`pin`), opens its own TLS session to
/// `upstream`, and forwards the plain bytes both ways.
struct Relay {
    addr: SocketAddr,
    pin: String,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Relay {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let cert = ck.cert.der().clone();
        let pin = sha256_pin(&cert);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (server, client) = (Arc::new(server), Arc::new(client));
        let thread = std::thread::spawn(move || {
            let Ok((down, _)) = listener.accept() else {
                return;
            };
            if let Err(e) = relay(down, upstream, server, client) {
                eprintln!("relay: {e}");
            }
        });
        Relay {
            addr,
            pin,
            thread: Some(thread),
        }
    }

    /// Waits for the relayed connection to end (bounded by its deadline).
    fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn relay(
    down: TcpStream,
    upstream: SocketAddr,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> std::io::Result<()> {
    let up = TcpStream::connect(upstream)?;
    // Short reads: one thread serves both directions, taking turns.
    for s in [&down, &up] {
        s.set_read_timeout(Some(Duration::from_millis(20)))?;
    }
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut down = StreamOwned::new(ServerConnection::new(server).map_err(other)?, down);
    let mut up = StreamOwned::new(ClientConnection::new(client, name).map_err(other)?, up);
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = Instant::now() + T;
    while Instant::now() < deadline {
        if !pump(&mut down, &mut up, &mut buf)? || !pump(&mut up, &mut down, &mut buf)? {
            return Ok(());
        }
    }
    Ok(())
}

fn other(e: rustls::Error) -> std::io::Error {
    std::io::Error::other(e)
}

/// Forwards what `from` has; false once it has ended.
fn pump(from: &mut impl Read, to: &mut impl Write, buf: &mut [u8]) -> std::io::Result<bool> {
    match from.read(buf) {
        Ok(0) => Ok(false),
        Ok(n) => {
            to.write_all(&buf[..n])?;
            to.flush()?;
            Ok(true)
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(true),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[test]
fn a_relayed_proof_fails_and_the_direct_one_runs() {
    let s = Setup::new("exec-tls-relay");
    let srv = s.token_server();
    let tls = srv.addr("exec", "tls");
    let pin = s.pin();
    let direct = s.touch(&tls.to_string(), &["--tls-pin", &pin], "direct");
    assert!(direct.status.success(), "{}", stderr_text(&direct));
    assert!(s.exists("direct"));

    let mitm = Relay::start(tls);
    let relayed = s.touch(&mitm.addr.to_string(), &["--tls-pin", &mitm.pin], "relayed");
    mitm.join();
    let err = stderr_text(&relayed);
    assert_eq!(relayed.status.code(), Some(255), "{err}");
    // The server's own words came back through the relay: it saw the
    // right token's proof, made for another TLS session.
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!s.exists("relayed"), "the relayed command ran");

    // Plain text on loopback keeps the unbound proof.
    let plain = s.touch(&srv.addr("exec", "tcp").to_string(), &[], "plain");
    assert!(plain.status.success(), "{}", stderr_text(&plain));
    assert!(s.exists("plain"));
}

#[test]
fn a_wrong_pin_or_a_changed_certificate_runs_nothing() {
    let s = Setup::new("exec-tls-trust");
    let srv = s.token_server();
    let tls = srv.addr("exec", "tls").to_string();
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let out = s.touch(&tls, &["--tls-pin", &wrong], "pinned");
    let err = stderr_text(&out);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(
        err.contains("does not match --tls-pin") && err.contains(&s.pin()),
        "{err}"
    );
    assert!(!s.exists("pinned"));

    // Trust on first use: remembered, then silent, then a change refused.
    let known = s.path("known_hosts");
    let tofu = ["--tls", "--known-hosts", known.as_str()];
    let first = s.touch(&tls, &tofu, "first");
    assert!(first.status.success(), "{}", stderr_text(&first));
    assert!(stderr_text(&first).contains("trusting"));
    let again = s.touch(&tls, &tofu, "again");
    assert!(again.status.success() && again.stderr.is_empty());
    assert!(s.exists("first") && s.exists("again"));
    std::fs::write(&known, format!("{tls} sha256:{}\n", "cd".repeat(32))).unwrap();
    let changed = s.touch(&tls, &tofu, "changed");
    let err = stderr_text(&changed);
    assert_eq!(changed.status.code(), Some(255), "{err}");
    assert!(err.contains("CHANGED") && err.contains("line 1"), "{err}");
    assert!(!s.exists("changed"));

    // TLS asked of a plain listener: a clear failure, nothing run.
    let plain = srv.addr("exec", "tcp").to_string();
    let out = s.touch(&plain, &["--tls-pin", &s.pin()], "tls-to-plain");
    let err = stderr_text(&out);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("TLS handshake failed"), "{err}");
    assert!(!s.exists("tls-to-plain"));
}

/// A seed-dialect exchange through a shell pipeline: the command, then a
/// pause so the reply arrives before the tool sees its input end.
fn tool(cmd: &str) -> Vec<u8> {
    let mut c = Command::new("sh");
    c.args(["-c", cmd]);
    run_with_timeout(c, b"", T).stdout
}

#[test]
fn seed_dialects_over_tls_with_openssl_ncat_and_wirekit() {
    let s = Setup::new("exec-tls-seed");
    let srv = s.serve(
        &["exec-len+tls=127.0.0.1:0", "exec-ack+tls=127.0.0.1:0"],
        &["--exec-insecure"],
    );
    let len = srv.addr("exec-len", "tls");
    let port = len.port();
    let want = |text: &str| {
        // The seeds' `struct.pack('<i', …)`.
        let mut v = (text.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(text.as_bytes());
        v
    };
    if have("openssl") {
        let cmd = format!(
            "(printf 'echo via-openssl'; sleep 2) | timeout 20 openssl s_client -quiet \
             -no_ign_eof -connect 127.0.0.1:{port} 2>/dev/null"
        );
        assert_eq!(tool(&cmd), want("via-openssl\n"));
    }
    if have("ncat") {
        let cmd =
            format!("(printf 'echo via-ncat'; sleep 2) | timeout 20 ncat --ssl 127.0.0.1 {port}");
        assert_eq!(tool(&cmd), want("via-ncat\n"));
    }
    let pin = s.pin();
    let out = run_with_timeout(
        wirekit(&[
            "exec",
            &len.to_string(),
            "--dialect",
            "len",
            "--tls-pin",
            &pin,
            "--",
            "echo",
            "len over tls",
        ]),
        b"",
        T,
    );
    assert_eq!(out.stdout, b"len over tls\n", "{}", stderr_text(&out));
    // The ack dialect's size, ack, output turns, twice on one session.
    let ack = srv.addr("exec-ack", "tls").to_string();
    let out = run_with_timeout(
        wirekit(&["shell", &ack, "--dialect", "ack", "--tls-pin", &pin]),
        b"echo one\necho two\n",
        T,
    );
    assert_eq!(out.stdout, b"one\ntwo\n", "{}", stderr_text(&out));
}

#[test]
fn plain_text_on_the_tls_port_is_refused_and_others_are_served() {
    let s = Setup::new("exec-tls-plain");
    let srv = s.token_server();
    let tls = srv.addr("exec", "tls");
    // A silent plain connection and one speaking the native protocol in
    // clear text.
    let _silent = TcpStream::connect(tls).unwrap();
    let mut plain = TcpStream::connect(tls).unwrap();
    plain.set_read_timeout(Some(T)).unwrap();
    let hello = r#"{"op":"hello"}"#;
    let mut frame = (hello.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(hello.as_bytes());
    plain.write_all(&frame).unwrap();
    let mut got = Vec::new();
    let t0 = Instant::now();
    let _ = plain.read_to_end(&mut got);
    assert!(t0.elapsed() < Duration::from_secs(10), "plain text held on");
    let text = String::from_utf8_lossy(&got);
    assert!(
        !text.contains("challenge") && !text.contains("ready"),
        "{text}"
    );

    // wirekit's client without --tls is told what the port wants.
    let out = s.touch(&tls.to_string(), &[], "no-tls");
    let err = stderr_text(&out);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("TLS") && err.contains("--tls"), "{err}");
    assert!(!s.exists("no-tls"));

    // Meanwhile a TLS client is served.
    let ok = s.touch(&tls.to_string(), &["--tls-pin", &s.pin()], "served");
    assert!(ok.status.success(), "{}", stderr_text(&ok));
    assert!(s.exists("served"));
}

#[test]
fn exec_off_loopback_runs_over_tls_and_warns_once_for_a_plaintext_listener() {
    let s = Setup::new("exec-tls-exposure");
    let token = s.path("token");
    // Every command service, not only `exec`, is refused in clear text.
    for l in ["exec-len=0.0.0.0:0", "exec-ack=0.0.0.0:0"] {
        let out = run_with_timeout(
            wirekit(&["serve", "--exec-token-file", &token, "--listen", l]),
            b"",
            T,
        );
        let err = stderr_text(&out);
        assert!(!out.status.success(), "{l} started");
        assert!(err.contains("+tls") && err.contains("--plaintext"), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    }
    // Over TLS it needs no --plaintext and draws no warning.
    let srv = s.serve(&["exec+tls=0.0.0.0:0"], &["--exec-token-file", &token]);
    let port = srv.addr("exec", "tls").port();
    let ok = s.touch(
        &format!("127.0.0.1:{port}"),
        &["--tls-pin", &s.pin()],
        "wild",
    );
    assert!(ok.status.success(), "{}", stderr_text(&ok));
    assert!(s.exists("wild"));
    let log = srv.stderr_lines().join("\n");
    assert!(!log.contains("not encrypted"), "{log}");
    drop(srv);
    // With --plaintext: exactly one warning, for the one clear-text
    // listener other hosts reach.
    let srv = s.serve(
        &[
            "exec=0.0.0.0:0",
            "exec+tls=0.0.0.0:0",
            "exec-len=127.0.0.1:0",
        ],
        &["--exec-token-file", &token, "--plaintext"],
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = srv.stderr_lines().join("\n");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("not encrypted"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("0.0.0.0"), "{log}");
}
