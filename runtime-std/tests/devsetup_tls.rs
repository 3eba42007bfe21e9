//! The development setup and its self-signed certificate, checked with a real TLS
//! handshake in memory.

use std::sync::Arc;

use mailroom_core::accounts::verify_password;
use mailroom_std::cli::devsetup::{self, Postmaster, SetupError};
use mailroom_std::config::files::load_snapshot;
use mailroom_std::platform::datadir::DataDir;
use mailroom_std::platform::tls;
use rustls::pki_types::ServerName;

fn handshake(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    name: &str,
) -> Result<(), rustls::Error> {
    let name = ServerName::try_from(name.to_string()).expect("server name");
    let mut c = rustls::ClientConnection::new(client, name)?;
    let mut s = rustls::ServerConnection::new(server)?;
    // Shuttle records both ways until both sides finish or one fails.
    for _ in 0..20 {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).expect("client write");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).expect("server read");
        }
        s.process_new_packets()?;
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).expect("server write");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).expect("client read");
        }
        c.process_new_packets()?;
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn dev_setup_is_a_working_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dd = DataDir::new(dir.path().join("fresh"));
    let report = devsetup::dev_setup(&dd).expect("dev setup");
    let Postmaster::CreatedWithPassword(password) = &report.postmaster else {
        panic!("expected a generated password, got {:?}", report.postmaster);
    };
    let text = report.to_string();
    assert!(text.contains("development setup"), "{text}");
    assert!(text.contains(password.as_str()), "{text}");

    let snap = load_snapshot(&dd).expect("snapshot");
    assert_eq!(snap.config.default_domain, "example.com");
    assert_eq!(snap.config.hostname, "mail.example.com");
    assert_eq!(snap.config.local_domains, vec!["example.com".to_string()]);
    assert_eq!(
        snap.config.services.smtp,
        vec!["127.0.0.1:2525".to_string()]
    );
    assert_eq!(
        snap.config.services.smtps,
        vec!["127.0.0.1:2465".to_string()]
    );
    for list in [
        &snap.config.services.pop3,
        &snap.config.services.imap,
        &snap.config.services.http,
    ] {
        assert!(list.iter().all(|a| a.starts_with("127.0.0.1:")), "{list:?}");
    }
    let pm = snap.accounts.get("postmaster").expect("postmaster");
    assert!(pm.admin);
    assert!(verify_password(&pm.password_hash, password));
    // A comment-only SMTPALLOWED.DAT: no ranges, so nobody relays without AUTH.
    assert!(snap.access.smtp.is_empty());

    let again = devsetup::dev_setup(&dd).expect_err("second setup");
    assert!(matches!(again, SetupError::ConfigExists(_)), "{again}");
}

#[test]
fn generated_certificate_serves_tls_for_each_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dd = DataDir::new(dir.path());
    devsetup::dev_setup(&dd).expect("dev setup");
    let snap = load_snapshot(&dd).expect("snapshot");
    let server = tls::server_config(&dd, &snap.config)
        .expect("tls config")
        .expect("tls configured");
    let client = tls::client_config_trusting(&dd.resolve(tls::DEV_CERT)).expect("client config");
    for name in ["mail.example.com", "localhost", "127.0.0.1"] {
        handshake(server.clone(), client.clone(), name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(handshake(server, client, "other.example.org").is_err());
}

#[test]
fn no_tls_section_means_no_tls_and_bad_files_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dd = DataDir::new(dir.path());
    let mut config = mailroom_core::config::parse_config(
        "hostname = \"h\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
    )
    .expect("config");
    assert!(tls::server_config(&dd, &config).expect("no tls").is_none());

    std::fs::write(dir.path().join("cert.pem"), "not a certificate").expect("write");
    std::fs::write(dir.path().join("key.pem"), "not a key").expect("write");
    config.tls.cert = Some("cert.pem".into());
    config.tls.key = Some("key.pem".into());
    let err = tls::server_config(&dd, &config).expect_err("bad cert");
    assert!(err.to_string().contains("no certificate"), "{err}");

    config.tls.cert = Some("missing.pem".into());
    let err = tls::server_config(&dd, &config).expect_err("missing cert");
    assert!(
        err.to_string().contains("missing.pem: cannot read"),
        "{err}"
    );
}
