//! The exec handlers and clients against each other over real loopback
//! sockets, without the `serve` framework (that is covered by exec.rs and
//! the other integration tests). Here rather than beside either module:
//! the services must not import the clients, nor the clients the services.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;

use wirekit_host::client::exec::{ClientArgs, ClientDialect, Session};
use wirekit_host::services::exec::server::{handle, Flavor};
use wirekit_host::services::exec::{ExecArgs, ExecService};

#[derive(Parser)]
struct T {
    #[command(flatten)]
    exec: ExecArgs,
}

async fn start(flavor: Flavor, opts: &[&str]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let args = T::try_parse_from(std::iter::once("t").chain(opts.iter().copied()))
        .unwrap()
        .exec;
    let svc = Arc::new(ExecService::new(&args).unwrap());
    tokio::spawn(async move {
        loop {
            let (s, peer) = listener.accept().await.unwrap();
            let svc = svc.clone();
            tokio::spawn(async move { handle(flavor, s, peer, svc, Vec::new()).await });
        }
    });
    addr
}

/// Runs `cmds` over one connection; returns (stdout, stderr, code) each.
async fn session(
    addr: SocketAddr,
    dialect: ClientDialect,
    cmds: &[&[u8]],
) -> Vec<(Vec<u8>, Vec<u8>, i32)> {
    let cmds: Vec<Vec<u8>> = cmds.iter().map(|c| c.to_vec()).collect();
    tokio::task::spawn_blocking(move || {
        let args = ClientArgs {
            addr: addr.to_string(),
            token_file: None,
            dialect,
            timeout: 10,
            idle_timeout: 60,
            tls: Default::default(),
        };
        let mut s = Session::connect(&args).unwrap();
        cmds.iter()
            .map(|c| {
                let (mut out, mut err) = (Vec::new(), Vec::new());
                let code = s.run(c, &mut out, &mut err).unwrap();
                (out, err, code)
            })
            .collect()
    })
    .await
    .unwrap()
}

const BIG: &[u8] = b"head -c 100000 /dev/zero | tr '\\0' x";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_separates_streams_and_reports_exit_code() {
    let addr = start(Flavor::Exec, &["--exec-insecure"]).await;
    let r = session(
        addr,
        ClientDialect::Native,
        &[b"echo out; echo err >&2; exit 7"],
    )
    .await;
    assert_eq!(r[0], (b"out\n".to_vec(), b"err\n".to_vec(), 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sticky_packets_in_any_dialect() {
    for (flavor, dialect) in [
        (Flavor::Exec, ClientDialect::Native),
        (Flavor::Exec, ClientDialect::Exec),
        (Flavor::Len, ClientDialect::Len),
        (Flavor::Ack, ClientDialect::Ack),
    ] {
        let addr = start(flavor, &["--exec-insecure"]).await;
        let r = session(
            addr,
            dialect,
            &[BIG, b"echo second", b"true", b"echo third"],
        )
        .await;
        assert_eq!(r[0].0, vec![b'x'; 100_000], "{dialect:?}");
        assert_eq!(r[1].0, b"second\n", "{dialect:?}");
        assert_eq!(r[2].0, b"", "{dialect:?}");
        assert_eq!(r[3].0, b"third\n", "{dialect:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_raw_bytes() {
    let addr = start(Flavor::Exec, &["--exec-insecure"]).await;
    let cmd = b"printf '\\377\\376\\344\\275'; printf '\\200' >&2";
    let r = session(addr, ClientDialect::Native, &[cmd]).await;
    assert_eq!(
        (&r[0].0[..], &r[0].1[..]),
        (&b"\xff\xfe\xe4\xbd"[..], &b"\x80"[..])
    );
    let r = session(addr, ClientDialect::Exec, &[cmd]).await;
    assert_eq!(r[0].0, b"\xff\xfe\xe4\xbd\x80");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_truncates_with_a_marker() {
    let addr = start(
        Flavor::Exec,
        &["--exec-insecure", "--exec-max-output", "1000"],
    )
    .await;
    let r = session(addr, ClientDialect::Native, &[b"yes", b"echo after"]).await;
    assert_eq!(r[0].0.len(), 1000);
    let err = String::from_utf8_lossy(&r[0].1);
    assert!(err.contains("output truncated at 1000 bytes"), "{err}");
    assert_eq!(r[0].2, 137);
    assert_eq!(r[1].0, b"after\n");
    let r = session(addr, ClientDialect::Exec, &[b"yes"]).await;
    assert!(r[0].0.starts_with(b"y\ny\n"));
    assert!(String::from_utf8_lossy(&r[0].0)
        .ends_with("output truncated at 1000 bytes; process group killed]\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_refuses_readably() {
    let addr = start(
        Flavor::Exec,
        &["--exec-insecure", "--exec-max-concurrent", "1"],
    )
    .await;
    let flag = std::env::temp_dir().join(format!("wirekit-exec-slot-{}", std::process::id()));
    let _ = std::fs::remove_file(&flag);
    let slow_cmd = format!("touch {}; sleep 2; echo done", flag.display()).into_bytes();
    let slow =
        tokio::spawn(async move { session(addr, ClientDialect::Native, &[&slow_cmd]).await });
    // Wait (bounded) until the slow command holds the only slot.
    for _ in 0..200 {
        if flag.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(flag.exists(), "the slow command started");
    let r = session(addr, ClientDialect::Native, &[b"echo hi"]).await;
    assert_eq!(r[0].2, 255);
    assert!(String::from_utf8_lossy(&r[0].1).contains("too many commands running (limit 1)"));
    assert_eq!(slow.await.unwrap()[0].0, b"done\n");
    let _ = std::fs::remove_file(&flag);
}
