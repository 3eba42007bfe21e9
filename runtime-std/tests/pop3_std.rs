//! POP3, the password server and account security on the blocking runtime.
#![allow(clippy::disallowed_methods)] // tests own sockets, files and clocks

mod pop3_common;

use mailroom_std::daemon::threads::run;

macro_rules! scenarios {
    ($($name:ident),+ $(,)?) => {$(
        #[test]
        fn $name() {
            pop3_common::$name(run);
        }
    )+};
}

scenarios!(
    retrieve_delete_and_uids_survive_restart,
    dele_then_disconnect_keeps_mail,
    second_login_is_in_use,
    lockout_after_failures_is_logged,
    access_files_deny_per_service_and_user,
    pop_before_smtp_opens_the_relay,
    password_server_changes_the_password,
    pop3s_and_stls,
    apop_with_challenge_response,
    held_messages_are_hidden,
    smtp_cram_md5_with_challenge_response,
);
