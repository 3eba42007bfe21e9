//! A complete SMTP session run in memory through the core [`SmtpServer`], with the
//! store's answer given at once: what the protocol code costs without sockets or disks.

use mailroom_core::accounts::{Account, Accounts};
use mailroom_core::config::{Config, Snapshot};
use mailroom_core::smtp::{SessionInfo, SmtpCommand, SmtpEvent, SmtpServer};
use mailroom_core::{Input, Instant};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The configuration every in-memory bench uses: domain example.com, users alice and bob.
pub fn snapshot() -> Arc<Snapshot> {
    let config: Config = toml::from_str(
        "hostname = \"mail.example.com\"\n\
         default_domain = \"example.com\"\n\
         local_domains = [\"example.com\"]\n",
    )
    .expect("the bench configuration is valid TOML for Config");
    // Through serde, so fields added to Account later take their defaults here too.
    // The driver verifies passwords, never core, so any hash string will do.
    let account = |name: &str| -> Account {
        toml::from_str(&format!(
            "name = \"{name}\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$bench\"\n"
        ))
        .expect("the bench account is valid TOML for Account")
    };
    Arc::new(Snapshot {
        config,
        accounts: Accounts::new([account("alice"), account("bob")]),
        access: Default::default(),
    })
}

/// The client's side of one session, as the chunks a real client would write: the
/// greeting is awaited, then EHLO, then (pipelined) MAIL/RCPT/DATA, then the dot-stuffed
/// message with its final dot, then QUIT. `messages` transactions share the session.
pub fn client_script(data: &[u8], messages: usize, auth_plain: bool) -> Vec<Vec<u8>> {
    let mut chunks = vec![b"EHLO client.example.com\r\n".to_vec()];
    if auth_plain {
        // base64("\0alice\0secret")
        chunks.push(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n".to_vec());
    }
    for _ in 0..messages {
        chunks.push(
            format!(
                "MAIL FROM:<alice@example.com> SIZE={}\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
                data.len()
            )
            .into_bytes(),
        );
        chunks.push(data.to_vec());
    }
    chunks.push(b"QUIT\r\n".to_vec());
    chunks
}

/// What one session produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `Deliver` events answered with success.
    pub delivered: usize,
    /// Everything the server wrote.
    pub replies: Vec<u8>,
    pub closed: bool,
}

/// Run one session over `chunks`, answering AUTH with success and every delivery with
/// `Ok` immediately. `out` is reused between runs to keep allocation out of the figure.
pub fn run_session(snapshot: &Arc<Snapshot>, chunks: &[Vec<u8>], out: &mut Vec<u8>) -> Outcome {
    let now = Instant::from_secs(1_767_225_600);
    let info = SessionInfo {
        peer_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        session_id: "bench1".into(),
        tls_active: false,
        tls_available: false,
        pop_before_smtp: false,
        local_offset_secs: 0,
    };
    let mut server = SmtpServer::new(now, Arc::clone(snapshot), info);
    let mut delivered = 0usize;
    let mut answer = |e: &SmtpEvent| match e {
        SmtpEvent::Authenticate { user, .. } | SmtpEvent::AuthenticateCram { user, .. } => {
            Some(SmtpCommand::AuthResult(Some(user.clone())))
        }
        SmtpEvent::Deliver(_) => {
            delivered += 1;
            Some(SmtpCommand::DeliveryResult(Ok(())))
        }
        SmtpEvent::Etrn { .. } => Some(SmtpCommand::EtrnResult(Ok(0))),
        SmtpEvent::RuleFired(_) => Some(SmtpCommand::RuleLogged),
        SmtpEvent::Dnsbl { .. } => Some(SmtpCommand::DnsblResult(None)),
        SmtpEvent::CheckAuth(_) => Some(SmtpCommand::AuthChecked(Box::new(
            mailroom_core::smtp::AuthAnswer::unchecked(),
        ))),
    };
    out.clear();
    let mut closed = mailroom_harness::drain(&mut server, now, out, &mut answer).closed;
    for chunk in chunks {
        if closed {
            break;
        }
        closed =
            mailroom_harness::feed(&mut server, now, Input::Bytes(chunk), out, &mut answer).closed;
    }
    Outcome {
        delivered,
        replies: out.clone(),
        closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{dot_stuff, message};

    /// The bench measures real work only if the scripted session really delivers.
    #[test]
    fn scripted_session_delivers_every_message() {
        let snap = snapshot();
        let data = dot_stuff(&message(4096, "fixture"));
        let mut out = Vec::new();
        let o = run_session(&snap, &client_script(&data, 3, false), &mut out);
        let text = String::from_utf8_lossy(&o.replies);
        assert_eq!(o.delivered, 3, "replies:\n{text}");
        assert!(o.closed, "QUIT closes the session; replies:\n{text}");
        assert!(text.starts_with("220 "), "{text}");
        assert!(text.contains("\r\n221 "), "{text}");
        assert_eq!(text.matches("\r\n354 ").count(), 3, "{text}");
    }
}
