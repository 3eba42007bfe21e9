//! TLS configuration from the `[tls]` PEM files (rustls with the ring provider), and the
//! self-signed certificate of the development setup.

use std::fs;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailroom_core::config::Config;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::platform::datadir::DataDir;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: no certificate (expected a PEM block \"BEGIN CERTIFICATE\")", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: no private key (expected a PEM block such as \"BEGIN PRIVATE KEY\")", .0.display())]
    NoKey(PathBuf),
    #[error("{}: the certificate and key do not fit together or are unusable: {source}", cert.display())]
    Rustls {
        cert: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

impl TlsError {
    /// The file the error is about, for `file: message` reports.
    pub fn file(&self) -> Option<&Path> {
        match self {
            TlsError::Read { path, .. } | TlsError::Write { path, .. } => Some(path),
            TlsError::NoCertificate(p) | TlsError::NoKey(p) => Some(p),
            TlsError::Rustls { cert, .. } => Some(cert),
            TlsError::Generate(_) => None,
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server TLS configuration named by `[tls]`, or `None` when no certificate is
/// configured (then STARTTLS is not offered). Paths are relative to the data directory.
pub fn server_config(
    dd: &DataDir,
    cfg: &Config,
) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
    let (Some(cert), Some(key)) = (&cfg.tls.cert, &cfg.tls.key) else {
        return Ok(None);
    };
    let cert_path = dd.resolve(cert);
    let key_path = dd.resolve(key);
    let certs = read_certs(&cert_path)?;
    let key = read_key(&key_path)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|source| TlsError::Rustls {
            cert: cert_path.clone(),
            source,
        })?;
    Ok(Some(Arc::new(config)))
}

/// A client configuration that trusts exactly the certificate(s) in `cert_pem_path`:
/// for tests and tools talking to a server with the development certificate.
pub fn client_config_trusting(cert_pem_path: &Path) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(cert_pem_path)? {
        roots.add(c).map_err(|source| TlsError::Rustls {
            cert: cert_pem_path.to_path_buf(),
            source,
        })?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            cert: cert_pem_path.to_path_buf(),
            source,
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn open(path: &Path) -> Result<BufReader<fs::File>, TlsError> {
    fs::File::open(path)
        .map(BufReader::new)
        .map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(path.to_path_buf()))
}

/// Where [`generate_self_signed`] writes, relative to the data directory (as written
/// into `[tls]`).
pub const DEV_CERT: &str = "tls/cert.pem";
pub const DEV_KEY: &str = "tls/key.pem";

/// Generate a self-signed certificate for `names` (host names and IP addresses) into
/// `DIR/tls/cert.pem` and `DIR/tls/key.pem` (the key readable by the owner only).
/// Returns the two paths.
pub fn generate_self_signed(
    dd: &DataDir,
    names: &[String],
) -> Result<(PathBuf, PathBuf), TlsError> {
    let ck = rcgen::generate_simple_self_signed(names.to_vec())?;
    let dir = dd.tls_dir();
    fs::create_dir_all(&dir).map_err(|source| TlsError::Write {
        path: dir.clone(),
        source,
    })?;
    let cert_path = dd.resolve(DEV_CERT);
    let key_path = dd.resolve(DEV_KEY);
    write_file(&key_path, ck.key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert_path, ck.cert.pem().as_bytes(), 0o644)?;
    Ok((cert_path, key_path))
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let result = opts.open(path).and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all()
    });
    result.map_err(|source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    })
}
