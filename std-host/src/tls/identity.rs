//! A server's TLS identity: its certificate chain and private key, read
//! from PEM files (`--tls-cert`, `--tls-key`) or created once as a
//! self-signed pair in the state directory (`--tls-self-signed`) and reused
//! on every later start, so the fingerprint clients pinned stays valid.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct Identity {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Reads a PEM chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> anyhow::Result<Identity> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .with_context(|| format!("reading certificates from {}", cert.display()))?;
        if chain.is_empty() {
            bail!("{}: no PEM certificate in it", cert.display());
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("reading a private key from {}", key.display()))?;
        Ok(Identity { chain, key })
    }

    /// The self-signed identity kept in `state_dir`, created on first use.
    /// The key file is written with mode 0600 under its final name only
    /// once complete, so a crash never leaves half a key to be reused.
    pub fn self_signed(state_dir: &Path) -> anyhow::Result<Identity> {
        let (cert, key) = self_signed_paths(state_dir);
        if !cert.exists() || !key.exists() {
            create_self_signed(state_dir, &cert, &key)?;
        }
        Identity::from_pem_files(&cert, &key)
    }
}

/// Where [`Identity::self_signed`] keeps its files.
pub fn self_signed_paths(state_dir: &Path) -> (PathBuf, PathBuf) {
    (
        state_dir.join("tls-self-signed-cert.pem"),
        state_dir.join("tls-self-signed-key.pem"),
    )
}

/// The default state directory: `$XDG_DATA_HOME/wirekit` (or the
/// platform's equivalent), else `.wirekit-state` in the working directory.
pub fn default_state_dir() -> PathBuf {
    dirs::data_dir().map_or_else(|| PathBuf::from(".wirekit-state"), |d| d.join("wirekit"))
}

fn create_self_signed(dir: &Path, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating state directory {}", dir.display()))?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if !host.is_empty() && host != "localhost" {
        names.push(host);
    }
    let made = rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    write_new(key_path, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert_path, made.cert.pem().as_bytes(), 0o644)?;
    tracing::info!(cert = %cert_path.display(), "created a self-signed TLS certificate");
    Ok(())
}

/// Writes `data` to a temporary name beside `path` and renames it there.
fn write_new(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .and_then(|()| fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
