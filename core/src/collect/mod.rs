//! POP3 collection (In Mail, §6.3): fetching mail from ISP mailboxes and sorting each
//! message to local users by its headers, with download rules (§8.1).
//!
//! Pure like the rest of core: the runtimes run the POP3 client machine over a socket,
//! persist the seen-UID book and the Ask book, and store what the sorting decides.

pub mod ask;
pub mod detect;
pub mod dlrules;
pub mod errors;
pub mod run;
pub mod seen;
mod single;
pub mod sort;
mod subject;
