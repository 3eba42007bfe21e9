//! The text-protocol toolkit: what SMTP, POP3, the password service, the ETRN client
//! and every line-based protocol to come share, so each protocol module holds only
//! what its commands and replies mean.
//!
//! - [`line`]: the bounded line reader (command and reply lines).
//! - [`session`]: the server-side line session (pending input while an event is
//!   outstanding, idle deadline, error count, STARTTLS, the end of the session); a
//!   server implements `LineProtocol` and gets its `Machine` from `line_machine!`.
//! - [`contract`]: `Close` once, time that never runs backwards, stray commands; the
//!   client machines use these directly.
//! - [`write`]: reply and command writers (`NNN text`, multi-line, `+OK`/`-ERR`) that
//!   clean CR/LF out of text.
//! - [`dot`]: the dot-stuffer and un-stuffer of multi-line bodies (RFC 1939 §3,
//!   RFC 5321 §4.5.2) and the exact-size counter that matches the stuffer.
//! - [`smtp_reply`]: reading `NNN text` replies on the client side (SMTP client,
//!   ETRN client, and any protocol that answers in SMTP's shape).
//!
//! Nothing here knows a protocol's commands; protocol modules import this module and
//! [`crate::auth`], never each other.

pub mod contract;
pub mod dot;
pub mod line;
pub mod session;
pub mod smtp_reply;
pub mod write;

pub use contract::{Clock, Ending};
pub use dot::{wire_form, SizeCounter, Stuffer, Unstuffer};
pub use line::{LineReader, LineStep};
pub use session::{Farewell, Limits, LineSession};
pub use smtp_reply::{Reply, ReplyError, ReplyReader};
