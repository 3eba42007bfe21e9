//! The application side of a session: answers the SMTP machine's events.
//!
//! Both runtimes share one [`Shared`] per server: the current configuration snapshot
//! (swapped whole by the reloader), the store and the TLS configuration. The answers
//! here block (argon2, fsync); the smol runtime runs them on its blocking pool.

use crate::config::security::Security;
use crate::store::Store;
use mailroom_core::accounts::{hash_password, verify_password};
use mailroom_core::config::Snapshot;
use mailroom_core::router::Source;
use mailroom_core::smtp::{Delivery, DeliveryError, SmtpCommand, SmtpEvent};
use std::sync::{Arc, OnceLock, RwLock};

pub struct Shared {
    snapshot: RwLock<Arc<Snapshot>>,
    pub store: Store,
    /// `None`: no certificate configured; STARTTLS is not offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Lockout, POP-before-SMTP and the security log, for every service.
    pub security: Security,
    /// The outbound queue, once it runs (the scheduler driver asks it to send).
    pub outbound: std::sync::OnceLock<crate::services::outbound::handle::OutboundHandle>,
    /// Logged-in IMAP connections per user and address.
    pub imap_logins: Arc<crate::services::imap::logins::Logins>,
    /// The IDS/IPS block list, connection counts and DNS blocklists (docs/DEFENSE.md).
    pub defense: Arc<crate::services::defense::Defense>,
    /// The resolver of the mail authentication checks on incoming SMTP.
    pub check_resolver: crate::services::mailauth::CheckResolver,
    /// Password checks, with recent successes remembered (services/passwords.rs).
    pub passwords: crate::services::passwords::Passwords,
}

impl Shared {
    pub fn new(snapshot: Snapshot, store: Store, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        Shared {
            snapshot: RwLock::new(Arc::new(snapshot)),
            security: Security::new(store.data_dir()),
            defense: Arc::new(crate::services::defense::Defense::new(store.data_dir())),
            outbound: std::sync::OnceLock::new(),
            imap_logins: Arc::default(),
            check_resolver: Default::default(),
            passwords: Default::default(),
            store,
            tls,
        }
    }

    /// The configuration new sessions start with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock still holds a whole Arc: the swap is one assignment.
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replace the configuration; sessions already running keep theirs.
    pub fn replace_snapshot(&self, snapshot: Arc<Snapshot>) {
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = snapshot;
    }

    /// Answer one event. Blocks: argon2 for `Authenticate`, fsync for `Deliver`.
    pub fn answer(&self, event: SmtpEvent) -> SmtpCommand {
        match event {
            SmtpEvent::Authenticate { user, password } => {
                SmtpCommand::AuthResult(self.authenticate(&user, &password))
            }
            // CRAM-MD5 needs the secret store and lock-out table, which only the
            // service handler has (daemon::sessions answers it there); refuse here.
            SmtpEvent::AuthenticateCram { .. } => SmtpCommand::AuthResult(None),
            SmtpEvent::Deliver(mut delivery) => {
                SmtpCommand::DeliveryResult(self.deliver(&mut delivery))
            }
            SmtpEvent::Etrn { domain } => {
                let result =
                    crate::services::scheduler::etrn::release(self.store.data_dir(), &domain);
                if let (Ok(_), Some(out)) = (&result, self.outbound.get()) {
                    out.release(&domain);
                }
                SmtpCommand::EtrnResult(result)
            }
            SmtpEvent::RuleFired(activation) => {
                crate::services::smtprules::log_activation(self.store.data_dir(), &activation);
                SmtpCommand::RuleLogged
            }
            SmtpEvent::Dnsbl { ip } => {
                SmtpCommand::DnsblResult(self.defense.dnsbl(&self.snapshot().config, ip))
            }
            SmtpEvent::CheckAuth(request) => {
                let snap = self.snapshot();
                let resolver = self.check_resolver.get(&snap.config.dns);
                let answer = crate::services::mailauth::check(&resolver, &snap.config, &request);
                SmtpCommand::AuthChecked(Box::new(answer))
            }
        }
    }

    /// Route a received message (mappings, lists, forwarding; docs/ROUTING.md) with
    /// the current configuration and store the plan's deliveries, notices and bounces.
    pub fn deliver(&self, delivery: &mut Delivery) -> Result<(), DeliveryError> {
        // An authenticated session is a local user sending; anything else came in.
        let source = if delivery.envelope.auth_user.is_some() {
            Source::Local
        } else {
            Source::Smtp
        };
        let snap = self.snapshot();
        let dd = self.store.data_dir();
        use crate::services::extensions::{preprocess, Preprocessed};
        if preprocess(dd, &snap, delivery) == Preprocessed::Discarded {
            return Ok(());
        }
        crate::services::deliver::route_and_store(&self.store, &snap, delivery, &source).map(|_| ())
    }

    /// The canonical account name if `password` is right for `user`. Checked against
    /// the current snapshot, so a changed password counts at once.
    pub fn authenticate(&self, user: &str, password: &str) -> Option<String> {
        let snapshot = self.snapshot();
        match snapshot.accounts.get(user) {
            Some(account)
                if self
                    .passwords
                    .verify(&account.name, &account.password_hash, password) =>
            {
                Some(account.name.clone())
            }
            Some(_) => None,
            None => {
                // Spend the same time as for a real account so the reply time does
                // not reveal which names exist.
                let _ = verify_password(dummy_hash(), password);
                None
            }
        }
    }
}

pub(crate) fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password", &[0x5a; 16]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::datadir::DataDir;
    use mailroom_core::accounts::{Account, Accounts};
    use mailroom_core::config::parse_config;

    #[test]
    fn authenticate_checks_the_current_accounts() {
        let tmp = tempfile::tempdir().unwrap();
        let config = parse_config(
            "hostname = \"h.example\"\ndefault_domain = \"example.com\"\nlocal_domains = [\"example.com\"]\n",
        )
        .unwrap();
        let account = |pw: &str| Account {
            name: "alice".into(),
            password_hash: hash_password(pw, &[1; 16]).unwrap(),
            admin: false,
            comment: String::new(),
            max_outgoing_size: 0,
            ..Default::default()
        };
        let snap = |pw: &str| Snapshot {
            config: config.clone(),
            accounts: Accounts::new([account(pw)]),
            access: Default::default(),
        };
        let store = Store::open(&DataDir::new(tmp.path())).unwrap();
        let shared = Shared::new(snap("first pass"), store, None);
        assert_eq!(
            shared.authenticate("Alice", "first pass").as_deref(),
            Some("alice")
        );
        assert_eq!(shared.authenticate("alice", "wrong"), None);
        assert_eq!(shared.authenticate("bob", "first pass"), None);
        shared.replace_snapshot(Arc::new(snap("second pass")));
        assert_eq!(shared.authenticate("alice", "first pass"), None);
        assert_eq!(
            shared.answer(SmtpEvent::Authenticate {
                user: "alice".into(),
                password: "second pass".into()
            }),
            SmtpCommand::AuthResult(Some("alice".into()))
        );
    }
}
