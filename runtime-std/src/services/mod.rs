//! What the server does, apart from moving bytes: the shared state and delivery of
//! received mail, download rules, the outbound sender, the POP3 collector, and the
//! driver of the connection scheduler.

pub mod app;
pub mod askbook;
pub mod automail;
pub mod collect;
pub mod defense;
pub mod deliver;
pub mod dlrules;
pub mod download_receipts;
pub mod extensions;
pub mod finger;
pub mod imap;
pub mod ldap;
pub mod list_digests;
pub mod lists;
pub mod mailauth;
pub mod mailbox_admin;
pub mod monitor;
pub mod monitoring;
pub mod outbound;
pub mod passwords;
pub mod queue_hold;
pub mod scheduler;
pub mod server_mail;
pub mod smtprules;
pub mod summary;
pub mod summary_report;
pub mod unlock_requests;
pub mod web;
pub mod welcome;
