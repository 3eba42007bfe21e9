//! MAP-6: what the outbound copy of a message looks like: domain mappings (§12.2),
//! users' Internet reply addresses (§4.2.3.4.2, group form §4.3.7.3) and global
//! header modifiers (§4.3.5).

mod router_support;

use mailroom_core::config::Snapshot;
use mailroom_core::router::rewrite::outbound_message;
use router_support::{route, snap, source};

const MSG: &str = "From: Sue <sue@company1.com>\r\n\
To: mike@company1.com\r\n\
Cc: \"Bob\" <bob@elsewhere.test>,\r\n\tjane@company1.com\r\n\
X-Mailer: Outlook 97\r\n\
Subject: hello sue@company1.com\r\n\
\r\n\
Body mentions sue@company1.com and stays.\r\n";

const MULTI_SITE: &str = "hostname = \"mail.company1.com\"\n\
default_domain = \"company1.com\"\n\
local_domains = [\"company1.com\"]\n\
[unknown_recipients]\naction = \"remote\"\n\
[local_mail]\n\
domain_mappings = [{ from = \"company1.com\", to = \"company2.com\" }]\n\
global_headers = [\"Organization: Example %% Co\", \"X-Mailer:\", \"X-Originator: %N <%O>\"]\n";

/// The outbound copy of `msg` from `sender`, arrived by `source_kind`.
fn rewritten(s: &Snapshot, source_kind: &str, sender: Option<&str>, msg: &str) -> String {
    let out = outbound_message(s, &source(source_kind), sender, msg.as_bytes());
    String::from_utf8(out.into_owned()).unwrap()
}

#[test]
fn section_12_2_domain_mappings_change_local_users_outgoing_mail() {
    let s = snap(MULTI_SITE, &[("sue", "")]);
    let plan = route(
        &s,
        "local",
        Some("sue@company1.com"),
        &["mike@company1.com"],
    );
    assert_eq!(plan.remote, ["mike@company2.com"], "{}", plan.explain());
    assert_eq!(plan.outbound_sender.as_deref(), Some("sue@company2.com"));
    let out = rewritten(&s, "local", Some("sue@company1.com"), MSG);
    assert!(
        out.starts_with("From: Sue <sue@company2.com>\r\nTo: mike@company2.com\r\n"),
        "{out}"
    );
    assert!(
        out.contains("\"Bob\" <bob@elsewhere.test>,\r\n\tjane@company2.com\r\n"),
        "{out}"
    );
    // Only address fields change; the subject and body are left alone.
    assert!(out.contains("Subject: hello sue@company1.com\r\n"), "{out}");
    assert!(
        out.ends_with("\r\n\r\nBody mentions sue@company1.com and stays.\r\n"),
        "{out}"
    );
}

#[test]
fn section_4_3_5_global_headers_set_remove_and_expand() {
    let s = snap(MULTI_SITE, &[("sue", "")]);
    let out = rewritten(&s, "local", Some("sue@company1.com"), MSG);
    let (head, _) = out.split_once("\r\n\r\n").unwrap();
    assert!(!head.contains("X-Mailer"), "{head}");
    assert!(
        head.contains("\r\nOrganization: Example % Co\r\n"),
        "{head}"
    );
    assert!(
        head.ends_with("X-Originator: Sue <sue@company1.com>"),
        "{head}"
    );
    // An existing field is modified in place, once.
    let msg = "Organization: Old\r\nFrom: sue@company1.com\r\nOrganization: Older\r\n\r\nb\r\n";
    let out = rewritten(&s, "local", None, msg);
    assert!(
        out.starts_with("Organization: Example % Co\r\nFrom: sue@company2.com\r\nX-Originator: sue@company1.com <sue@company1.com>\r\n\r\nb"),
        "{out}"
    );
}

#[test]
fn mail_from_outside_gets_no_domain_mapping_or_global_headers() {
    let s = snap(MULTI_SITE, &[("sue", "")]);
    let out = outbound_message(&s, &source("smtp"), Some("x@remote.test"), MSG.as_bytes());
    assert!(
        matches!(out, std::borrow::Cow::Borrowed(_)),
        "no copy when nothing changes"
    );
    assert_eq!(String::from_utf8(out.into_owned()).unwrap(), MSG);
    let plan = route(&s, "smtp", Some("x@remote.test"), &["mike@company1.com"]);
    assert_eq!(plan.outbound_sender.as_deref(), Some("x@remote.test"));
}

#[test]
fn section_4_2_3_4_2_reply_address_in_outbound_copies() {
    let s = snap(
        "[[group]]\nname = \"shared\"\nreply_address = '\"*\" <office@isp.example>'\n",
        &[
            ("sue", "reply_address = \"sue.smith@isp.example\""),
            ("helen", "group = \"shared\""),
            (
                "louise",
                "group = \"shared\"\nreply_address = \"louise@acme.com\"",
            ),
            ("bob", ""),
        ],
    );
    let msg = "From: Sue <sue@example.com>\r\nTo: x@remote.test, helen@example.org, bob@example.com\r\nReply-To: louise@EXAMPLE.com\r\n\r\nsue@example.com\r\n";
    assert_eq!(
        rewritten(&s, "smtp", Some("sue@example.com"), msg),
        "From: Sue <sue.smith@isp.example>\r\nTo: x@remote.test, office@isp.example, bob@example.com\r\nReply-To: louise@acme.com\r\n\r\nsue@example.com\r\n"
    );
    for (sender, want) in [
        ("sue@example.com", "sue.smith@isp.example"),
        ("helen@example.com", "office@isp.example"),
        ("louise@example.com", "louise@acme.com"),
        ("bob@example.com", "bob@example.com"),
    ] {
        let plan = route(&s, "local", Some(sender), &["x@remote.test"]);
        assert_eq!(plan.outbound_sender.as_deref(), Some(want), "{sender}");
    }
}
