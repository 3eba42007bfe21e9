//! POP3 collection in the runtime: connects to the ISP, runs the core collection
//! machines over the socket, stores what the sorting decides (durable before DELE) and
//! keeps the seen-UID book.

pub mod recover;
pub mod run;
pub mod seen_uids;
pub mod sort;
