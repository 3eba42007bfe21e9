//! Bad routing configuration is refused with its line before it can lose mail: syntax
//! and values by `parse_config`, names that do not exist by `check_routing`.

mod router_support;

use mailroom_core::config::{parse_config, MappingMode, UnknownAction};
use mailroom_core::router::{check_routing, Place};
use router_support::{snap_unchecked, BASE};

/// The (line, message) of every problem `parse_config` finds in `BASE + extra`.
fn parse_problems(extra: &str) -> Vec<(usize, String)> {
    match parse_config(&format!("{BASE}{extra}")) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| (e.line, e.message)).collect(),
    }
}

fn assert_problem(extra: &str, line: usize, needle: &str) {
    let problems = parse_problems(extra);
    assert!(
        problems
            .iter()
            .any(|(l, m)| *l == line && m.contains(needle)),
        "want line {line} with {needle:?}, got {problems:#?}"
    );
}

#[test]
fn a_good_routing_configuration_parses() {
    let cfg = parse_config(&format!(
        "{BASE}\
         [[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\n\
         [[mapping]]\naddress = \"*@*.example.com\"\ntarget = \"*REMOTE\"\nmode = \"smtp\"\n\
         [[mapping]]\naddress = \"~@example.org\"\ntarget = \"catchall@example.com\"\nmode = \"pop3\"\ninmail = \"isp\"\n\
         [[list]]\nname = \"team\"\nmembers = [\"fred\", \"x@remote.test\"]\n\
         [[list]]\nname = \"margaret\"\nkind = \"forwarding\"\nmembers = [\"maggie@isponline.com\"]\n\
         [[group]]\nname = \"sales-people\"\nreply_address = '\"*\" <sales@example.com>'\nforce = true\n\
         [local_mail]\ndefault_user_mapping = false\n\
         domain_mappings = [{{ from = \"company1.com\", to = \"company2.com\" }}]\n\
         global_headers = [\"Organization: Example Ltd\", \"X-Mailer:\"]\n\
         [admin]\nmain_administrator = \"fred\"\n\
         [unknown_recipients]\naction = \"message_to\"\nto = \"fred\"\nbounce = true\n"
    ))
    .unwrap();
    assert_eq!(cfg.mappings.len(), 3);
    assert_eq!(cfg.mappings[0].line, 4);
    assert_eq!(cfg.mappings[1].mode, MappingMode::Smtp);
    assert_eq!(cfg.mappings[2].inmail.as_deref(), Some("isp"));
    assert_eq!(cfg.lists[1].line, 19);
    assert_eq!(cfg.groups[0].line, 23);
    assert!(!cfg.local_mail.default_user_mapping);
    assert_eq!(cfg.unknown_recipients.action, UnknownAction::MessageTo);
}

#[test]
fn syntax_and_value_problems_have_lines() {
    let m = |body: &str| format!("\n[[mapping]]\n{body}\n");
    // Line 4 is the blank line after BASE; the [[mapping]] header is line 5.
    assert_problem(
        &m("address = \"sales\"\ntarget = \"fred\"\nmode = \"sometimes\""),
        8,
        "unknown value",
    );
    assert_problem(
        &m("address = \"sa les\"\ntarget = \"fred\""),
        6,
        "address \"sa les\"",
    );
    assert_problem(
        &m("address = \"sales@\"\ntarget = \"fred\""),
        6,
        "domain is empty",
    );
    assert_problem(
        &m("address = \"sales\"\ntarget = \"fred smith\""),
        7,
        "target",
    );
    assert_problem(
        &m("address = \"sales\"\ntarget = \"x@\""),
        7,
        "not a valid address",
    );
    assert_problem(
        &m("address = \"sales\"\ntarget = \"fred\"\ninmail = \"isp\""),
        8,
        "only used with mode = \"pop3\"",
    );
    assert_problem(
        &m("address = \"~@example.com\"\ntarget = \"fred\"\nmode = \"sender\""),
        6,
        "~@domain cannot be used with mode = \"sender\"",
    );
    assert_problem(
        &m("address = \"x\"\ntarget = \"fred\"\ncolour = \"red\""),
        8,
        "unknown key",
    );
    assert_problem(
        "\n[[list]]\nname = \"Everyone\"\nmembers = []\n",
        6,
        "built-in group",
    );
    assert_problem(
        "\n[[list]]\nname = \"a\"\nmembers = []\n[[list]]\nname = \"A\"\nmembers = []\n",
        9,
        "already used",
    );
    assert_problem(
        "\n[[list]]\nname = \"a\"\nmembers = [\"fred\",\n \"*REMOTE\"]\n",
        8,
        "only a mapping can target",
    );
    assert_problem(
        "\n[[list]]\nname = \"f\"\nkind = \"forwarding\"\nmembers = [\"a@x.test\", \"b@x.test\"]\n",
        8,
        "exactly one member",
    );
    assert_problem(
        "\n[local_mail]\nglobal_headers = [\"Organization\"]\n",
        6,
        "has no ':'",
    );
    assert_problem(
        "\n[local_mail]\ndomain_mappings = [{ from = \"a..b\", to = \"c.com\" }]\n",
        6,
        "domain_mappings from",
    );
    assert_problem(
        "\n[unknown_recipients]\naction = \"error_to\"\n",
        6,
        "needs `to`",
    );
    assert_problem(
        "\n[unknown_recipients]\naction = \"remote\"\nbounce = true\n",
        7,
        "bounce cannot be used",
    );
}

#[test]
fn names_that_do_not_exist_are_found_with_their_line() {
    let snap = snap_unchecked(
        "[[mapping]]\naddress = \"sales\"\ntarget = \"fredd\"\n\
         [[mapping]]\naddress = \"info\"\ntarget = \"nobody@example.org\"\n\
         [[mapping]]\naddress = \"ok\"\ntarget = \"ok@remote.test\"\n\
         [[list]]\nname = \"team\"\nmembers = [\"fred\", \"ghost\"]\n\
         [[list]]\nname = \"fred\"\nmembers = []\n\
         [admin]\nmain_administrator = \"boss\"\n\
         [unknown_recipients]\naction = \"error_to\"\nto = \"nemo\"\n",
        &[
            ("fred", "assistants = [\"team\"]\nforward_to = [\"x@example.com\"]"),
            ("bob", "group = \"nogroup\""),
            (
                "carol",
                "size_at_least = { kb = 1, to = [\"*REMOTE\"] }\nreply_address = \"not an address\"",
            ),
        ],
    );
    let problems = check_routing(&snap);
    let show = format!("{problems:#?}");
    let at = |line: usize, needle: &str| {
        assert!(
            problems
                .iter()
                .any(|p| p.place == Place::Config { line } && p.message.contains(needle)),
            "want line {line} {needle:?} in {show}"
        );
    };
    at(4, "there is no user, list or group named fredd");
    at(7, "no user, list or group named nobody");
    at(13, "member ghost");
    at(16, "same name as a user");
    at(1, "main_administrator: there is no user named boss");
    at(1, "[unknown_recipients] to: there is no user named nemo");
    let acct = |name: &str, key: &str, needle: &str| {
        assert!(
            problems.iter().any(
                |p| matches!(&p.place, Place::Account { name: n, key: k } if n == name && *k == key)
                    && p.message.contains(needle)
            ),
            "want {name}/{key} {needle:?} in {show}"
        );
    };
    acct("fred", "assistants", "is a list or group");
    acct("fred", "forward_to", "there is no user named x");
    acct("bob", "group", "not defined");
    acct("carol", "size_at_least", "*REMOTE");
    acct("carol", "reply_address", "not an address");
    assert!(
        !show.contains("ok@remote.test"),
        "a remote target is fine: {show}"
    );
    assert_eq!(problems.len(), 11, "{show}");
}

#[test]
fn in_mail_names_are_checked_with_their_line() {
    let snap = snap_unchecked(
        "[[connection]]\nname = \"isp\"\n\
         [[inmail]]\nname = \"box\"\nconnections = [\"isp\"]\nserver = \"pop.isp.test\"\n\
         user = \"u\"\npassword = \"p\"\nrouting = \"user\"\ndeliver_to = \"freddy\"\n\
         [[inmail]]\nname = \"ok\"\nconnections = [\"isp\"]\nserver = \"pop.isp.test\"\n\
         user = \"u\"\npassword = \"p\"\nrouting = \"user\"\ndeliver_to = \"fred\"\n\
         [[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\nmode = \"pop3\"\ninmail = \"bx\"\n\
         [[mapping]]\naddress = \"info\"\ntarget = \"fred\"\nmode = \"pop3\"\ninmail = \"BOX\"\n",
        &[("fred", "")],
    );
    let problems = check_routing(&snap);
    let show = format!("{problems:#?}");
    let base = 3; // the three lines of the base configuration
    assert!(
        problems
            .iter()
            .any(|p| p.place == Place::Config { line: base + 3 }
                && p.message.contains(
                    "deliver_to = \"freddy\": there is no user, list or group named freddy"
                )),
        "{show}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.place == Place::Config { line: base + 19 }
                && p.message
                    .contains("inmail = \"bx\", but no [[inmail]] has that name")),
        "{show}"
    );
    assert_eq!(problems.len(), 2, "{show}");
}
