//! The blocking runtime end to end over loopback sockets (scenarios in common/).
#![allow(clippy::disallowed_methods)] // tests own sockets, files and clocks

mod common;

use mailroom_std::daemon::threads::run;

#[test]
fn plain_delivery_is_byte_exact() {
    common::plain_delivery_is_byte_exact(run);
}

#[test]
fn starttls_auth_delivers_local_and_spools_remote() {
    common::starttls_auth_delivers_local_and_spools_remote(run);
}

#[test]
fn starttls_discards_injected_plaintext() {
    common::starttls_discards_injected_plaintext(run);
}

#[test]
fn implicit_tls_delivers() {
    common::implicit_tls_delivers(run);
}

#[test]
fn wrong_password_is_refused() {
    common::wrong_password_is_refused(run);
}

#[test]
fn new_sessions_take_the_new_snapshot() {
    common::new_sessions_take_the_new_snapshot(run);
}

#[test]
fn parallel_clients_all_delivered() {
    common::parallel_clients_all_delivered(run);
}

#[test]
fn stop_leaves_idle_sessions_after_grace() {
    common::stop_leaves_idle_sessions_after_grace(run);
}

#[test]
fn garbage_tls_is_survived() {
    common::garbage_tls_is_survived(run);
}
