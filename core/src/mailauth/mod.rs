//! Mail authentication (issue 19, docs/MAILAUTH.md): DKIM signing of outgoing mail and
//! the SPF, DKIM and DMARC checks of incoming mail, recorded in one
//! `Authentication-Results:` field. Nothing here does I/O: DNS records come in as
//! answers to [`check::Check`]'s questions, keys as PEM text, randomness (RSA
//! signing's blinding) from the runtime.

pub mod canon;
pub mod check;
pub mod dkim;
pub mod dmarc;
pub mod dns;
pub mod header;
pub mod key;
pub mod spf;
pub mod tags;

pub use check::{strip_own_results, Check, Results, Step, Verdict};
pub use dns::{Answers, Need, Reply};
pub use key::{Algorithm, KeyError, SigningKey};
