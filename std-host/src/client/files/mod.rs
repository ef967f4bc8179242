//! The `wirekit get`, `put` and `ls` clients. The native protocol is the
//! default; `--dialect` talks to the seeds' own Python servers.
//!
//! The protocol is the core's files client sessions
//! (`wirekit_core::session::files::client`), moved by the core's blocking
//! driver over the TCP or TLS stream ([`crate::client::conn::Link`]); this module holds
//! the command line, the local files and what is printed.
//!
//! A download goes to `.NAME.wirekit-part` beside the final name and gets
//! that name only after its md5 matched; an interrupted download keeps
//! the partial for `--resume`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use md5::{Digest as _, Md5};
use wirekit_core::blocking::Flow;
use wirekit_core::service::file::name;
use wirekit_core::session::files::client::{ClientEvent, FilesClient};
use wirekit_core::session::Session;
use wirekit_core::wire::Digest;

use crate::client::conn::Link;
use crate::services::files::store::{hash_prefix, IO_CHUNK};
use hasher::BgHasher;
use progress::Progress;

mod check;
mod connect;
mod download;
mod hasher;
mod interrupt;
mod listing;
mod partial;
mod progress;
mod seed;
mod sink;

pub use connect::connect;
pub use partial::{partial_path, Existing, LocalPartial};

/// Sends what the session queued (a request) and, on a connection's first
/// request, checks the server's first answer.
fn request<S: Session>(conn: &mut Link, s: &mut S, dialect: ClientDialect) -> anyhow::Result<()> {
    let sent = conn.send_output(s)?;
    check::first_answer(conn, &sent, dialect)
}

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
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
    /// TLS (to a `files+tls` listener) and how the server is trusted.
    #[command(flatten)]
    pub tls: crate::tls::client::TlsClientOpts,
}

/// `wirekit get ADDR REMOTE [-o LOCAL] [--resume] [--force]`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = crate::client::exec::help::GET)]
pub struct GetArgs {
    /// Server address, e.g. 127.0.0.1:8484.
    #[arg(value_name = "ADDR")]
    pub addr: String,
    /// File name on the server.
    #[arg(value_name = "REMOTE")]
    pub remote: String,
    /// Where to write: a file (replaced if it exists), a directory (the
    /// file goes in it), or `-` for stdout.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Continue an interrupted download from its partial file (the default
    /// in the native dialect whenever `.NAME.wirekit-part` exists).
    #[arg(long, conflicts_with = "restart")]
    pub resume: bool,
    /// Discard a partial file left by an earlier download and start over.
    #[arg(long)]
    pub restart: bool,
    /// Replace an existing local file instead of saving as NAME(1).
    #[arg(long)]
    pub force: bool,
    /// Options shared by every file client command.
    #[command(flatten)]
    pub common: Common,
}

/// `wirekit put ADDR LOCAL [REMOTE] [--force] [--resume]`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = crate::client::exec::help::PUT)]
pub struct PutArgs {
    /// Server address, e.g. 127.0.0.1:8484.
    #[arg(value_name = "ADDR")]
    pub addr: String,
    /// Local file to upload, or `-` for stdin (then REMOTE is required).
    #[arg(value_name = "LOCAL")]
    pub local: PathBuf,
    /// Name on the server (default: the local file's name).
    #[arg(value_name = "REMOTE")]
    pub remote: Option<String>,
    /// Replace an existing file on the server.
    #[arg(long)]
    pub force: bool,
    /// Continue an interrupted upload (the server keeps its partial).
    #[arg(long)]
    pub resume: bool,
    /// File holding the server's upload token (`serve
    /// --files-token-file`); proven, never sent (native dialect).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Options shared by every file client command.
    #[command(flatten)]
    pub common: Common,
}

/// `wirekit ls ADDR [DIR]`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_long_help = crate::client::exec::help::LS,
    disable_help_flag = true
)]
pub struct LsArgs {
    /// Server address, e.g. 127.0.0.1:8484.
    #[arg(value_name = "ADDR")]
    pub addr: String,
    /// Directory on the server (default: the root).
    #[arg(value_name = "DIR")]
    pub dir: Option<String>,
    /// Long listing: type (`d` or `-`), size, modification time (UTC), name.
    #[arg(short = 'l', long = "long")]
    pub long: bool,
    /// Sizes in human units (1.5K, 176M, 64G; powers of 1024). As with ls,
    /// `-h` is this, not help: use --help.
    #[arg(short = 'h', long = "human-readable")]
    pub human: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Seconds to wait for the server before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
    /// TLS (to a `files+tls` listener) and how the server is trusted.
    #[command(flatten)]
    pub tls: crate::tls::client::TlsClientOpts,
}

/// The core's errors are `Display` but (being `no_std`) not
/// `std::error::Error`; this makes them `anyhow` errors.
pub fn wire_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// The local name for `remote`: `-o FILE` (replaced if it exists), `-o -`
/// (stdout), else its base name, in `-o DIR` if given, made `NAME(1)`,
/// `NAME(2)`, … if that exists and `--force` was not given.
pub fn choose_local(remote: &str, output: Option<&Path>, force: bool) -> anyhow::Result<PathBuf> {
    let dir = match output {
        Some(o) if o.as_os_str() == "-" || !(o.is_dir() || o.to_string_lossy().ends_with('/')) => {
            return Ok(o.to_path_buf())
        }
        Some(d) if !d.is_dir() => bail!("{}: no such directory", d.display()),
        Some(d) => d.to_path_buf(),
        None => PathBuf::new(),
    };
    let base = name::base_name(remote);
    if base.is_empty() || base == ".." || base == "." || base.contains('/') {
        bail!("cannot derive a local file name from {remote:?}; use -o");
    }
    let p = dir.join(base);
    if force || !p.exists() {
        return Ok(p);
    }
    (1..1000)
        .map(|i| dir.join(format!("{base}({i})")))
        .find(|c| !c.exists())
        .ok_or_else(|| anyhow!("{base}(1) … {base}(999) all exist"))
}

/// Runs `wirekit get`: exit 0, or 255 with one line (see `exec --help`).
pub fn run_get(args: &GetArgs) -> std::process::ExitCode {
    crate::client::exec::report(get(args).map(|()| 0))
}

/// Runs `wirekit put`.
pub fn run_put(args: &PutArgs) -> std::process::ExitCode {
    crate::client::exec::report(put(args).map(|()| 0))
}

/// Runs `wirekit ls`.
pub fn run_ls(args: &LsArgs) -> std::process::ExitCode {
    crate::client::exec::report(ls(args).map(|()| 0))
}

/// `wirekit get`.
pub fn get(args: &GetArgs) -> anyhow::Result<()> {
    let local = choose_local(&args.remote, args.output.as_deref(), args.force)?;
    let existing = if args.restart {
        Existing::Restart
    } else if args.common.dialect == ClientDialect::Native {
        Existing::Resume
    } else {
        Existing::Refuse
    };
    let mut part = LocalPartial::open(local, existing)?;
    let resumable = args.common.dialect == ClientDialect::Native;
    let (p, again) = (part.part.clone(), retry_command());
    interrupt::on_ctrl_c(move || match std::fs::metadata(&p) {
        Ok(m) if m.len() > 0 => format!(
            "{} bytes kept in {}; {}",
            m.len(),
            p.display(),
            how_to_continue(resumable, &again)
        ),
        _ => "nothing was kept".to_string(),
    });
    let check = match transfer(args, &mut part) {
        Ok(check) => check,
        Err(e) => match part.kept_note(&how_to_continue(resumable, &retry_command())) {
            Some(note) => bail!("{e:#}; {note}"),
            None => return Err(e),
        },
    };
    let local = part.local.clone();
    let digest = part.finish(check)?;
    if local.as_os_str() == "-" {
        eprintln!("{digest} -");
    } else {
        println!("{} {}", digest, local.display());
    }
    Ok(())
}

/// How to continue a download that stopped: the native dialect resumes,
/// the seeds' cannot.
fn how_to_continue(resumable: bool, again: &str) -> String {
    if resumable {
        format!("to resume run: {again}")
    } else {
        "the seed dialects cannot resume: run again with --restart, or without --dialect \
         against a wirekit server to continue"
            .to_string()
    }
}

/// The command line as typed, to repeat (with `--resume` for a put),
/// quoted for a POSIX shell where needed.
fn retry_command() -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:@=-,+%".contains(c);
    std::env::args()
        .map(|w| {
            if !w.is_empty() && w.chars().all(plain) {
                w
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Moves the bytes of a `get` into `part`; returns the check of their
/// md5 against the server's.
fn transfer(args: &GetArgs, part: &mut LocalPartial) -> anyhow::Result<Option<download::Check>> {
    let mut conn = connect(&args.addr, args.common.timeout, &args.common.tls)?;
    let label = format!("get {}", args.remote);
    let part = &mut *part;
    match args.common.dialect {
        ClientDialect::Native => download::get_native(&mut conn, &args.remote, part, &label),
        d => seed::get_seed(&mut conn, &args.remote, part, &label, d),
    }
}

/// `wirekit put`.
pub fn put(args: &PutArgs) -> anyhow::Result<()> {
    let mut file = if args.local.as_os_str() == "-" {
        if args.remote.is_none() {
            bail!("put - reads stdin: give the name on the server (put ADDR - REMOTE)");
        }
        spool_stdin()?
    } else {
        File::open(&args.local).with_context(|| format!("opening {}", args.local.display()))?
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file: put sends one file (a directory would leave a partial \
             upload on the server)",
            args.local.display()
        );
    }
    let size = meta.len();
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
    let token = args
        .token_file
        .as_deref()
        .map(connect::read_token)
        .transpose()?;
    if token.is_some() && args.common.dialect != ClientDialect::Native {
        bail!("--token-file needs the native dialect: the seed dialects cannot send a token");
    }
    let mut conn = connect(&args.addr, args.common.timeout, &args.common.tls)?;
    let mut session: Box<FilesClient> = Box::default();
    if let Some(t) = &token {
        connect::authenticate(&mut conn, &mut session, t)?;
    }
    if args.common.dialect == ClientDialect::Native && args.local.as_os_str() != "-" {
        let again = retry_command();
        let again = if args.resume {
            again
        } else {
            format!("{again} --resume")
        };
        interrupt::on_ctrl_c(move || {
            format!("the server keeps what it received; to resume run: {again}")
        });
    }
    match args.common.dialect {
        ClientDialect::Native => {
            put_native(&mut conn, &mut session, &mut file, size, &remote, args)
        }
        ClientDialect::Seed002 => seed::put_seed002(&mut conn, &mut file, size, &remote),
        d => bail!("the {d:?} dialect has no upload"),
    }
}

/// Copies stdin into an anonymous temporary file: an upload announces its
/// size first, and a resumed one reads its start again.
fn spool_stdin() -> anyhow::Result<File> {
    let mut f = tempfile::tempfile().context("creating a temporary file for stdin")?;
    std::io::copy(&mut std::io::stdin().lock(), &mut f).context("reading stdin")?;
    f.seek(SeekFrom::Start(0))?;
    Ok(f)
}

fn put_native(
    conn: &mut Link,
    session: &mut FilesClient,
    file: &mut File,
    size: u64,
    remote: &str,
    args: &PutArgs,
) -> anyhow::Result<()> {
    session
        .put(remote, size, args.force, args.resume)
        .map_err(|e| anyhow!("{remote}: {e}"))?;
    request(conn, session, ClientDialect::Native)?;
    let mut ready = None;
    conn.drive(session, |ev| {
        Ok(match ev {
            ClientEvent::Ready { offset, prefix } => {
                ready = Some((offset, prefix));
                Flow::Stop
            }
            _ => Flow::Continue,
        })
    })?;
    let (offered, prefix) =
        ready.ok_or_else(|| anyhow!("server closed the connection without answering"))?;
    let (md5, offset) = if offered > 0 {
        let (m, n) = hash_prefix(file, offered)?;
        if n == offered && Some(Digest(m.clone().finalize().into())) == prefix {
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
    session.send_from(offset).map_err(wire_err)?;
    conn.send_output(session)?;
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
        session.send_body(n).map_err(wire_err)?;
        conn.write_body(&buf[..n])?;
        left -= n as u64;
        progress.inc(n as u64);
    }
    let digest = md5.finish()?;
    session.end_body(digest).map_err(wire_err)?;
    let mut stored = false;
    conn.drive(session, |ev| {
        Ok(match ev {
            ClientEvent::Stored { .. } => {
                stored = true;
                Flow::Stop
            }
            _ => Flow::Continue,
        })
    })?;
    if !stored {
        bail!("server closed the connection without answering");
    }
    progress.finish("stored, md5 verified by the server");
    println!("{digest} {remote}");
    Ok(())
}

/// `wirekit ls`: prints `SIZE NAME` lines sorted by name (`NAME/` for
/// directories); `-l` adds type and time, `-h` human sizes.
pub fn ls(args: &LsArgs) -> anyhow::Result<()> {
    let mut conn = connect(&args.addr, args.timeout, &args.tls)?;
    let mut session: Box<FilesClient> = Box::default();
    if let Err(e) = session.list(args.dir.as_deref()) {
        bail!("{}: {e}", args.dir.as_deref().unwrap_or(""));
    }
    request(&mut conn, &mut *session, ClientDialect::Native)?;
    let mut body = Vec::new();
    let mut truncated = false;
    let ended = conn.drive(&mut *session, |ev| {
        Ok(match ev {
            ClientEvent::Listing { truncated: t, .. } => {
                truncated = t;
                Flow::Continue
            }
            ClientEvent::ListData(b) => {
                body.extend_from_slice(b);
                Flow::Continue
            }
            ClientEvent::ListEnd => Flow::Stop,
            _ => Flow::Continue,
        })
    })?;
    if !ended {
        bail!("server closed the connection mid-listing");
    }
    listing::print(
        &body,
        listing::Style {
            long: args.long,
            human: args.human,
        },
    )?;
    if truncated {
        eprintln!("(listing truncated)");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
