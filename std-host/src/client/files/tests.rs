//! In-process tests: the server on a loopback listener thread, the
//! clients' functions against it.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use super as client;
use super::{ClientDialect, Common, GetArgs, PutArgs};
use crate::runtime::conn::{Activity, Tracked};
use crate::services::files::{Files, FilesConfig};

/// A scratch directory removed again when the test ends (also on panic).
struct Temp(tempfile::TempDir);

impl std::ops::Deref for Temp {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Temp {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

fn temp(tag: &str) -> Temp {
    let dir = tempfile::Builder::new()
        .prefix(&format!("wirekit-files-unit-{tag}-"))
        .tempdir()
        .unwrap();
    Temp(dir)
}

fn start(root: &Path, ack: bool) -> SocketAddr {
    let cfg = FilesConfig {
        root: root.to_path_buf(),
        seed002_pause_ms: 1,
        ..FilesConfig::default()
    };
    let files = Files::new(cfg).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    // The server's own runtime, as `wirekit serve` runs it.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            while let Ok((s, _)) = l.accept().await {
                let conn = Tracked::new(crate::runtime::stream::Stream::Plain(s), Activity::new());
                let f = files.clone();
                tokio::spawn(f.serve_tokio(conn, ack, true, Default::default(), None));
            }
        });
    });
    addr
}

fn common(dialect: ClientDialect) -> Common {
    Common {
        dialect,
        timeout: 10,
        tls: Default::default(),
    }
}

fn get_args(addr: SocketAddr, remote: &str, out: &Path, dialect: ClientDialect) -> GetArgs {
    GetArgs {
        addr: addr.to_string(),
        remote: remote.into(),
        output: Some(out.to_path_buf()),
        resume: false,
        restart: false,
        force: false,
        common: common(dialect),
    }
}

fn put_args(addr: SocketAddr, local: &Path, remote: &str) -> PutArgs {
    PutArgs {
        addr: addr.to_string(),
        local: local.to_path_buf(),
        remote: Some(remote.into()),
        force: false,
        resume: false,
        token_file: None,
        common: common(ClientDialect::Native),
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn native_put_get_round_trip_and_overwrite_rules() {
    let (root, work) = (temp("root"), temp("work"));
    let addr = start(&root, false);
    let content = data(1_000_003);
    let local = work.join("src.bin");
    std::fs::write(&local, &content).unwrap();
    client::put(&put_args(addr, &local, "dir/a.bin")).unwrap();
    assert_eq!(std::fs::read(root.join("dir/a.bin")).unwrap(), content);
    let err = client::put(&put_args(addr, &local, "dir/a.bin")).unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
    let mut forced = put_args(addr, &local, "dir/a.bin");
    forced.force = true;
    client::put(&forced).unwrap();
    let out = work.join("back.bin");
    client::get(&get_args(addr, "dir/a.bin", &out, ClientDialect::Native)).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), content);
    assert!(!work.join(".back.bin.wirekit-part").exists());
}

#[test]
fn hostile_names_are_refused() {
    let (root, work) = (temp("root"), temp("work"));
    let outside = temp("outside");
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), root.join("link")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("dirlink")).unwrap();
    let addr = start(&root, false);
    for name in ["../../etc/passwd", "/etc/passwd", "link", "dirlink/secret"] {
        let out = work.join("x");
        let err = client::get(&get_args(addr, name, &out, ClientDialect::Native)).unwrap_err();
        assert!(format!("{err:#}").contains("refused"), "{name}: {err:#}");
        assert!(!out.exists());
    }
    let local = work.join("up");
    std::fs::write(&local, b"data").unwrap();
    let err = client::put(&put_args(addr, &local, "dirlink/new")).unwrap_err();
    assert!(format!("{err:#}").contains("refused"), "{err:#}");
    assert!(!outside.join("new").exists());
}

#[test]
fn resumed_put_keeps_the_partial_prefix() {
    let (root, work) = (temp("root"), temp("work"));
    let addr = start(&root, false);
    let content = data(300_000);
    std::fs::write(root.join(".r.bin.wirekit-part"), &content[..120_000]).unwrap();
    let local = work.join("r.bin");
    std::fs::write(&local, &content).unwrap();
    let mut args = put_args(addr, &local, "r.bin");
    args.resume = true;
    client::put(&args).unwrap();
    assert_eq!(std::fs::read(root.join("r.bin")).unwrap(), content);
    assert!(!root.join(".r.bin.wirekit-part").exists());
}

#[test]
fn resumed_get_completes_the_local_partial() {
    let (root, work) = (temp("root"), temp("work"));
    let addr = start(&root, false);
    let content = data(500_000);
    std::fs::write(root.join("g.bin"), &content).unwrap();
    let out = work.join("g.bin");
    std::fs::write(work.join(".g.bin.wirekit-part"), &content[..77_777]).unwrap();
    let mut args = get_args(addr, "g.bin", &out, ClientDialect::Native);
    args.resume = true;
    client::get(&args).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), content);
}

#[test]
fn seed_dialect_clients_against_the_server() {
    let (root, work) = (temp("root"), temp("work"));
    let addr = start(&root, false);
    let ack = start(&root, true);
    let content = data(200_001);
    std::fs::write(root.join("s.bin"), &content).unwrap();
    for (d, a) in [
        (ClientDialect::Seed000, addr),
        (ClientDialect::Seed002, addr),
        (ClientDialect::Seed004, ack),
    ] {
        let out = work.join(format!("{d:?}.bin"));
        client::get(&get_args(a, "s.bin", &out, d)).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), content, "{d:?}");
        let err = client::get(&get_args(a, "missing.bin", &out, d)).unwrap_err();
        assert!(
            format!("{err:#}").contains("missing.bin") || format!("{err:#}").contains("no such"),
            "{d:?}: {err:#}"
        );
    }
    let local = work.join("up.bin");
    std::fs::write(&local, &content).unwrap();
    let mut args = put_args(addr, &local, "up.bin");
    args.common.dialect = ClientDialect::Seed002;
    client::put(&args).unwrap();
    assert_eq!(std::fs::read(root.join("up.bin")).unwrap(), content);
}
