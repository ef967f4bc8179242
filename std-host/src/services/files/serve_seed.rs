//! The seeds' dialects on the server: a tokio driver of the core's seed
//! sessions (`wirekit_core::session::files::seed`: seed 000's bare-name
//! download, seed 002's `get`/`put`, seed 004's size/ack/bytes/md5 get).
//! The sessions decide every byte on the wire, the refusals and seed
//! 002's pause between chunks; this driver moves the bytes, keeps the
//! time, and does what a seed 002 upload asks for through its events (the
//! partial file, as for a native `put`: `serve_put`).
//!
//! As in the native dialect, waiting on the client is async, and the
//! session's output (the only place it reads files, through
//! [`HostStore`]) runs on a blocking thread while the previous output is
//! written to the socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use wirekit_core::session::files::seed::{
    Seed000Server, Seed002Server, Seed004Server, SeedSession, MIN_OUTPUT,
};
use wirekit_core::session::files::{self, Event, FileStore, Uploads};

use super::async_conn::AsyncConn;
use super::host_store::{HostStore, Report};
use super::pipeline::{self, Output, Parts};
use super::serve_put::Upload;
use super::Files;

/// Which seed dialect a connection speaks.
#[derive(Debug, Clone, Copy)]
pub enum Seed {
    /// Seed 000's bare-name download.
    S000,
    /// Seed 002's `get`/`put`.
    S002,
    /// Seed 004's get (`files-ack`).
    S004,
}

/// Output buffer during a seed 000 or 004 get: a megabyte per blocking
/// step.
const GET_OUT: usize = 1 << 20;
/// Output buffer during a seed 002 get: one chunk and its header.
const CHUNK_OUT: usize = wirekit_core::service::file::seed002::CHUNK + MIN_OUTPUT;
/// Output buffer for anything else (answers, refusals, sizes).
const SMALL_OUT: usize = 2 * MIN_OUTPUT;

/// One connection's session, whatever its dialect (boxed: each as large
/// as its dialect needs, from ~1 KiB to ~6 KiB).
enum Session {
    S000(Box<Seed000Server<u32>>),
    S002(Box<Seed002Server<u32>>),
    S004(Box<Seed004Server<u32>>),
}

/// Calls the same method on whichever session it is.
macro_rules! each {
    ($s:expr, $x:ident => $e:expr) => {
        match $s {
            Session::S000($x) => $e,
            Session::S002($x) => $e,
            Session::S004($x) => $e,
        }
    };
}

impl SeedSession<u32> for Session {
    fn handle_input<'a>(&mut self, now: u64, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        each!(self, s => s.handle_input(now, input))
    }
    fn poll_output<S: FileStore<File = u32>>(
        &mut self,
        now: u64,
        store: &mut S,
        buf: &mut [u8],
    ) -> Result<usize, files::Error> {
        each!(self, s => s.poll_output(now, store, buf))
    }
    fn is_replying(&self) -> bool {
        each!(self, s => s.is_replying())
    }
    fn wants_close(&self) -> bool {
        each!(self, s => s.wants_close())
    }
    fn is_resting(&self) -> bool {
        each!(self, s => s.is_resting())
    }
    fn poll_timeout(&self) -> Option<u64> {
        each!(self, s => s.poll_timeout())
    }
    fn handle_timeout(&mut self, now: u64) {
        each!(self, s => s.handle_timeout(now))
    }
    fn handle_eof(&mut self) -> Result<(), files::Error> {
        each!(self, s => s.handle_eof())
    }
    fn handle_shutdown(&mut self) {
        each!(self, s => s.handle_shutdown())
    }
}

/// What the session asked for, copied out of it (an event borrows it).
enum Todo {
    Nothing,
    Put,
    Flush,
    End,
    Failed,
}

/// One connection: the session, its store, the upload under way.
struct Driver {
    files: Arc<Files>,
    dialect: Seed,
    uploads: Uploads,
    /// `None` while the client idles between requests.
    session: Option<Session>,
    store: Option<HostStore>,
    up: Option<Upload>,
    report: Report,
    /// The sessions' clock: milliseconds since this instant.
    epoch: Instant,
    /// Output buffer size for the current reply.
    out: usize,
    stopping: bool,
}

/// Serves a connection in `dialect` until it closes.
pub async fn serve(files: &Arc<Files>, conn: &mut AsyncConn, dialect: Seed) -> anyhow::Result<()> {
    let report = conn.report.clone();
    let mut d = Driver {
        files: Arc::clone(files),
        dialect,
        uploads: Uploads {
            policy: files.policy(conn.loopback),
            max_size: files.cfg.max_file_size,
        },
        session: None,
        store: Some(HostStore::new(Arc::clone(files), report.clone())),
        up: None,
        report,
        epoch: Instant::now(),
        out: SMALL_OUT,
        stopping: false,
    };
    let r = d.run(conn).await;
    if let Some(up) = d.up.take() {
        // Seed 002 cannot resume: a cut upload's partial goes.
        let name = up.name.clone();
        up.discard().await;
        if r.is_err() {
            bail!("client closed during the seed 002 upload of {name}");
        }
    }
    r
}

/// Milliseconds since `epoch`.
fn millis(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Driver {
    fn now(&self) -> u64 {
        millis(self.epoch)
    }

    fn session(&mut self) -> anyhow::Result<&mut Session> {
        self.session
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("seed session lost"))
    }

    /// The session, made afresh if it was let go while the client idled.
    fn wake(&mut self) -> &mut Session {
        let (now, files) = (self.now(), &self.files);
        let (dialect, uploads, stopping) = (self.dialect, self.uploads, self.stopping);
        self.session.get_or_insert_with(|| {
            // The runtime's idle watch ends silent connections.
            let idle = u64::MAX;
            let mut s = match dialect {
                Seed::S000 => Session::S000(Box::new(Seed000Server::new(now, idle))),
                Seed::S002 => {
                    let pause = files.cfg.seed002_pause_ms;
                    let s = Seed002Server::new(now, idle, pause).with_uploads(uploads);
                    Session::S002(Box::new(s))
                }
                Seed::S004 => Session::S004(Box::new(Seed004Server::new(now, idle))),
            };
            if stopping {
                s.handle_shutdown();
            }
            s
        })
    }

    /// Between requests, a session that holds nothing of the client's is
    /// dropped with the store's open file.
    fn rest(&mut self) {
        if self.session.as_ref().is_some_and(|s| s.is_resting()) && self.up.is_none() {
            self.session = None;
            if let Some(st) = &mut self.store {
                st.rest();
            }
        }
    }

    async fn run(&mut self, conn: &mut AsyncConn) -> anyhow::Result<()> {
        // The last input step reported an event: ask again before reading
        // (the end of an upload's last chunk needs no more bytes).
        let mut again = false;
        loop {
            self.wake();
            self.write_output(conn).await?;
            let s = self.session()?;
            if s.wants_close() {
                return Ok(());
            }
            if s.is_replying() {
                // Output paused (seed 002 between chunks): wait it out.
                // Its idle limit is the runtime's (u64::MAX here): any
                // other wait would be a session fault, not a pause.
                let Some(due) = s.poll_timeout().filter(|&t| t != u64::MAX) else {
                    bail!("seed session stalled");
                };
                let wait = due.saturating_sub(self.now());
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let now = self.now();
                self.session()?.handle_timeout(now);
                continue;
            }
            if conn.is_drained() && !again && !self.fill(conn).await? {
                return Ok(());
            }
            let todo;
            (todo, again) = self.input(conn)?;
            self.act(todo).await?;
        }
    }

    /// Waits for bytes (or the server's shutdown); false once the session
    /// is over at the client's end of stream.
    async fn fill(&mut self, conn: &mut AsyncConn) -> anyhow::Result<bool> {
        let resting = self.session.as_ref().is_none_or(|s| s.is_resting());
        if resting && self.up.is_none() {
            // Between requests (not while seed 004 waits for its
            // acknowledgement): no transfer-sized buffer is kept.
            conn.shrink();
            self.out = SMALL_OUT;
            self.rest();
        }
        match conn.fill_unless_stopped(self.stopping).await? {
            Some(0) => {}
            Some(_) => return Ok(true),
            None => {
                self.wake();
                return Ok(true);
            }
        }
        match self.wake().handle_eof() {
            Ok(()) => {
                self.write_output(conn).await?;
                Ok(false)
            }
            Err(e) => bail!("{e}"),
        }
    }

    /// Hands the buffered bytes to the session: what to do, and whether
    /// it reported an event.
    fn input(&mut self, conn: &mut AsyncConn) -> anyhow::Result<(Todo, bool)> {
        let (now, dialect) = (self.now(), self.dialect);
        let s = self.wake();
        let (used, ev) = s.handle_input(now, &conn.buf[conn.lo..conn.hi]);
        conn.lo += used;
        let reported = ev.is_some();
        let todo = match ev {
            None if used == 0 && !conn.is_drained() && !s.is_replying() && !s.wants_close() => {
                bail!("seed session made no progress")
            }
            Some(Event::Get) => {
                self.out = match dialect {
                    Seed::S002 => CHUNK_OUT,
                    Seed::S000 | Seed::S004 => GET_OUT,
                };
                Todo::Nothing
            }
            Some(Event::Put) => Todo::Put,
            Some(Event::Data(b)) => match self.up.as_mut().map(|up| up.stage(b)) {
                Some(true) => Todo::Flush,
                _ => Todo::Nothing,
            },
            Some(Event::PutEnd) => Todo::End,
            Some(Event::PutFailed) => Todo::Failed,
            _ => Todo::Nothing,
        };
        Ok((todo, reported))
    }

    /// Does what the session asked for.
    async fn act(&mut self, todo: Todo) -> anyhow::Result<()> {
        match todo {
            Todo::Nothing => {}
            Todo::Put => self.begin_put().await?,
            Todo::Flush => {
                let flushed = match &mut self.up {
                    Some(up) => up.flush().await?,
                    None => Ok(()),
                };
                if let Err(text) = flushed {
                    self.refuse_put(&text).await?;
                }
            }
            Todo::End => self.end_put().await?,
            Todo::Failed => {
                if let Some(up) = self.up.take() {
                    up.discard().await;
                }
            }
        }
        Ok(())
    }

    fn s002(&mut self) -> anyhow::Result<&mut Seed002Server<u32>> {
        match self.session()? {
            Session::S002(s) => Ok(s),
            _ => bail!("upload event from a dialect without uploads"),
        }
    }

    /// Refuses the upload under way with a write error's `text`, which
    /// the answer shows after the name already (`NAME 上传失败: why`);
    /// its partial goes.
    async fn refuse_put(&mut self, text: &str) -> anyhow::Result<()> {
        let why = match &self.up {
            Some(up) => text.strip_prefix(&format!("{}: ", up.name)).unwrap_or(text),
            None => text,
        };
        self.s002()?.put_refused(why);
        if let Some(up) = self.up.take() {
            up.discard().await;
        }
        Ok(())
    }

    /// Opens the partial of an accepted `put` (no force: seed 002 has
    /// none; no resume: it cannot).
    async fn begin_put(&mut self) -> anyhow::Result<()> {
        let Some((name, size)) = self.s002()?.put_request() else {
            bail!("put event without a put");
        };
        let name = name.to_owned();
        // Held until the upload is over, however it ends.
        let Some(slot) = self.files.transfer_slot() else {
            self.s002()?.put_refused("server busy: too many transfers");
            return Ok(());
        };
        match Upload::begin(&self.files, &name, size, false, false).await? {
            Err(text) => self.s002()?.put_refused(&text),
            Ok((up, _, _)) => {
                self.up = Some(up.with_slot(slot));
                self.s002()?.put_ready();
            }
        }
        Ok(())
    }

    /// All chunks arrived, each matching its md5: the commit.
    async fn end_put(&mut self) -> anyhow::Result<()> {
        let Some(mut up) = self.up.take() else {
            return Ok(());
        };
        let md5 = match up.finish().await? {
            Ok(d) => d,
            Err(text) => {
                self.up = Some(up);
                return self.refuse_put(&text).await;
            }
        };
        let (name, size, secs) = (up.name.clone(), up.size, up.secs());
        match up.commit(&self.files, md5).await? {
            Err(text) => self.s002()?.put_refused(&text),
            Ok(()) => {
                tracing::info!(name, size, "files: seed 002 put done");
                self.report.transfer_done("put", "ok", &name, size, secs);
                self.s002()?.put_stored();
            }
        }
        Ok(())
    }

    /// Writes the session's output until it has none for now (the shared
    /// pipeline: the next piece is read while the last one is sent).
    async fn write_output(&mut self, conn: &mut AsyncConn) -> anyhow::Result<()> {
        let parts = Parts {
            session: &mut self.session,
            store: &mut self.store,
            out: self.out,
            stopping: &mut self.stopping,
        };
        let epoch = self.epoch;
        pipeline::write_output(parts, conn, || millis(epoch)).await
    }
}

impl Output for Session {
    fn output_pending(&self) -> bool {
        self.is_replying()
    }

    fn stop_soon(&mut self) {
        SeedSession::handle_shutdown(self);
    }

    /// The session's next piece of output, in a buffer of its own: one
    /// output call fills it with a body's bytes, and a seed 002 chunk
    /// always finds room for itself and its header (so it is read once,
    /// not twice).
    fn produce(
        &mut self,
        now: u64,
        store: &mut HostStore,
        buf: &mut [u8],
    ) -> Result<usize, files::Error> {
        self.poll_output(now, store, buf)
    }
}
