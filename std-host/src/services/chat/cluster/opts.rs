//! The `--chat-nats*` options of `wirekit serve` and the NATS connection
//! they describe (servers, credentials, TLS, reconnecting).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::{ConnectOptions, Event, ServerAddr};
use tokio::sync::watch;

/// How long the first connection may take before start-up fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes (and requests) the client buffers while disconnected; beyond
/// that publishing waits, and the room's own bounded queue refuses lines.
const CLIENT_CAPACITY: usize = 8192;

/// Options of the chat bus.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsOpts {
    /// chat: share the rooms with other nodes through these NATS servers
    /// (comma-separated, e.g. nats://127.0.0.1:4222; tls://… for TLS);
    /// JetStream must be enabled on them.
    #[arg(long, value_name = "URLS")]
    pub chat_nats: Option<String>,

    /// chat: NATS token, read from this file (first line).
    #[arg(long, value_name = "FILE")]
    pub chat_nats_token_file: Option<PathBuf>,

    /// chat: NATS user name (with --chat-nats-password-file).
    #[arg(long, value_name = "USER", requires = "chat_nats_password_file")]
    pub chat_nats_user: Option<String>,

    /// chat: NATS password of --chat-nats-user, read from this file.
    #[arg(long, value_name = "FILE", requires = "chat_nats_user")]
    pub chat_nats_password_file: Option<PathBuf>,

    /// chat: NATS credentials file (JWT and NKey seed, `.creds`).
    #[arg(long, value_name = "FILE")]
    pub chat_nats_creds: Option<PathBuf>,

    /// chat: CA certificates (PEM) to verify the NATS servers with; makes
    /// TLS required.
    #[arg(long, value_name = "FILE")]
    pub chat_nats_tls_ca: Option<PathBuf>,

    /// chat: client certificate (PEM) for NATS servers that ask for one
    /// (with --chat-nats-tls-key).
    #[arg(long, value_name = "FILE", requires = "chat_nats_tls_key")]
    pub chat_nats_tls_cert: Option<PathBuf>,

    /// chat: private key (PEM) of --chat-nats-tls-cert.
    #[arg(long, value_name = "FILE", requires = "chat_nats_tls_cert")]
    pub chat_nats_tls_key: Option<PathBuf>,

    /// chat: if NATS cannot be reached at start, serve local-only rooms
    /// (with a warning) instead of failing.
    #[arg(long)]
    pub chat_nats_optional: bool,

    /// chat: replicas of the JetStream stream when this node creates it
    /// (up to the number of servers in the NATS cluster).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub chat_nats_replicas: u8,

    /// chat: most messages the JetStream stream keeps (all rooms) when
    /// this node creates it; older ones are discarded, and a node that was
    /// away longer than that tells its clients lines were lost.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(i64).range(1..=1_000_000_000))]
    pub chat_nats_max_messages: i64,

    /// chat: events per room waiting to be published (lines beyond it are
    /// refused with a notice; leaves beyond it are published as one
    /// "N clients left" summary).
    #[arg(long, value_name = "N", default_value_t = super::link::OUTGOING_QUEUE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub chat_nats_queue: u32,

    /// chat: name of the shared room on the bus (further chat listeners of
    /// the node get NAME-2, NAME-3, …); up to 32 of A-Z a-z 0-9 _ -.
    #[arg(long, value_name = "NAME", default_value = "lobby",
          value_parser = parse_room)]
    pub chat_room: String,
}

fn parse_room(s: &str) -> Result<String, String> {
    match wirekit_core::service::chat::cluster::validate_name(s) {
        true => Ok(s.to_owned()),
        false => Err(format!("`{s}` is not 1 to 32 of A-Z a-z 0-9 _ -")),
    }
}

fn secret(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the NATS {what} file {}", path.display()))?;
    let first = text.lines().next().unwrap_or("").trim();
    anyhow::ensure!(
        !first.is_empty(),
        "the NATS {what} file {} is empty",
        path.display()
    );
    Ok(first.to_owned())
}

/// Connects as `o` says; every (re)connection bumps `connected`.
pub async fn connect(
    o: &NatsOpts,
    connected: watch::Sender<u64>,
) -> anyhow::Result<async_nats::Client> {
    let urls = o.chat_nats.as_deref().unwrap_or_default();
    let servers = urls
        .split(',')
        .map(|u| u.trim().parse::<ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad --chat-nats URL list {urls:?}"))?;
    anyhow::ensure!(!servers.is_empty(), "--chat-nats needs at least one URL");
    let mut c = ConnectOptions::new()
        .name("wirekit-chat")
        .connection_timeout(CONNECT_TIMEOUT)
        .client_capacity(CLIENT_CAPACITY)
        // Reconnect for ever: a node outlives NATS restarts.
        .max_reconnects(None)
        .reconnect_delay_callback(|attempt| {
            Duration::from_millis(100 * 2u64.saturating_pow(attempt.min(4) as u32))
        })
        .event_callback(move |ev| {
            let connected = connected.clone();
            async move {
                match ev {
                    Event::Connected => {
                        tracing::info!("chat bus connected");
                        connected.send_modify(|n| *n += 1);
                    }
                    Event::Disconnected => tracing::warn!("chat bus disconnected; reconnecting"),
                    ev => tracing::debug!("chat bus: {ev}"),
                }
            }
        });
    if let Some(f) = &o.chat_nats_token_file {
        c = c.token(secret(f, "token")?);
    }
    if let (Some(u), Some(f)) = (&o.chat_nats_user, &o.chat_nats_password_file) {
        c = c.user_and_password(u.clone(), secret(f, "password")?);
    }
    if let Some(f) = &o.chat_nats_creds {
        c = c
            .credentials_file(f)
            .await
            .with_context(|| format!("cannot read the NATS credentials file {}", f.display()))?;
    }
    if let Some(ca) = &o.chat_nats_tls_ca {
        c = c.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let (Some(cert), Some(key)) = (&o.chat_nats_tls_cert, &o.chat_nats_tls_key) {
        c = c.add_client_certificate(cert.clone(), key.clone());
    }
    c.connect(servers)
        .await
        .with_context(|| format!("cannot connect to NATS at {urls}"))
}
