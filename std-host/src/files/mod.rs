//! File transfer (`files`, issue 5): the server for the native protocol
//! and the seeds' dialects, and the `get`/`put`/`ls` clients.
//!
//! The protocol logic lives in `wirekit_core::service::file`; this module
//! moves bytes between sockets, the confined [`store::Store`] and the
//! core's decoders. Connections are served on blocking threads: file I/O
//! is blocking anyway, and one straight-line function per exchange keeps
//! the order of reads, writes, fsyncs and renames obvious.

pub mod client;
mod client_seed;
pub mod conn;
mod hasher;
mod partials;
mod progress;
mod serve_native;
mod serve_seed;
mod sink;
pub mod store;

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wirekit_core::service::file::dialect::{detect, Detect, Dialect};

use crate::serve::conn::Activity;
use crate::serve::Launch;

use conn::Conn;
use store::Store;

/// Server settings (`wirekit serve` flags).
#[derive(Debug, Clone, clap::Args)]
pub struct FilesConfig {
    /// Directory served by `files` and `files-ack` (created if missing).
    #[arg(long = "root", default_value = "./wirekit-files")]
    pub root: PathBuf,
    /// Largest file a client may upload, in bytes.
    #[arg(long = "files-max-size", default_value_t = 64 << 30)]
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
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            root: PathBuf::from("./wirekit-files"),
            max_file_size: 64 << 30,
            max_transfers: 16,
            seed002_pause_ms: 50,
            partial_ttl: Duration::from_secs(86_400),
        }
    }
}

/// The shared state of the `files` and `files-ack` listeners.
pub struct Files {
    store: Store,
    cfg: FilesConfig,
    active: Arc<AtomicUsize>,
    sweeping: AtomicBool,
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
fn shared(l: &Launch) -> anyhow::Result<Arc<Files>> {
    l.shared(|| Files::open(l.args().files.clone()))
}

/// Starts the `files` service (native, seed 000 and seed 002 dialects).
pub fn start(l: &Launch, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    start_listener(l, addr, "files", false)
}

/// Starts the `files-ack` service (seed 004's exchange).
pub fn start_ack(l: &Launch, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    start_listener(l, addr, "files-ack", true)
}

fn start_listener(
    l: &Launch,
    addr: std::net::SocketAddr,
    name: &'static str,
    ack: bool,
) -> anyhow::Result<()> {
    let files = shared(l)?;
    if !files.sweeping.swap(true, Ordering::AcqRel) {
        l.spawn(sweep_partials(Arc::clone(&files), l.shutdown()));
    }
    let idle = l.idle_timeout();
    l.tcp(name, addr, move |conn, _ctx| {
        Arc::clone(&files).serve_tokio(conn, ack, idle)
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
        Ok(Files {
            store,
            cfg,
            active: Arc::new(AtomicUsize::new(0)),
            sweeping: AtomicBool::new(false),
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

    /// Serves one connection of the `files` listener (`ack == false`) or
    /// the `files-ack` listener (seed 004) until it closes. Blocking; a
    /// read or write silent for `idle` ends it, and every byte moved
    /// touches `activity` (the accept loop's idle watch).
    pub fn serve(
        &self,
        stream: TcpStream,
        ack: bool,
        idle: Option<Duration>,
        activity: Option<Activity>,
    ) -> anyhow::Result<()> {
        stream.set_read_timeout(idle)?;
        stream.set_write_timeout(idle)?;
        stream.set_nodelay(true)?;
        let mut conn = Conn::new(stream);
        conn.activity = activity;
        if ack {
            return serve_seed::serve_seed004(self, &mut conn);
        }
        let Some(dialect) = self.detect(&mut conn, idle)? else {
            return Ok(());
        };
        tracing::debug!(?dialect, "files connection");
        match dialect {
            Dialect::Native => serve_native::serve(self, &mut conn),
            Dialect::Seed000 => serve_seed::serve_seed000(self, &mut conn),
            Dialect::Seed002 => serve_seed::serve_seed002(self, &mut conn),
        }
    }

    /// Async entry point for the shared accept loop: runs
    /// [`Files::serve`] on a blocking thread.
    pub async fn serve_tokio(
        self: Arc<Self>,
        conn: crate::serve::Conn,
        ack: bool,
        idle: Option<Duration>,
    ) -> anyhow::Result<()> {
        let (stream, activity) = conn.into_parts();
        let std = stream.into_std()?;
        std.set_nonblocking(false)?;
        tokio::task::spawn_blocking(move || self.serve(std, ack, idle, Some(activity))).await?
    }

    fn detect(&self, conn: &mut Conn, idle: Option<Duration>) -> anyhow::Result<Option<Dialect>> {
        if conn.fill()? == 0 {
            return Ok(None);
        }
        loop {
            if let Detect::Known(d) = detect(&conn.buf[conn.lo..conn.hi], false) {
                return Ok(Some(d));
            }
            conn.stream.set_read_timeout(Some(DETECT_WAIT))?;
            let more = conn.fill();
            conn.stream.set_read_timeout(idle)?;
            match more {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(match detect(&conn.buf[conn.lo..conn.hi], true) {
                Detect::Known(d) => Some(d),
                Detect::NeedMore => None,
            });
        }
    }
}

#[cfg(test)]
mod tests;
