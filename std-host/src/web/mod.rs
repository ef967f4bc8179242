//! `wirekit serve --web ADDR`: a single-page console (axum) showing the
//! listeners with live connection counts and byte rates, recent connection
//! events, and the chat room, which a browser user joins like any TCP
//! client.
//!
//! - [`status`]: the `/ws/status` WebSocket, one JSON snapshot a second.
//! - [`chat`]: the `/ws/chat` WebSocket, bridged into the chat session.
//! - The page, its script and style are embedded (no CDN, works offline);
//!   the script shows data with `textContent` only.
//!
//! Access: read-only except chat. Off loopback a token is required
//! (`--web-token-file`, else `--exec-token-file`); the page takes it from
//! its address (`http://HOST:PORT/#token=TOKEN`, the fragment never leaves
//! the browser) and sends it as `?token=` on its WebSocket URLs. Without a
//! token file a non-loopback `--web` refuses to start.

mod chat;
mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::runtime::Launch;

/// Most console WebSockets (status and chat together) open at once; more
/// are refused with 503.
pub const MAX_SOCKETS: usize = 64;

/// Longest `?token=` value looked at.
const MAX_TOKEN: usize = 4096;

const INDEX: &str = include_str!("assets/index.html");
/// The console's script (public so a test can check it never uses
/// `innerHTML`).
pub const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Scripts only from this origin, no inline code, WebSockets to it only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self'; base-uri 'none'; \
                   frame-ancestors 'none'";

/// `wirekit serve` options of the web console.
#[derive(Debug, Clone, clap::Args)]
pub struct WebOpts {
    /// Serve the web console on ADDR, e.g. 127.0.0.1:8088 (open
    /// http://ADDR/ in a browser). Off loopback it needs a token file.
    #[arg(long, value_name = "ADDR")]
    pub web: Option<SocketAddr>,

    /// Require this token (at least 16 bytes) on the web console: open
    /// `http://HOST:PORT/#token=TOKEN`. Default: --exec-token-file's token
    /// when the console is not on loopback.
    #[arg(long, value_name = "PATH")]
    pub web_token_file: Option<PathBuf>,
}

/// The console's shared state.
#[derive(Clone)]
pub struct Console {
    launch: Launch,
    /// Where the chat room browser users join is found.
    shared: Arc<crate::services::Shared>,
    /// SHA-256 of the token, if one is required.
    token: Option<[u8; 32]>,
    sockets: Arc<Semaphore>,
}

impl Console {
    /// Checks the options for a console on `addr` and reads the token.
    pub fn new(
        launch: &Launch,
        shared: Arc<crate::services::Shared>,
        addr: SocketAddr,
        opts: &WebOpts,
    ) -> anyhow::Result<Console> {
        let exec_token = &shared.opts.exec.exec_token_file;
        let file = match (&opts.web_token_file, exec_token) {
            (Some(f), _) => Some(f),
            (None, Some(f)) if !addr.ip().is_loopback() => Some(f),
            _ => None,
        };
        let token = file.map(read_token).transpose()?;
        if token.is_none() && !addr.ip().is_loopback() {
            bail!(
                "--web {addr} is not a loopback address: give --web-token-file PATH (or --exec-token-file) so only holders of the token see the console"
            );
        }
        Ok(Console {
            launch: launch.clone(),
            shared,
            token,
            sockets: Arc::new(Semaphore::new(MAX_SOCKETS)),
        })
    }

    /// Serves the console on `listener` until `shutdown`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        crate::runtime::http::serve(listener, self.router(), shutdown).await
    }

    fn router(self) -> Router {
        Router::new()
            .route(
                "/",
                get(|| async { page("text/html; charset=utf-8", INDEX) }),
            )
            .route(
                "/app.js",
                get(|| async { page("text/javascript; charset=utf-8", APP_JS) }),
            )
            .route(
                "/app.css",
                get(|| async { page("text/css; charset=utf-8", APP_CSS) }),
            )
            .route("/ws/status", get(status::upgrade))
            .route("/ws/chat", get(chat::upgrade))
            .with_state(self)
    }

    /// The chat room browser users join, if a chat listener runs.
    fn room(&self) -> Option<Arc<crate::services::chat::room::Room>> {
        self.shared.web_room.get().cloned()
    }

    /// Admits a WebSocket request: the token if one is required, then a
    /// seat under [`MAX_SOCKETS`]. The permit is held for the socket's life.
    fn admit(&self, q: &TokenQuery) -> Result<tokio::sync::OwnedSemaphorePermit, Refused> {
        if let Some(want) = &self.token {
            let given = q.get("token").map_or("", String::as_str);
            let ok = given.len() <= MAX_TOKEN
                && bool::from(Sha256::digest(given.as_bytes()).as_slice().ct_eq(want));
            if !ok {
                return Err(Refused::Token);
            }
        }
        self.sockets
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refused::Busy)
    }
}

/// Why a WebSocket request was turned away.
#[derive(Debug, Clone, Copy)]
pub enum Refused {
    /// The token is missing or wrong (401).
    Token,
    /// [`MAX_SOCKETS`] are open (503).
    Busy,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Token => (
                StatusCode::UNAUTHORIZED,
                "token required: open the console as http://HOST:PORT/#token=TOKEN\n",
            )
                .into_response(),
            Refused::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many console connections\n",
            )
                .into_response(),
        }
    }
}

/// The query of a WebSocket URL (`?token=`).
pub type TokenQuery = std::collections::HashMap<String, String>;

/// SHA-256 of the trimmed token in `path`.
fn read_token(path: &PathBuf) -> anyhow::Result<[u8; 32]> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading token file {}", path.display()))?;
    let t = wirekit_core::service::exec::auth::token_from_file(&bytes)
        .map_err(|e| anyhow::anyhow!("token file {}: {e}", path.display()))?;
    Ok(Sha256::digest(t).into())
}

/// An embedded asset with headers that keep it from being framed, sniffed
/// or made to run foreign script.
fn page(kind: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_script_never_parses_data_as_html() {
        for bad in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!super::APP_JS.contains(bad), "app.js uses {bad}");
        }
    }
}
