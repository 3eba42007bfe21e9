//! A fresh data directory: `mailroom init`, and the development setup `serve` creates
//! on an empty directory. Both write a commented `mailroom.toml`, a self-signed
//! certificate and the `postmaster` admin account.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use mailroom_core::accounts::{check_password, PasswordError};
use mailroom_core::config::{check_domain_name, AccountPolicy};

use crate::config::users::{self, ensure_dir, sync_dir, UserError};
use crate::platform::datadir::DataDir;
use crate::platform::tls::{self, TlsError, DEV_CERT, DEV_KEY};

/// The development setup's names (INTERFACE.md).
pub const DEV_DOMAIN: &str = "example.com";
pub const DEV_HOSTNAME: &str = "mail.example.com";
/// The administrator account every setup creates.
pub const POSTMASTER: &str = "postmaster";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{} already exists; not overwriting it (edit it, or choose another --data directory)", .0.display())]
    ConfigExists(PathBuf),
    #[error("--domain {domain:?} {why}")]
    BadDomain { domain: String, why: String },
    #[error("--hostname {hostname:?} {why}")]
    BadHostname { hostname: String, why: String },
    #[error("--admin-password: {0}")]
    BadPassword(PasswordError),
    #[error("{0}")]
    User(#[from] UserError),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// What a setup did, for the person who ran it.
#[derive(Debug)]
pub struct SetupReport {
    pub root: PathBuf,
    pub config: PathBuf,
    pub domain: String,
    pub hostname: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub postmaster: Postmaster,
    pub development: bool,
}

/// What happened to the `postmaster` account.
#[derive(Debug)]
pub enum Postmaster {
    /// Created with the password given on the command line.
    Created,
    /// Created with this generated password, shown once and stored nowhere else.
    CreatedWithPassword(String),
    /// An account file was already there and was left alone.
    Kept,
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.development {
            writeln!(
                f,
                "No configuration in {}; created a development setup:",
                self.root.display()
            )?;
        } else {
            writeln!(f, "Initialised {}:", self.root.display())?;
        }
        writeln!(
            f,
            "  config       {} (domain {}, hostname {})",
            self.config.display(),
            self.domain,
            self.hostname
        )?;
        writeln!(
            f,
            "  listening    on 127.0.0.1 only: SMTP 2525, SMTPS 2465, POP3 2110, POP3S 2995, \
             IMAP 2143, IMAPS 2993, HTTP 5108, password service 2106"
        )?;
        writeln!(
            f,
            "  certificate  {} (self-signed; replace it with a real one for other machines)",
            self.cert.display()
        )?;
        match &self.postmaster {
            Postmaster::Created => writeln!(
                f,
                "  admin        user {POSTMASTER}, with the password you gave"
            )?,
            Postmaster::CreatedWithPassword(p) => {
                writeln!(f, "  admin        user {POSTMASTER}, password: {p}")?;
                writeln!(f, "               (shown only this once; change it with `user passwd {POSTMASTER} --password ...`)")?;
            }
            Postmaster::Kept => writeln!(
                f,
                "  admin        user {POSTMASTER} already existed; left unchanged"
            )?,
        }
        Ok(())
    }
}

/// `mailroom init`: a fresh configuration for `domain`, refusing to overwrite one.
pub fn init(
    dd: &DataDir,
    domain: &str,
    hostname: Option<&str>,
    admin_password: Option<&str>,
) -> Result<SetupReport, SetupError> {
    let domain = domain.to_ascii_lowercase();
    check_domain_name(&domain).map_err(|why| SetupError::BadDomain {
        domain: domain.clone(),
        why,
    })?;
    let hostname = hostname
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| format!("mail.{domain}"));
    check_domain_name(&hostname).map_err(|why| SetupError::BadHostname {
        hostname: hostname.clone(),
        why,
    })?;
    if let Some(p) = admin_password {
        check_password(p, &AccountPolicy::default()).map_err(SetupError::BadPassword)?;
    }
    create(dd, &domain, &hostname, admin_password, false)
}

/// The development setup of `serve` on a directory without a configuration: domain
/// `example.com`, loopback high ports, a self-signed certificate and a `postmaster`
/// whose generated password the report shows once.
pub fn dev_setup(dd: &DataDir) -> Result<SetupReport, SetupError> {
    create(dd, DEV_DOMAIN, DEV_HOSTNAME, None, true)
}

fn create(
    dd: &DataDir,
    domain: &str,
    hostname: &str,
    admin_password: Option<&str>,
    development: bool,
) -> Result<SetupReport, SetupError> {
    let config = dd.config_file();
    if config.exists() {
        return Err(SetupError::ConfigExists(config));
    }
    for dir in [
        dd.root().to_path_buf(),
        dd.users_dir(),
        dd.access_dir(),
        dd.mail_dir(),
        dd.spool_dir(),
        dd.state_dir(),
        dd.log_dir(),
    ] {
        ensure_dir(&dir)?;
    }

    let names = vec![
        hostname.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let (cert, key) = tls::generate_self_signed(dd, &names)?;

    let smtp_allowed = dd.access_file("SMTPALLOWED.DAT");
    if !smtp_allowed.exists() {
        write_new(&smtp_allowed, SMTPALLOWED_TEMPLATE.as_bytes())?;
    }

    let (password, generated) = match admin_password {
        Some(p) => (p.to_string(), false),
        None => (generate_password()?, true),
    };
    let postmaster = match users::add_user(dd, POSTMASTER, &password, true) {
        Ok(_) if generated => Postmaster::CreatedWithPassword(password),
        Ok(_) => Postmaster::Created,
        Err(UserError::Exists(_)) => Postmaster::Kept,
        Err(e) => return Err(e.into()),
    };

    // The configuration goes last: its presence means "set up", so an interrupted
    // setup is simply run again.
    let text = config_text(domain, hostname);
    write_new(&config, text.as_bytes()).map_err(|e| match e {
        SetupError::Io { source, .. } if source.kind() == io::ErrorKind::AlreadyExists => {
            SetupError::ConfigExists(config.clone())
        }
        other => other,
    })?;

    Ok(SetupReport {
        root: dd.root().to_path_buf(),
        config,
        domain: domain.to_string(),
        hostname: hostname.to_string(),
        cert,
        key,
        postmaster,
        development,
    })
}

/// Write a file that must not exist yet: synced, then its directory synced.
fn write_new(path: &Path, data: &[u8]) -> Result<(), SetupError> {
    let io_err = |source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    // The configuration will hold passwords (collection accounts, relays).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(io_err)?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(io_err)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir)?,
        _ => sync_dir(Path::new("."))?,
    }
    Ok(())
}

/// 16 characters from 32 unambiguous ones (no l, o, 0, 1): 80 random bits.
pub fn generate_password() -> Result<String, UserError> {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(UserError::Random)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect())
}

const SMTPALLOWED_TEMPLATE: &str = "\
# Which clients may use SMTP, in VPOP3's format (one range per line, first match wins).
# With no ranges listed, every client may connect; mail to other domains still needs
# AUTH. Examples:
#   192.168.1.0 255.255.255.0 noauth    the office LAN may send out without AUTH
#   !203.0.113.0/24                     refuse this range
#   0.0.0.0 0.0.0.0                     everyone else (needed once any range is listed)
";

/// The commented configuration both setups write.
pub fn config_text(domain: &str, hostname: &str) -> String {
    format!(
        r#"# Mailroom configuration. `mailroom check` validates this file; a running server
# reloads it within a few seconds of a change. Settings left out take their defaults.

# The name in greetings and HELO.
hostname = "{hostname}"
# For addresses without a domain, and the server's own mail (bounces and reports).
default_domain = "{domain}"
# Mail for these domains is kept here; mail for others is sent on.
local_domains = ["{domain}"]

[services]
# Listen addresses; an empty list turns a service off. These listen on this machine
# only (127.0.0.1) on high ports. To serve the office network use e.g. "0.0.0.0:25",
# "0.0.0.0:587", "0.0.0.0:110", "0.0.0.0:143" (ports below 1024 need privileges).
smtp = ["127.0.0.1:2525"]       # SMTP with STARTTLS: incoming mail and sending
smtps = ["127.0.0.1:2465"]      # SMTP with TLS from the start (normally port 465)
pop3 = ["127.0.0.1:2110"]
pop3s = ["127.0.0.1:2995"]
imap = ["127.0.0.1:2143"]
imaps = ["127.0.0.1:2993"]
http = ["127.0.0.1:5108"]       # web admin and webmail
pass = ["127.0.0.1:2106"]       # password changes (poppassd, normally port 106)

[tls]
# PEM files, relative to this directory. The generated certificate is self-signed:
# mail clients on other machines will warn until you use one from a real CA.
cert = "{DEV_CERT}"
key = "{DEV_KEY}"

[smtp]
# require_auth = true           # mail to other domains needs AUTH (or a noauth range
#                               # in access/SMTPALLOWED.DAT)
# anti_relay = "client_ip"      # client_ip | lan | from_address
# max_message_size = 52428800   # octets; 0 = no limit
# reject_unknown_local = true   # refuse mail for unknown local users at RCPT
# plaintext_auth = "lan"        # lan | always | never: AUTH before STARTTLS
# bare_newlines = "reject"      # reject | normalize: lone CR or LF inside a message
# hide_ip_addresses = false     # leave client addresses out of Received: lines

[accounts]
# min_password_length = 5       # 1 to 16
# lockout_failures = 5          # failed logins before an account is locked; 0 = never
# lockout_minutes = 15
# challenge_response = false    # keep encrypted passwords so APOP and CRAM-MD5 work

[pop3]
# require_apop = false          # needs challenge_response = true
# plaintext_auth = "lan"        # lan | always | never: USER/PASS before STLS
# idle_timeout_secs = 600
"#
    )
}
