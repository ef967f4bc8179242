//! The services `wirekit serve` can run, one module each, and the one table
//! naming them: name → start function and default address. Adding a
//! service is a module plus one entry in [`SERVICES`] (and a line in
//! [`SERVICES_HELP`]). Services use the runtime ([`crate::runtime`]); the
//! runtime's accept loops and limits know no service. `exec` and `files` still
//! carry their clients (`wirekit exec`, `shell`, `get`, `put`, `ls`).

pub mod chat;
pub mod echo;
pub mod exec;
pub mod files;
pub mod rfc;
pub mod time;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use crate::runtime::Launch;

/// State that several listeners of one run share (one exec service for all
/// exec dialects, one files store for `files` and `files-ack`, one chat bus
/// connection), passed explicitly to every start function. The runtime
/// never sees it.
pub struct Shared {
    /// The services' options from the command line and config file.
    pub opts: Options,
    pub(crate) exec: Once<exec::ExecService>,
    pub(crate) files: Once<files::Files>,
    pub(crate) chat_bus: Once<crate::services::chat::Bus>,
    /// The room the web console's browser users join: the first chat
    /// listener's (each `--listen chat=…` has a room of its own).
    pub web_room: OnceLock<Arc<crate::services::chat::room::Room>>,
}

/// The per-service option groups of `wirekit serve` (the runtime's own,
/// limits and budgets, go to [`Launch`] instead).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--exec-*`.
    pub exec: exec::ExecArgs,
    /// `--chat-*`.
    pub chat: crate::services::chat::ChatOpts,
    /// `--files-*`, `--root`.
    pub files: files::FilesConfig,
}

impl Shared {
    /// Nothing shared yet, with these options.
    pub fn new(opts: Options) -> Shared {
        Shared {
            opts,
            exec: Once::default(),
            files: Once::default(),
            chat_bus: Once::default(),
            web_room: OnceLock::new(),
        }
    }
}

/// A value created by the first listener that needs it.
pub struct Once<T>(Mutex<Option<Arc<T>>>);

impl<T> Default for Once<T> {
    fn default() -> Self {
        Once(Mutex::new(None))
    }
}

impl<T> Once<T> {
    /// The value, created by `init` on first use (an error is returned and
    /// nothing stored, so a later listener tries again).
    pub fn get_or_try_init(
        &self,
        init: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<Arc<T>> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = slot.as_ref() {
            return Ok(v.clone());
        }
        let v = Arc::new(init()?);
        *slot = Some(v.clone());
        Ok(v)
    }
}

/// A service `wirekit serve --listen NAME=ADDR` can run.
#[derive(Debug)]
pub struct Service {
    /// The name used in `--listen` and in `listening` lines.
    pub name: &'static str,
    /// Address in the default set (no `--listen`), if the service is in it.
    pub default: Option<&'static str>,
    /// Binds the service's socket(s) at the address and spawns its tasks.
    pub start: fn(&Launch, &Shared, SocketAddr) -> anyhow::Result<()>,
}

/// Every service. Entries with a `default` run when no `--listen` is given.
pub static SERVICES: &[Service] = &[
    Service {
        name: "echo",
        default: Some("127.0.0.1:8080"),
        start: echo::start_tcp,
    },
    Service {
        name: "udp-echo",
        default: Some("127.0.0.1:8181"),
        start: echo::start_udp,
    },
    Service {
        name: "time",
        default: Some("127.0.0.1:9000"),
        start: time::start,
    },
    Service {
        name: "files",
        default: Some("127.0.0.1:8484"),
        start: files::start,
    },
    Service {
        name: "files-ack",
        default: None,
        start: files::start_ack,
    },
    Service {
        name: "plain-echo",
        default: None,
        start: rfc::start_echo,
    },
    Service {
        name: "discard",
        default: None,
        start: rfc::start_discard,
    },
    Service {
        name: "chargen",
        default: None,
        start: rfc::start_chargen,
    },
    Service {
        name: "daytime",
        default: None,
        start: rfc::start_daytime,
    },
    Service {
        name: "rfc868",
        default: None,
        start: rfc::start_rfc868,
    },
    Service {
        name: "exec",
        default: None,
        start: exec::service::start_exec,
    },
    Service {
        name: "exec-len",
        default: None,
        start: exec::service::start_len,
    },
    Service {
        name: "exec-ack",
        default: None,
        start: exec::service::start_ack,
    },
    Service {
        name: "chat",
        default: Some("127.0.0.1:9999"),
        start: crate::services::chat::start,
    },
];

/// The service list shown by `wirekit serve --help`.
pub const SERVICES_HELP: &str = "\
Services (default address in brackets; * = in the default set):
  echo        TCP upper-echo, the seeds' first server          * [127.0.0.1:8080]
  udp-echo    UDP upper-echo, up to 65,507 bytes               * [127.0.0.1:8181]
  time        UDP strftime time server: datagram = format      * [127.0.0.1:9000]
  files       file transfer: native get/put/ls, seed 000, 002    * [127.0.0.1:8484]
  files-ack   file transfer: seed 004's size/ack/bytes/md5 get
  plain-echo  RFC 862 echo, TCP and UDP
  discard     RFC 863 discard, TCP and UDP
  chargen     RFC 864 character generator, TCP and UDP
  daytime     RFC 867 daytime, TCP and UDP
  rfc868      RFC 868 time (32-bit seconds since 1900), TCP and UDP
  exec        remote commands: native protocol + seeds' JSON header
  exec-len    remote commands, seeds' 4-byte length reply
  exec-ack    remote commands, seed 004's size / ack / output
              (exec*: need --exec-token-file or --exec-insecure)
  chat        group chat, seed 003 line format, /nick /who     * [127.0.0.1:9999]";

/// Looks a service up by name.
pub fn find(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name == name)
}
