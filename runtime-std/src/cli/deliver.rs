//! `mailroom deliver`: route and store a message read from standard input, as local
//! mail.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use clap::Args;
use mailroom_core::router::Source;
use mailroom_core::smtp::{Delivery, Envelope, Recipient, Route, ABSOLUTE_MAX_MESSAGE};

use super::config_edit::*;
use super::route::{qualify, summary};
use crate::config::files::load_snapshot;
use crate::platform::datadir::DataDir;
use crate::services::deliver;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct DeliverArgs {
    /// Envelope sender (omit or "" for the null sender <>).
    #[arg(long, value_name = "SENDER")]
    pub from: Option<String>,
    /// Where the message comes from: local, smtp, or pop3:INMAIL (collected mail).
    #[arg(long, default_value = "local")]
    pub source: String,
    /// Recipients.
    #[arg(required = true, value_name = "RECIPIENT")]
    pub to: Vec<String>,
}

/// `mailroom deliver`: route a message read from standard input and store it, as the
/// server does at the end of DATA. For handing in collected mail (e.g. as fetchmail's
/// MDA) and for local programs. Exit 0 when stored, 75 (EX_TEMPFAIL) to retry later.
pub fn deliver(dd: &DataDir, args: DeliverArgs) -> ExitCode {
    let snap = match load_snapshot(dd) {
        Ok(s) => s,
        Err(p) => return report(&p),
    };
    let source: Source = match args.source.parse() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let limit = match snap.config.smtp.max_message_size {
        0 => ABSOLUTE_MAX_MESSAGE,
        n => n.min(ABSOLUTE_MAX_MESSAGE),
    };
    let mut raw = Vec::new();
    if let Err(e) = io::stdin().lock().take(limit + 1).read_to_end(&mut raw) {
        return fail(format!("cannot read the message: {e}"));
    }
    if raw.len() as u64 > limit {
        return fail(format!("the message is larger than {limit} octets"));
    }
    let data = crlf(&raw);
    let domain = &snap.config.default_domain;
    let from = args
        .from
        .as_deref()
        .map(|f| f.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|f| !f.is_empty())
        .map(|f| qualify(f, domain));
    let recipients = args
        .to
        .iter()
        .map(|t| Recipient {
            address: qualify(t, domain),
            route: Route::Unknown,
            dsn_notify: None,
            dsn_orcpt: None,
        })
        .collect();
    let mut delivery = Delivery {
        id: format!(
            "cli{}.{}",
            crate::platform::clock::unix_micros(),
            std::process::id()
        ),
        envelope: Envelope {
            mail_from: from,
            recipients,
            helo: "localhost".into(),
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            auth_user: None,
            eight_bit: true,
            dsn_ret: None,
            dsn_envid: None,
        },
        data,
        junk: false,
    };
    let store = match Store::open(dd) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match deliver::route_and_store(&store, &snap, &mut delivery, &source) {
        Ok(plan) => {
            println!("{}", summary(&plan));
            ExitCode::SUCCESS
        }
        Err(e) if e.temporary => {
            eprintln!("error: {} (try again later)", e.text);
            ExitCode::from(75)
        }
        Err(e) => fail(e.text),
    }
}

/// Bare LF line ends as CRLF, the form the store keeps (as SMTP delivers it).
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }
}
