//! File transfer (`files`, issue 5): the server for the native protocol
//! and the seeds' dialects (the `get`/`put`/`ls` clients are in
//! `client::files`).
//!
//! The protocol logic lives in `wirekit_core::service::file`; this module
//! moves bytes between sockets, the confined [`store::Store`] and the
//! core's decoders. Connections are served as async tasks, so an idle or
//! slow client holds no thread; the file system is used in short blocking
//! steps ([`Files::blocking`]), each one straight-line code, so the order
//! of reads, writes, fsyncs and renames stays obvious.

mod async_conn;
mod auth;
mod host_store;
mod partials;
mod pipeline;
mod serve_native;
mod serve_put;
mod serve_seed;
pub mod store;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wirekit_core::service::file::dialect::{detect, Detect, Dialect};

use crate::runtime::Launch;

use async_conn::AsyncConn;
use serve_seed::Seed;
use store::Store;

/// Server settings (`wirekit serve` flags).
#[derive(Debug, Clone, clap::Args)]
pub struct FilesConfig {
    /// Directory served by `files` and `files-ack` (created if missing).
    #[arg(long = "root", default_value = "./wirekit-files")]
    pub root: PathBuf,
    /// Largest file a client may upload (bytes, or with K/M/G/T: 64G).
    #[arg(long = "files-max-size", value_name = "SIZE", default_value_t = 64 << 30,
          value_parser = crate::runtime::parse_size)]
    pub max_file_size: u64,
    /// Most transfers (gets and puts) running at once.
    #[arg(long = "files-max-transfers", default_value_t = 16)]
    pub max_transfers: usize,
    /// Pause after each seed 002 chunk in milliseconds: the seed client
    /// reads a chunk with `recv(1024)` and would swallow the next frame's
    /// header if it arrived early (the seed server sleeps 10 ms per line).
    #[arg(long = "files-seed002-pause-ms", default_value_t = 50)]
    pub seed002_pause_ms: u64,
    /// Remove upload partials (kept for `put --resume`) untouched for
    /// this long: seconds, or with a unit (`90m`, `12h`, `1d`). Swept at
    /// start-up and periodically.
    #[arg(long = "files-partial-ttl", value_name = "TTL", default_value = "1d",
          value_parser = partials::parse_ttl)]
    pub partial_ttl: Duration,
    /// File holding the upload token (at least 16 bytes; surrounding
    /// whitespace is ignored). Uploads then need it (`wirekit put
    /// --token-file`), on every listener; reading needs nothing.
    #[arg(long = "files-token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Accept uploads without a token on listeners beyond loopback (by
    /// default they are read-only there). Anyone who can reach the port
    /// may then upload.
    #[arg(long = "files-writable", conflicts_with = "token_file")]
    pub writable: bool,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            root: PathBuf::from("./wirekit-files"),
            max_file_size: 64 << 30,
            max_transfers: 16,
            seed002_pause_ms: 50,
            partial_ttl: Duration::from_secs(86_400),
            token_file: None,
            writable: false,
        }
    }
}

/// The shared state of the `files` and `files-ack` listeners.
pub struct Files {
    store: Store,
    cfg: FilesConfig,
    active: Arc<AtomicUsize>,
    sweeping: AtomicBool,
    metrics: Option<crate::metrics::Metrics>,
    /// The upload token (`--files-token-file`).
    token: Option<Vec<u8>>,
    /// Failed proofs per source address.
    throttle: crate::runtime::throttle::Throttle,
}

/// Counts a running transfer; released on drop.
pub struct TransferSlot(Arc<AtomicUsize>);

impl Drop for TransferSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The run's one [`Files`], shared by `files` and `files-ack` so the
/// transfer limit and the md5 cache cover both.
fn shared(l: &Launch, s: &crate::services::Shared) -> anyhow::Result<Arc<Files>> {
    s.files.get_or_try_init(|| {
        let mut f = Files::open(s.opts.files.clone())?;
        f.metrics = Some(l.metrics().clone());
        Ok(f)
    })
}

/// Starts the `files` service (native, seed 000 and seed 002 dialects).
pub fn start(
    l: &Launch,
    s: &crate::services::Shared,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    start_listener(l, s, addr, "files", false)
}

/// Starts the `files-ack` service (seed 004's exchange).
pub fn start_ack(
    l: &Launch,
    s: &crate::services::Shared,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    start_listener(l, s, addr, "files-ack", true)
}

fn start_listener(
    l: &Launch,
    s: &crate::services::Shared,
    addr: std::net::SocketAddr,
    name: &'static str,
    ack: bool,
) -> anyhow::Result<()> {
    let files = shared(l, s)?;
    if !files.sweeping.swap(true, Ordering::AcqRel) {
        l.spawn(sweep_partials(Arc::clone(&files), l.shutdown()));
    }
    let events = l.events().clone();
    // The listen address decides, not the client's: a wildcard listener
    // is reachable from other hosts whoever connects first.
    let loopback = crate::runtime::is_local(addr.ip());
    l.tcp(name, addr, move |conn, ctx: crate::runtime::ConnCtx| {
        let events = (events.clone(), ctx.peer);
        Arc::clone(&files).serve_tokio(conn, ack, loopback, ctx.shutdown, Some(events))
    })
}

/// Removes expired upload partials every [`partials::period`] until
/// shutdown (the first sweep ran when the store was opened).
async fn sweep_partials(files: Arc<Files>, shutdown: tokio_util::sync::CancellationToken) {
    let ttl = files.cfg.partial_ttl;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(partials::period(ttl)) => {}
        }
        let f = Arc::clone(&files);
        let _ = tokio::task::spawn_blocking(move || partials::sweep(&f.store, ttl)).await;
    }
}

/// How long to wait for more of a first message shorter than four bytes
/// before deciding it is a seed 000 file name.
const DETECT_WAIT: Duration = Duration::from_millis(300);

impl Files {
    /// Opens (creating if needed) the root directory.
    pub fn open(cfg: FilesConfig) -> anyhow::Result<Files> {
        let store = Store::open(&cfg.root)
            .with_context(|| format!("opening files root {}", cfg.root.display()))?;
        partials::sweep(&store, cfg.partial_ttl);
        let token = cfg
            .token_file
            .as_deref()
            .map(auth::read_token)
            .transpose()?;
        Ok(Files {
            token,
            throttle: crate::runtime::throttle::Throttle::new(Default::default()),
            store,
            cfg,
            active: Arc::new(AtomicUsize::new(0)),
            sweeping: AtomicBool::new(false),
            metrics: None,
        })
    }

    /// [`Files::open`], shareable between connections.
    pub fn new(cfg: FilesConfig) -> anyhow::Result<Arc<Files>> {
        Files::open(cfg).map(Arc::new)
    }

    /// A transfer slot, or `None` if `max_transfers` are running.
    pub fn transfer_slot(&self) -> Option<TransferSlot> {
        let n = self.active.fetch_add(1, Ordering::AcqRel);
        let slot = TransferSlot(Arc::clone(&self.active));
        (n < self.cfg.max_transfers).then_some(slot)
    }

    /// Runs `f` on a blocking thread: file system calls may block, and
    /// must not stall the connections the runtime is serving meanwhile.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Files) -> T + Send + 'static,
    {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| anyhow::anyhow!("file task failed: {e}"))
    }

    /// Serves one connection of the `files` listener (`ack == false`) or
    /// the `files-ack` listener (seed 004) until it closes. Every wait on
    /// the client is async, so an idle connection holds no thread; the
    /// accept loop's idle watch ends a silent one. `loopback`: the
    /// listener's address is a loopback one (uploads are then allowed
    /// without a token, see `wirekit_core::service::file::access`).
    pub async fn serve_tokio(
        self: Arc<Self>,
        conn: crate::runtime::Conn,
        ack: bool,
        loopback: bool,
        shutdown: tokio_util::sync::CancellationToken,
        events: Option<(crate::runtime::events::Events, std::net::SocketAddr)>,
    ) -> anyhow::Result<()> {
        let mut conn = AsyncConn::new(conn, shutdown);
        conn.report = host_store::Report {
            metrics: self.metrics.clone(),
            events,
        };
        conn.loopback = loopback;
        if ack {
            return Box::pin(serve_seed::serve(&self, &mut conn, Seed::S004)).await;
        }
        let Some(dialect) = detect_dialect(&mut conn).await? else {
            return Ok(());
        };
        tracing::debug!(?dialect, "files connection");
        // Boxed: an idle connection's task stays small while it waits.
        match dialect {
            Dialect::Native => Box::pin(serve_native::serve(&self, &mut conn)).await,
            Dialect::Seed000 => Box::pin(serve_seed::serve(&self, &mut conn, Seed::S000)).await,
            Dialect::Seed002 => Box::pin(serve_seed::serve(&self, &mut conn, Seed::S002)).await,
        }
    }
}

/// Tells the dialects apart from the first bytes; `None` if the client
/// closed first.
async fn detect_dialect(conn: &mut AsyncConn) -> anyhow::Result<Option<Dialect>> {
    // A connection that has said nothing by shutdown just closes.
    if conn.next_request().await? != Some(true) {
        return Ok(None);
    }
    loop {
        if let Detect::Known(d) = detect(&conn.buf[conn.lo..conn.hi], false) {
            return Ok(Some(d));
        }
        match tokio::time::timeout(DETECT_WAIT, conn.fill()).await {
            Ok(Ok(n)) if n > 0 => continue,
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => return Err(e.into()),
        }
        return Ok(match detect(&conn.buf[conn.lo..conn.hi], true) {
            Detect::Known(d) => Some(d),
            Detect::NeedMore => None,
        });
    }
}
