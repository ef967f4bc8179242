//! The `wirekit get`, `put` and `ls` clients. The native protocol is the
//! default; `--dialect` talks to the seeds' own Python servers.
//!
//! A download goes to `.NAME.wirekit-part` beside the final name and gets
//! that name only after its md5 matched; an interrupted download keeps
//! the partial for `--resume`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use wirekit_core::codec::frame::{Event, FrameDecoder, Limits};
use wirekit_core::md5::Md5;
use wirekit_core::service::file::name;
use wirekit_core::service::file::native::{self, refusal, Transfer, TransferEvent, HEADER_CAP};
use wirekit_core::wire::{Digest, Header};

use crate::client::visible::{visible, Newlines};

use super::client_seed;
use super::conn::Conn;
use super::hasher::BgHasher;
use super::progress::Progress;
use super::serve_native::send;
use super::sink::Sink;
use super::store::{hash_prefix, IO_CHUNK};

/// Which server the client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientDialect {
    /// wirekit's own protocol (resume, force, listings).
    Native,
    /// Seed 000's download server (bare file name).
    Seed000,
    /// Seed 002's FTP server (`get`/`put` with per-chunk md5).
    Seed002,
    /// Seed 004's FTP server (size, ack, bytes, md5).
    Seed004,
}

/// Options shared by the clients.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Protocol of the server.
    #[arg(long, value_enum, default_value_t = ClientDialect::Native)]
    pub dialect: ClientDialect,
    /// Seconds to wait for the server before giving up.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

/// `wirekit get ADDR REMOTE [-o LOCAL] [--resume] [--force]`.
#[derive(Debug, Clone, clap::Args)]
pub struct GetArgs {
    /// Server address, e.g. 127.0.0.1:8484.
    pub addr: String,
    /// File name on the server.
    pub remote: String,
    /// Local file to write (replaced if it exists).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Continue an interrupted download from its partial file.
    #[arg(long)]
    pub resume: bool,
    /// Replace an existing local file instead of saving as NAME(1).
    #[arg(long)]
    pub force: bool,
    /// Options shared by every file client command.
    #[command(flatten)]
    pub common: Common,
}

/// `wirekit put ADDR LOCAL [REMOTE] [--force] [--resume]`.
#[derive(Debug, Clone, clap::Args)]
pub struct PutArgs {
    /// Server address, e.g. 127.0.0.1:8484.
    pub addr: String,
    /// Local file to upload.
    pub local: PathBuf,
    /// Name on the server (default: the local file's name).
    pub remote: Option<String>,
    /// Replace an existing file on the server.
    #[arg(long)]
    pub force: bool,
    /// Continue an interrupted upload (the server keeps its partial).
    #[arg(long)]
    pub resume: bool,
    /// Options shared by every file client command.
    #[command(flatten)]
    pub common: Common,
}

/// `wirekit ls ADDR [DIR]`.
#[derive(Debug, Clone, clap::Args)]
pub struct LsArgs {
    /// Server address, e.g. 127.0.0.1:8484.
    pub addr: String,
    /// Directory on the server (default: the root).
    pub dir: Option<String>,
    /// Seconds to wait for the server before giving up.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

/// The core's errors are `Display` but (being `no_std`) not
/// `std::error::Error`; this makes them `anyhow` errors.
pub fn wire_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// Connects with read/write timeouts.
pub fn connect(addr: &str, timeout: u64) -> anyhow::Result<Conn> {
    let t = Duration::from_secs(timeout.max(1));
    let sa = addr
        .to_socket_addrs()
        .with_context(|| format!("bad address {addr}"))?
        .next()
        .ok_or_else(|| anyhow!("{addr} resolves to nothing"))?;
    let s = TcpStream::connect_timeout(&sa, t).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(t))?;
    s.set_write_timeout(Some(t))?;
    s.set_nodelay(true)?;
    Ok(Conn::new(s))
}

/// Where a download is written until verified.
pub fn partial_path(local: &Path) -> PathBuf {
    let base = local
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    local.with_file_name(name::partial_name(&base).as_str())
}

/// The local name for `remote`: `-o`, else its base name, else `NAME(1)`,
/// `NAME(2)`, … if that exists and `--force` was not given.
pub fn choose_local(remote: &str, output: Option<&Path>, force: bool) -> anyhow::Result<PathBuf> {
    if let Some(o) = output {
        return Ok(o.to_path_buf());
    }
    let base = name::base_name(remote);
    if base.is_empty() || base == ".." || base == "." || base.contains('/') {
        bail!("cannot derive a local file name from {remote:?}; use -o");
    }
    let p = PathBuf::from(base);
    if force || !p.exists() {
        return Ok(p);
    }
    (1..1000)
        .map(|i| PathBuf::from(format!("{base}({i})")))
        .find(|c| !c.exists())
        .ok_or_else(|| anyhow!("{base}(1) … {base}(999) all exist"))
}

/// A download in progress on the local side.
pub struct LocalPartial {
    /// Final name.
    pub local: PathBuf,
    /// Partial file path.
    pub part: PathBuf,
    /// The partial, positioned at its end.
    pub file: File,
    /// Hashes and writes what arrives.
    sink: Sink,
    /// Bytes already there (resumed).
    pub offset: u64,
    /// Bytes in the file so far (kept and received).
    len: u64,
}

impl LocalPartial {
    /// Opens the partial for `local`: kept and hashed with `resume`,
    /// emptied otherwise.
    pub fn open(local: PathBuf, resume: bool) -> anyhow::Result<LocalPartial> {
        let part = partial_path(&local);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!resume)
            .open(&part)
            .with_context(|| format!("opening {}", part.display()))?;
        let len = file.metadata()?.len();
        let (prefix, offset) = hash_prefix(&mut file, len)?;
        file.seek(SeekFrom::Start(offset))?;
        let sink = Sink::new(&part, &file, offset, prefix)?;
        tracing::debug!(direct = sink.is_direct(), "writing {}", part.display());
        Ok(LocalPartial {
            local,
            part,
            file,
            sink,
            offset,
            len: offset,
        })
    }

    /// Appends received bytes.
    pub fn write(&mut self, b: &[u8]) -> anyhow::Result<()> {
        self.len += b.len() as u64;
        self.sink
            .write(b)
            .with_context(|| format!("writing {}", self.part.display()))
    }

    /// Checks the md5 (if the server sent one) and gives the file its
    /// final name; a mismatch deletes the partial.
    pub fn finish(self, expected: Option<Digest>) -> anyhow::Result<Digest> {
        let actual = self
            .sink
            .finish()
            .with_context(|| format!("writing {}", self.part.display()))?;
        if let Some(e) = expected {
            if e != actual {
                let _ = std::fs::remove_file(&self.part);
                bail!(
                    "md5 mismatch: server says {e}, received data is {actual}; download discarded"
                );
            }
        }
        self.file.set_len(self.len)?;
        self.file.sync_all()?;
        std::fs::rename(&self.part, &self.local)
            .with_context(|| format!("renaming to {}", self.local.display()))?;
        Ok(actual)
    }
}

/// `wirekit get`.
pub fn get(args: &GetArgs) -> anyhow::Result<()> {
    let local = choose_local(&args.remote, args.output.as_deref(), args.force)?;
    let mut part = LocalPartial::open(
        local,
        args.resume && args.common.dialect == ClientDialect::Native,
    )?;
    let mut conn = connect(&args.addr, args.common.timeout)?;
    let label = format!("get {}", args.remote);
    let md5 = match args.common.dialect {
        ClientDialect::Native => get_native(&mut conn, &args.remote, &mut part, &label)?,
        ClientDialect::Seed000 => {
            client_seed::get_seed000(&mut conn, &args.remote, &mut part, &label)?
        }
        ClientDialect::Seed002 => {
            client_seed::get_seed002(&mut conn, &args.remote, &mut part, &label)?
        }
        ClientDialect::Seed004 => {
            client_seed::get_seed004(&mut conn, &args.remote, &mut part, &label)?
        }
    };
    let local = part.local.clone();
    let digest = part.finish(md5)?;
    println!("{} {}", digest, local.display());
    Ok(())
}

fn get_native(
    conn: &mut Conn,
    remote: &str,
    part: &mut LocalPartial,
    label: &str,
) -> anyhow::Result<Option<Digest>> {
    let mut h = native::request("get", remote).map_err(|e| anyhow!("{remote}: {e}"))?;
    h.offset = (part.offset > 0).then_some(part.offset);
    send(conn, &h, b"")?;
    let mut t = Transfer::new("get", u64::MAX);
    let mut progress = None;
    loop {
        if !conn.fill_if_drained()? {
            bail!(
                "server closed the connection mid-transfer; partial kept in {} (use --resume)",
                part.part.display()
            );
        }
        let (used, ev) = t.decode(&conn.buf[conn.lo..conn.hi]).map_err(wire_err)?;
        conn.lo += used;
        match ev {
            None => {}
            Some(TransferEvent::Header(h)) => {
                if h.offset.unwrap_or(0) != part.offset {
                    bail!(
                        "server answered for offset {:?}, asked {}",
                        h.offset,
                        part.offset
                    );
                }
                progress = Some(Progress::new(label, h.size.unwrap_or(0), part.offset));
            }
            Some(TransferEvent::Data(b)) => {
                part.write(b)?;
                if let Some(p) = progress.as_mut() {
                    p.inc(b.len() as u64);
                }
            }
            Some(TransferEvent::End(d)) => {
                if let Some(p) = progress {
                    p.finish("done");
                }
                return Ok(Some(d));
            }
            Some(TransferEvent::Refused(m)) => bail!("server refused: {m}"),
            Some(TransferEvent::BodyEnd) => {}
        }
    }
}

/// Reads one reply frame without a body (`put` answers).
pub fn read_reply(conn: &mut Conn) -> anyhow::Result<Header> {
    let limits = Limits {
        max_body: 0,
        ..Limits::default()
    };
    let mut dec: FrameDecoder<HEADER_CAP> = FrameDecoder::with_limits(limits);
    loop {
        if !conn.fill_if_drained()? {
            bail!("server closed the connection without answering");
        }
        let (used, ev) = dec.decode(&conn.buf[conn.lo..conn.hi]).map_err(wire_err)?;
        conn.lo += used;
        if let Some(Event::Header(h)) = ev {
            if let Some(m) = refusal(h) {
                bail!("server refused: {m}");
            }
            return Ok(h.clone());
        }
    }
}

/// `wirekit put`.
pub fn put(args: &PutArgs) -> anyhow::Result<()> {
    let mut file =
        File::open(&args.local).with_context(|| format!("opening {}", args.local.display()))?;
    let size = file.metadata()?.len();
    let remote = match &args.remote {
        Some(r) => r.clone(),
        None => args
            .local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                anyhow!(
                    "{} has no usable file name; give REMOTE",
                    args.local.display()
                )
            })?
            .to_string(),
    };
    let mut conn = connect(&args.addr, args.common.timeout)?;
    match args.common.dialect {
        ClientDialect::Native => put_native(&mut conn, &mut file, size, &remote, args),
        ClientDialect::Seed002 => client_seed::put_seed002(&mut conn, &mut file, size, &remote),
        d => bail!("the {d:?} dialect has no upload"),
    }
}

fn put_native(
    conn: &mut Conn,
    file: &mut File,
    size: u64,
    remote: &str,
    args: &PutArgs,
) -> anyhow::Result<()> {
    let mut h = native::request("put", remote).map_err(|e| anyhow!("{remote}: {e}"))?;
    h.size = Some(size);
    h.force = args.force.then_some(true);
    h.resume = args.resume.then_some(true);
    send(conn, &h, b"")?;
    let ready = read_reply(conn)?;
    let offered = ready.offset.unwrap_or(0);
    let (md5, offset) = if offered > 0 {
        let (m, n) = hash_prefix(file, offered)?;
        if n == offered && Some(Digest(m.clone().finalize())) == ready.md5 {
            (m, offered)
        } else {
            eprintln!(
                "put {remote}: the server's partial differs from {}; sending it all",
                args.local.display()
            );
            (Md5::new(), 0)
        }
    } else {
        (Md5::new(), 0)
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut md5 = BgHasher::new(md5);
    send(conn, &native::data_header(offset, size - offset), b"")?;
    let mut progress = Progress::new(&format!("put {remote}"), size, offset);
    let mut buf = vec![0u8; IO_CHUNK];
    let mut left = size - offset;
    while left > 0 {
        let want = usize::try_from(left).map_or(IO_CHUNK, |l| l.min(IO_CHUNK));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            bail!("{} shrank while being sent", args.local.display());
        }
        md5.update(&buf[..n]);
        conn.send(&buf[..n])?;
        left -= n as u64;
        progress.inc(n as u64);
    }
    let digest = md5.finish()?;
    send(conn, &native::end_header(digest), b"")?;
    let done = read_reply(conn)?;
    if done.md5 != Some(digest) {
        bail!("server stored a different md5 ({:?})", done.md5);
    }
    progress.finish("stored, md5 verified by the server");
    println!("{digest} {remote}");
    Ok(())
}

/// `wirekit ls`: prints `SIZE NAME` lines (`NAME/` for directories).
pub fn ls(args: &LsArgs) -> anyhow::Result<()> {
    let mut conn = connect(&args.addr, args.timeout)?;
    let mut h = Header::with_op("list");
    if let Some(d) = &args.dir {
        h.filename = Some(native::name_string(d).map_err(|e| anyhow!("{d}: {e}"))?);
    }
    send(&mut conn, &h, b"")?;
    let limits = Limits {
        max_body: 64 << 20,
        ..Limits::default()
    };
    let mut dec: FrameDecoder<HEADER_CAP> = FrameDecoder::with_limits(limits);
    let mut body = Vec::new();
    let mut truncated = false;
    loop {
        // Decode before reading: the frame's end needs no more bytes.
        let (used, ev) = dec.decode(&conn.buf[conn.lo..conn.hi]).map_err(wire_err)?;
        conn.lo += used;
        let starved = match ev {
            Some(Event::Header(h)) => {
                if let Some(m) = refusal(h) {
                    bail!("server refused: {m}");
                }
                truncated = h.truncated == Some(true);
                false
            }
            Some(Event::Body(b)) => {
                body.extend_from_slice(b);
                false
            }
            Some(Event::End(_)) => break,
            None => conn.is_drained(),
        };
        if starved && conn.fill()? == 0 {
            bail!("server closed the connection mid-listing");
        }
    }
    for line in String::from_utf8_lossy(&body).lines() {
        let v: serde_json::Value = serde_json::from_str(line).context("bad listing line")?;
        let dir = if v["dir"].as_bool() == Some(true) {
            "/"
        } else {
            ""
        };
        // Names come from the server's disk: a name holding an escape
        // sequence or a newline must not drive the terminal or fake a line.
        let name = visible(
            v["name"].as_str().unwrap_or("?").as_bytes(),
            Newlines::Escape,
        );
        println!("{:>14} {name}{dir}", v["size"].as_u64().unwrap_or(0));
    }
    if truncated {
        eprintln!("(listing truncated)");
    }
    Ok(())
}
