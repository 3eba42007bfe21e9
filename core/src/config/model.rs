//! Typed configuration. Field names are the TOML keys; the fixed ones come from
//! ../shared/design/INTERFACE.md and must not be renamed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Greeting / HELO name.
    pub hostname: String,
    /// Domain used for unqualified addresses and for mail the server writes itself.
    pub default_domain: String,
    /// VPOP3 "Local Domains": mail for these is delivered here.
    pub local_domains: Vec<String>,
    #[serde(default)]
    pub services: Services,
    #[serde(default)]
    pub tls: Tls,
    #[serde(default)]
    pub smtp: Smtp,
    #[serde(default)]
    pub accounts: AccountPolicy,
    #[serde(default)]
    pub pop3: Pop3,
    /// `[pass]`: the password service's bounds (§11.7).
    #[serde(default)]
    pub pass: Pass,
    /// `[imap]`: the IMAP session's bounds (issue 12).
    #[serde(default)]
    pub imap: Imap,
    /// `[[mapping]]` entries, in file order (§5).
    #[serde(default, rename = "mapping", skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<super::Mapping>,
    /// `[[list]]` entries (§14).
    #[serde(default, rename = "list", skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<super::List>,
    /// `[[group]]` entries (§4.3.6).
    #[serde(default, rename = "group", skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<super::Group>,
    #[serde(default)]
    pub local_mail: super::LocalMail,
    #[serde(default)]
    pub admin: super::Admin,
    #[serde(default)]
    pub unknown_recipients: super::UnknownRecipients,
    /// `[[connection]]` entries (§6.2); connection N is the Nth in the file.
    #[serde(default, rename = "connection", skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<super::Connection>,
    /// `[[schedule]]` entries (§6.5).
    #[serde(default, rename = "schedule", skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<super::Schedule>,
    /// `[connect]`: schedule modifiers, hooks, priority messages (§6.5.1, §23.1).
    #[serde(default)]
    pub connect: super::ConnectOptions,
    /// `[outbound]`: retry, delay warnings, bounces, sessions (§6.4, §6.4.4).
    #[serde(default)]
    pub outbound: super::Outbound,
    /// `[dns]`: resolvers and cache for SMTP Direct (§6.4.3).
    #[serde(default)]
    pub dns: super::Dns,
    /// `[lan_forward]`: the LAN forwarding queue (§13.3).
    #[serde(default)]
    pub lan_forward: super::LanForward,
    /// `[[inmail]]` entries: ISP POP3 mailboxes to collect (§6.3).
    #[serde(default, rename = "inmail", skip_serializing_if = "Vec::is_empty")]
    pub inmails: Vec<super::InMail>,
    /// `[download_rules]`: DLRULES.DAT settings (§8.1).
    #[serde(default)]
    pub download_rules: super::DownloadRules,
    /// `[ids]`: the IDS/IPS block list (docs/DEFENSE.md).
    #[serde(default)]
    pub ids: super::Ids,
    /// `[limits]`: connections at once per service and per client address.
    #[serde(default)]
    pub limits: super::Limits,
    /// `[[dkim]]` entries: keys that sign outgoing mail (issue 19).
    #[serde(default, rename = "dkim", skip_serializing_if = "Vec::is_empty")]
    pub dkim: Vec<super::Dkim>,
    /// `[mailauth]`: SPF/DKIM/DMARC checks on incoming SMTP (issue 19).
    #[serde(default)]
    pub mailauth: super::MailAuth,
    /// `[web]`: the web admin's sessions and request timeouts (issue 13).
    #[serde(default)]
    pub web: super::Web,
    /// `[logs]`: the main log, SUMMARY.LOG and the transcripts (issue 17).
    #[serde(default)]
    pub logs: super::Logs,
    /// `[signature]`: the global signature of outgoing mail (§4.3.4).
    #[serde(default)]
    pub signature: super::SignatureConfig,
    /// `[autoresponder]`: global autoresponder filters and address lists (issue 15).
    #[serde(default)]
    pub autoresponder: super::AutoMail,
    /// `[receipts]`: delivery receipts on POP3 download (§16.1.2, issue 15).
    #[serde(default)]
    pub receipts: super::Receipts,
    /// `[monitoring]`: monitoring copies (LOG-3, §15.1).
    #[serde(default)]
    pub monitoring: super::Monitoring,
    /// `[extensions]`: external programs (EXT-1, §23).
    #[serde(default)]
    pub extensions: super::Extensions,
}

/// Empty names and every section at its default: a base for configurations built in
/// code (`Config { hostname, .., ..Config::default() }`); not a valid file by itself.
impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: String::new(),
            default_domain: String::new(),
            local_domains: Vec::new(),
            services: Services::default(),
            tls: Tls::default(),
            smtp: Smtp::default(),
            accounts: AccountPolicy::default(),
            pop3: Pop3::default(),
            pass: Pass::default(),
            imap: Imap::default(),
            mappings: Vec::new(),
            lists: Vec::new(),
            groups: Vec::new(),
            local_mail: super::LocalMail::default(),
            admin: super::Admin::default(),
            unknown_recipients: super::UnknownRecipients::default(),
            connections: Vec::new(),
            schedules: Vec::new(),
            connect: super::ConnectOptions::default(),
            outbound: super::Outbound::default(),
            dns: super::Dns::default(),
            lan_forward: super::LanForward::default(),
            inmails: Vec::new(),
            download_rules: super::DownloadRules::default(),
            ids: super::Ids::default(),
            limits: super::Limits::default(),
            dkim: Vec::new(),
            mailauth: super::MailAuth::default(),
            web: super::Web::default(),
            logs: super::Logs::default(),
            signature: super::SignatureConfig::default(),
            autoresponder: super::AutoMail::default(),
            receipts: super::Receipts::default(),
            monitoring: super::Monitoring::default(),
            extensions: super::Extensions::default(),
        }
    }
}

/// Listen addresses per service; an empty list disables the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Services {
    /// Plain SMTP with STARTTLS (incoming Internet mail and submission).
    pub smtp: Vec<String>,
    /// SMTP with implicit TLS (RFC 8314, usually port 465).
    pub smtps: Vec<String>,
    pub pop3: Vec<String>,
    pub pop3s: Vec<String>,
    pub imap: Vec<String>,
    pub imaps: Vec<String>,
    /// The web admin and webmail (issue 13; docs/WEB.md).
    pub http: Vec<String>,
    /// The same over implicit TLS, with the mail services' certificate.
    pub https: Vec<String>,
    /// The password-change service (§11.7; port 106 in production). Off unless listed.
    pub pass: Vec<String>,
    /// The finger server (§11.5; port 79 in production). Off unless listed.
    pub finger: Vec<String>,
    /// The LDAP address book (§11.4; port 389 in production), anonymous. Off unless listed.
    pub ldap: Vec<String>,
    /// The status monitor (SVC-5, §3.1; port 5109 in production). Off unless listed.
    pub monitor: Vec<String>,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            smtp: vec!["127.0.0.1:2525".into()],
            smtps: vec![],
            pop3: vec!["127.0.0.1:2110".into()],
            pop3s: vec![],
            imap: vec!["127.0.0.1:2143".into()],
            imaps: vec![],
            http: vec!["127.0.0.1:5108".into()],
            https: vec![],
            pass: vec![],
            finger: vec![],
            ldap: vec![],
            monitor: vec![],
        }
    }
}

/// Certificate and key (PEM), relative to the data directory unless absolute.
/// Without them STARTTLS is not offered and the implicit-TLS listeners refuse to start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub cert: Option<String>,
    pub key: Option<String>,
}

/// How the SMTP server decides who may send mail to non-local addresses (§11.3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AntiRelay {
    /// The SMTP access file (SMTPALLOWED.DAT) decides; the recommended method.
    #[default]
    ClientIp,
    /// Only clients on the LAN (private, loopback and link-local addresses) may relay.
    Lan,
    /// Only messages whose envelope sender is a local user may be relayed.
    FromAddress,
}

/// SMTP service settings (§11.3). Sizes are octets; 0 means "no limit" where noted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// "Require SMTP Authentication" before mail to non-local recipients.
    pub require_auth: bool,
    /// "Require POP3 then SMTP": minutes a POP3 login lets that IP send; 0 = off.
    pub pop_before_smtp_minutes: u32,
    pub anti_relay: AntiRelay,
    /// Maximum message size; 0 = no limit (VPOP3). Smaller per-user limits also apply.
    pub max_message_size: u64,
    /// "Reject unrecognised local recipients" with 550 at RCPT (else accept and bounce).
    pub reject_unknown_local: bool,
    /// "Don't allow addresses with '%' in their address".
    pub refuse_percent: bool,
    /// "Refuse SMTP connections from": a HELO argument containing this is disconnected.
    pub refuse_helo: String,
    /// Offer the DSN extension (RFC 3461).
    pub dsn: bool,
    /// Most RCPT commands accepted per message.
    pub max_recipients: u32,
    /// Longest command line accepted, CRLF included.
    pub max_command_line: u32,
    /// Longest line inside DATA, CRLF excluded; longer lines fail the message.
    pub max_data_line: u32,
    /// Bad commands tolerated before the session is closed with 421.
    pub max_errors: u32,
    /// Seconds without input before the session is closed (§16.6.2).
    pub idle_timeout_secs: u32,
    /// When AUTH may be used on a connection that is not encrypted.
    pub plaintext_auth: PlaintextAuth,
    /// What a bare CR or LF inside DATA does (SMTP smuggling defence).
    pub bare_newlines: BareNewlines,
    /// "Hide IP addresses" in the added `Received:` line (§16.2).
    pub hide_ip_addresses: bool,
    /// Domains whose mail is held here until their own server asks for it with
    /// `ETRN` (hierarchical sites, §7.7.3). Mail to them is accepted from anyone.
    pub etrn_domains: Vec<String>,
    /// DNS blocklist zones (§11.3, `zen.spamhaus.org`): an unauthenticated client
    /// listed in one is refused at MAIL with 554.
    pub dnsbl: Vec<String>,
    /// Longest wait for all blocklist answers of one client; past it the client is
    /// taken as not listed (a dead DNS server never stops mail).
    pub dnsbl_timeout: super::Span,
}

/// When AUTH is offered without TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaintextAuth {
    /// Only from loopback and private (LAN) addresses; elsewhere STARTTLS first.
    #[default]
    Lan,
    Always,
    Never,
}

/// Handling of a CR or LF that is not part of a CRLF pair inside DATA. Either way only
/// CRLF.CRLF ends the data, so a smuggled "\n.\n" never ends a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BareNewlines {
    /// Refuse the message after its end with 550 (Postfix's behaviour since 2024).
    #[default]
    Reject,
    /// Accept it, storing each bare CR or LF as CRLF.
    Normalize,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            require_auth: true,
            pop_before_smtp_minutes: 0,
            anti_relay: AntiRelay::ClientIp,
            max_message_size: 50 * 1024 * 1024,
            reject_unknown_local: true,
            refuse_percent: true,
            refuse_helo: String::new(),
            dsn: true,
            max_recipients: 1000,
            max_command_line: 2048,
            max_data_line: 65536,
            max_errors: 20,
            idle_timeout_secs: 300,
            plaintext_auth: PlaintextAuth::Lan,
            bare_newlines: BareNewlines::Reject,
            hide_ip_addresses: false,
            etrn_domains: Vec::new(),
            dnsbl: Vec::new(),
            dnsbl_timeout: super::Span::secs(5),
        }
    }
}

/// Account rules (§4.2.1, §4.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountPolicy {
    /// Minimum password length, 1..=16 (VPOP3 default 5).
    pub min_password_length: u32,
    /// Failed logins before an account is locked; 0 = never lock.
    pub lockout_failures: u32,
    /// Minutes an account stays locked.
    pub lockout_minutes: u32,
    /// §4.3.1 "Apply account lockout policy to WebMail/Admin even when connecting from
    /// 127.0.0.1". Off by default: the web admin from the server itself is exempt.
    pub lockout_web_from_loopback: bool,
    /// Keep an encrypted reusable secret per account so APOP and CRAM-MD5 work. Off by
    /// default: then only salted password hashes are stored.
    pub challenge_response: bool,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        AccountPolicy {
            min_password_length: 5,
            lockout_failures: 5,
            lockout_minutes: 15,
            lockout_web_from_loopback: false,
            challenge_response: false,
        }
    }
}

/// POP3 service settings (§11.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3 {
    /// "Require APOP authentication": USER/PASS and AUTH are refused. Needs
    /// `[accounts] challenge_response = true`.
    pub require_apop: bool,
    /// When USER/PASS and AUTH PLAIN may be used on a connection that is not encrypted.
    pub plaintext_auth: PlaintextAuth,
    /// Seconds without input before the session is closed; RFC 1939 asks for at least
    /// 10 minutes. Deletions are not applied after a timeout.
    pub idle_timeout_secs: u32,
    /// Longest command line accepted, CRLF included (RFC 2449: at least 255).
    pub max_command_line: u32,
    /// Bad commands tolerated before the session is closed.
    pub max_errors: u32,
}

impl Default for Pop3 {
    fn default() -> Self {
        Pop3 {
            require_apop: false,
            plaintext_auth: PlaintextAuth::Lan,
            idle_timeout_secs: 600,
            max_command_line: 1024,
            max_errors: 20,
        }
    }
}

/// IMAP service settings (issue 12, docs/IMAP.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imap {
    /// When LOGIN and AUTHENTICATE PLAIN may be used on a connection that is not
    /// encrypted (LOGINDISABLED is advertised when they may not).
    pub plaintext_auth: PlaintextAuth,
    /// The manual's "Require CRAM-MD5 authentication" (§11.8.2): LOGIN and
    /// AUTHENTICATE PLAIN are refused everywhere; needs challenge_response.
    pub require_cram_md5: bool,
    /// The manual's "Keep Internal Date and Message Flags when messages are copied":
    /// off, a copy gets the time of the copy and no flags.
    pub copy_keeps_date_and_flags: bool,
    /// The manual's "Fake access to inaccessible mailboxes": a shared folder the user
    /// may see in LIST (`l`) but not read (`r`) opens as an empty read-only folder
    /// instead of failing with NO [NOPERM], which some clients report as an error.
    pub fake_inaccessible: bool,
    /// Logged-in IMAP connections one user may hold from one client address
    /// (Dovecot's mail_max_userip_connections); 0 = no limit.
    pub max_connections_per_user: u32,
    /// Seconds without input before `* BYE` and close; RFC 3501 §5.4 asks for at
    /// least 30 minutes (IDLE included).
    pub idle_timeout_secs: u32,
    /// Longest command line accepted (one line between literals), CRLF included.
    pub max_command_line: u32,
    /// Largest literal accepted (APPEND's message included); a larger one is refused
    /// when announced, before any of it is read.
    pub max_literal: u32,
    /// Bad commands tolerated before the session is closed.
    pub max_errors: u32,
}

impl Default for Imap {
    fn default() -> Self {
        Imap {
            plaintext_auth: PlaintextAuth::Lan,
            require_cram_md5: false,
            copy_keeps_date_and_flags: true,
            fake_inaccessible: true,
            max_connections_per_user: 10,
            idle_timeout_secs: 1800,
            max_command_line: 65_536,
            max_literal: 52_428_800,
            max_errors: 20,
        }
    }
}

/// Password service settings (§11.7, the poppassd dialogue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pass {
    /// Seconds without input before the session is closed (DECISIONS.md: 300 s).
    pub idle_timeout_secs: u32,
    /// Longest command line accepted, CRLF included.
    pub max_command_line: u32,
    /// Bad commands tolerated before the session is closed.
    pub max_errors: u32,
}

impl Default for Pass {
    fn default() -> Self {
        Pass {
            idle_timeout_secs: 300,
            max_command_line: 512,
            max_errors: 10,
        }
    }
}
