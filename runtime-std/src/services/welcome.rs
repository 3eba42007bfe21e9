//! The welcome message new users get (§4.3.2.5, "Send Welcome message to new user"):
//! `DIR/WELCOME.MSG` if it exists, else a built-in text, put straight into the new
//! account's INBOX from `Mailer_Daemon`. In the file an optional first line
//! `Subject: ...` gives the subject; `%N` is the user's name and `%D` the default
//! domain. Used by `mailroom user add --welcome`, `user import --welcome` and the web
//! admin's add-user and import forms.

use std::fs;
use std::io::Read;

use mailroom_core::config::Config;
use mailroom_core::dsn::{build_text, MailHead, TextMail};

use crate::platform::clock::now;
use crate::platform::datadir::DataDir;
use crate::store::{maildir, Committer};

/// Longest WELCOME.MSG read.
const MAX_WELCOME: u64 = 64 * 1024;

const DEFAULT_WELCOME: &str = "Subject: Welcome to your new mailbox\n\
Hello %N,\n\
\n\
Your mail account %N@%D is ready. Your administrator can tell you the settings for\n\
your mail program, or read your mail on the web.\n";

/// Subject and text for `user`.
pub fn welcome_text(template: &str, user: &str, default_domain: &str) -> (String, String) {
    let filled = template.replace("%N", user).replace("%D", default_domain);
    match filled.split_once('\n') {
        Some((first, rest)) if first.to_ascii_lowercase().starts_with("subject:") => {
            let subject = first["subject:".len()..].trim().to_string();
            (subject, rest.trim_start_matches(['\r', '\n']).to_string())
        }
        _ => ("Welcome".to_string(), filled),
    }
}

/// Put the welcome message into `user`'s INBOX.
pub fn send_welcome(dd: &DataDir, config: &Config, user: &str) -> std::io::Result<()> {
    let mut template = String::new();
    match fs::File::open(dd.welcome_message_file()) {
        Ok(f) => {
            f.take(MAX_WELCOME).read_to_string(&mut template)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if template.trim().is_empty() {
        template = DEFAULT_WELCOME.to_string();
    }
    let (subject, text) = welcome_text(&template, user, &config.default_domain);
    let to = format!("{user}@{}", config.default_domain);
    let at = now();
    let id = format!("{}.{}.welcome", at.unix_micros(), std::process::id());
    let data = build_text(&TextMail {
        head: MailHead::new(config, &to, at, &id),
        subject: &subject,
        text: &text,
    });
    maildir::deliver(&Committer::new(), &[dd.maildir(user)], &data)?;
    tracing::info!(user, "welcome message delivered");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_line_and_names() {
        let (s, t) = welcome_text("Subject: Hi %N\n\nMail %N@%D\n", "fred", "example.com");
        assert_eq!(s, "Hi fred");
        assert_eq!(t, "Mail fred@example.com\n");
        let (s, t) = welcome_text("Just text\n", "fred", "x");
        assert_eq!((s.as_str(), t.as_str()), ("Welcome", "Just text\n"));
    }
}
