//! `mailroom.toml` parsing: defaults, unknown keys and bad values with their lines.

use mailroom_core::config::{parse_config, AntiRelay, Config, ConfigError};

const MINIMAL: &str = r#"hostname = "mail.example.com"
default_domain = "example.com"
local_domains = ["example.com"]

[services]
smtp = ["127.0.0.1:2525"]
pop3 = ["127.0.0.1:2110"]
imap = ["127.0.0.1:2143"]
http = ["127.0.0.1:5108"]
"#;

/// `message` says `part` (shown whole when it does not).
#[track_caller]
fn assert_mentions(message: &str, part: &str) {
    assert!(message.contains(part), "{message}");
}

fn errors(text: &str) -> Vec<ConfigError> {
    match parse_config(text) {
        Ok(c) => panic!("expected errors, got {c:?}"),
        Err(e) => e,
    }
}

#[test]
fn minimal_config_parses_and_defaults_the_rest() {
    let c: Config = parse_config(MINIMAL).expect("minimal config");
    assert_eq!(c.hostname, "mail.example.com");
    assert_eq!(c.local_domains, vec!["example.com".to_string()]);
    assert_eq!(c.services.smtp, vec!["127.0.0.1:2525".to_string()]);
    assert!(c.services.smtps.is_empty());
    assert_eq!(c.smtp.anti_relay, AntiRelay::ClientIp);
    assert_eq!(c.accounts.min_password_length, 5);
    assert!(c.tls.cert.is_none());
}

#[test]
fn services_table_may_be_left_out() {
    let text = "hostname = \"h.example\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n";
    let c = parse_config(text).expect("config without [services]");
    assert!(!c.services.smtp.is_empty());
}

#[test]
fn unknown_key_in_a_table_names_key_table_and_line() {
    let text = MINIMAL.replace("pop3 = [", "smpt = [\"127.0.0.1:1\"]\npop3 = [");
    let e = errors(&text);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, 7, "{e:?}");
    assert_mentions(&e[0].message, "unknown key `smpt` in [services]");
    assert_mentions(&e[0].message, "expected one of smtp, smtps");
}

#[test]
fn unknown_top_level_key_has_its_line() {
    let text = MINIMAL.replace("local_domains", "colour = \"blue\"\nlocal_domains");
    let e = errors(&text);
    assert_eq!(e[0].line, 3, "{e:?}");
    assert_mentions(&e[0].message, "unknown key `colour` at the top level");
}

#[test]
fn unknown_table_is_refused() {
    let text = format!("{MINIMAL}\n[smpt]\nrequire_auth = true\n");
    let e = errors(&text);
    assert_eq!(e[0].line, 11, "{e:?}");
    assert_mentions(&e[0].message, "smpt");
}

#[test]
fn wrong_type_has_its_line() {
    let text = format!("{MINIMAL}\n[smtp]\nrequire_auth = \"yes\"\n");
    let e = errors(&text);
    assert_eq!(e[0].line, 12, "{e:?}");
}

#[test]
fn unknown_enum_value_lists_the_choices() {
    let text = format!("{MINIMAL}\n[smtp]\nanti_relay = \"ip\"\n");
    let e = errors(&text);
    assert_eq!(e[0].line, 12, "{e:?}");
    assert_mentions(&e[0].message, "client_ip");
}

#[test]
fn missing_required_key_is_reported() {
    let text = MINIMAL.replace("default_domain = \"example.com\"\n", "");
    let e = errors(&text);
    assert_mentions(&e[0].message, "default_domain");
}

#[test]
fn syntax_error_has_its_line() {
    let text = MINIMAL.replace("imap = [\"127.0.0.1:2143\"]", "imap = [\"127.0.0.1:2143\"");
    let e = errors(&text);
    assert!((8..=9).contains(&e[0].line), "{e:?}");
}

#[test]
fn bad_values_are_all_reported_with_lines() {
    let text = r#"hostname = ""
default_domain = "exa mple.com"
local_domains = [
  "example.com",
  "bad_domain",
]

[services]
smtp = ["127.0.0.1:2525", "localhost"]
pop3 = ["127.0.0.1:2525"]

[accounts]
min_password_length = 40
"#;
    let e = errors(text);
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 2, 5, 9, 10, 13], "{e:#?}");
    assert!(e[0].message.contains("hostname is empty"));
    assert!(e[2].message.contains("bad_domain"));
    assert!(e[3]
        .message
        .contains("\"localhost\" is not an address with a port"));
    assert!(e[4].message.contains("already used by smtp"));
    assert!(e[5].message.contains("min_password_length = 40"));
}

#[test]
fn implicit_tls_needs_cert_and_key() {
    let text = MINIMAL.replace("pop3 = [", "smtps = [\"127.0.0.1:2465\"]\npop3 = [");
    let e = errors(&text);
    assert_eq!(e[0].line, 7, "{e:?}");
    assert!(e[0].message.contains("[tls] cert and key"));

    let with_tls = format!("{text}\n[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n");
    let c = parse_config(&with_tls).expect("smtps with tls");
    assert_eq!(c.tls.cert.as_deref(), Some("tls/cert.pem"));
}

#[test]
fn cert_without_key_is_refused() {
    let text = format!("{MINIMAL}\n[tls]\ncert = \"tls/cert.pem\"\n");
    let e = errors(&text);
    assert_eq!(e[0].line, 12, "{e:?}");
    assert!(e[0].message.contains("key is not"));
}

#[test]
fn empty_local_domains_is_refused() {
    let text = MINIMAL.replace("[\"example.com\"]", "[]");
    let e = errors(&text);
    assert_eq!(e[0].line, 3, "{e:?}");
}

#[test]
fn too_small_smtp_limits_are_refused() {
    let text = format!("{MINIMAL}\n[smtp]\nmax_command_line = 100\nmax_errors = 0\n");
    let e = errors(&text);
    assert_eq!(
        e.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![12, 13],
        "{e:?}"
    );
}

#[test]
fn empty_service_list_disables_it_and_ipv6_parses() {
    let text = MINIMAL
        .replace("pop3 = [\"127.0.0.1:2110\"]", "pop3 = []")
        .replace("imap = [\"127.0.0.1:2143\"]", "imap = [\"[::1]:2143\"]");
    let c = parse_config(&text).expect("config");
    assert!(c.services.pop3.is_empty());
    assert_eq!(c.services.imap, vec!["[::1]:2143".to_string()]);
}

#[test]
fn value_errors_name_their_key_and_table() {
    let text = format!("{MINIMAL}\n[accounts]\nmin_password_length = -1\n");
    let e = errors(&text);
    assert_eq!(e[0].line, 12, "{e:?}");
    assert!(
        e[0].message
            .starts_with("`min_password_length` in [accounts]: "),
        "{}",
        e[0].message
    );
    assert_mentions(&e[0].message, "whole number");
}

#[test]
fn multi_line_syntax_messages_become_one_line() {
    let text = format!("{MINIMAL}\n[smtp\n");
    let e = errors(&text);
    assert_eq!(e[0].line, 11, "{e:?}");
    assert!(!e[0].message.contains('\n'), "{:?}", e[0].message);
}
