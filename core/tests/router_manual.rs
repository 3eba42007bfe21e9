//! The router against every routing example in the VPOP3 manual: §5 (mappings,
//! wildcards, `~@domain`, modes, `*REMOTE`), §7.2–7.7 (forwarding, remote users,
//! multiple sites, subsidiary accounts, hierarchical servers), §14 (lists, nesting,
//! built-in groups), §21.13 (name expansion order) and §16.3 (unknown recipients).
//!
//! Each row: the manual section, the configuration, the accounts, where the message
//! comes from, its sender and recipients, and the plan in one line (see
//! `router_support::summary`).

mod router_support;

use router_support::{route, route_sized, snap, summary};

struct Case {
    what: &'static str,
    config: &'static str,
    users: &'static [(&'static str, &'static str)],
    source: &'static str,
    from: Option<&'static str>,
    to: &'static [&'static str],
    /// Message size and header, for size rules and the assistant's `From:`.
    size: Option<u64>,
    header: &'static str,
    expect: &'static str,
}

const C: Case = Case {
    what: "",
    config: "",
    users: &[],
    source: "smtp",
    from: Some("someone@remote.test"),
    to: &[],
    size: None,
    header: "",
    expect: "",
};

fn run(cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let s = snap(c.config, c.users);
        let plan = route_sized(&s, c.source, c.from, c.to, c.size, c.header);
        let got = summary(&plan);
        if got != c.expect {
            failures.push(format!(
                "{}\n  to {:?} via {}\n  want {}\n  got  {}\n{}",
                c.what,
                c.to,
                c.source,
                c.expect,
                got,
                plan.explain()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const SALES_TO_FRED: &str = "[[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\n";

const COMPANY: &str = "hostname = \"mail.company.com\"\n\
default_domain = \"company.com\"\n\
local_domains = [\"company.com\"]\n";

#[test]
fn section_5_mappings() {
    let company_star = const_format(
        COMPANY,
        "[[mapping]]\naddress = \"*@company.com\"\ntarget = \"sarah\"\n",
    );
    let sub_star = const_format(
        COMPANY,
        "[[mapping]]\naddress = \"*@*.company.com\"\ntarget = \"sarah\"\n",
    );
    let fred_dot = const_format(
        COMPANY,
        "[[mapping]]\naddress = \"Fred.*@company.com\"\ntarget = \"fred\"\n\
         [[mapping]]\naddress = \"Fred.???@company.com\"\ntarget = \"abc\"\n",
    );
    let cases = [
        Case {
            what: "§5: no mapping needed, username@local-domain goes to the user",
            users: &[("fred", "")],
            to: &["fred@example.com"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5: any local domain, any case",
            users: &[("fred", "")],
            to: &["Fred@EXAMPLE.ORG"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1: sales -> fred",
            config: SALES_TO_FRED,
            users: &[("fred", "")],
            to: &["sales@example.com"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: `username` matches at any valid domain",
            config: SALES_TO_FRED,
            users: &[("fred", "")],
            to: &["SALES@example.org"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: `username` does not match other domains",
            config: SALES_TO_FRED,
            users: &[("fred", "")],
            source: "local",
            from: Some("fred@example.com"),
            to: &["sales@elsewhere.test"],
            expect: "mbox=[] remote=[sales@elsewhere.test] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: *@company.com matches any address in company.com",
            config: leak(&company_star),
            users: &[("sarah", ""), ("fred", "")],
            to: &["anyone@company.com"],
            expect: "mbox=[sarah] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1 + §21.13: a mapping is checked before the user's mailbox",
            config: leak(&company_star),
            users: &[("sarah", ""), ("fred", "")],
            to: &["fred@company.com"],
            expect: "mbox=[sarah] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: *@company.com does not match company.co.uk",
            config: leak(&company_star),
            users: &[("sarah", "")],
            source: "local",
            from: Some("sarah@company.com"),
            to: &["x@company.co.uk"],
            expect: "mbox=[] remote=[x@company.co.uk] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: *@*.company.com matches subdomains",
            config: leak(&sub_star),
            users: &[("sarah", "")],
            source: "local",
            from: Some("sarah@company.com"),
            to: &["bob@sales.company.com"],
            expect: "mbox=[sarah] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: *@*.company.com does not match company.com itself",
            config: leak(&sub_star),
            users: &[("sarah", "")],
            to: &["bob@company.com"],
            expect: "mbox=[] remote=[] bounce=[bob@company.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: Fred.* and Fred.??? both match fred.abc: all matches are used",
            config: leak(&fred_dot),
            users: &[("fred", ""), ("abc", "")],
            to: &["fred.abc@company.com"],
            expect: "mbox=[abc,fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: Fred.??? needs exactly three more characters",
            config: leak(&fred_dot),
            users: &[("fred", ""), ("abc", "")],
            to: &["fred.abcd@company.com", "fred.ab@company.com"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: Fred.* needs the dot",
            config: leak(&fred_dot),
            users: &[("fred", ""), ("abc", "")],
            to: &["fredbloggs@company.com"],
            expect: "mbox=[] remote=[] bounce=[fredbloggs@company.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: several mappings with the same address are all used",
            config: "[[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\n\
                     [[mapping]]\naddress = \"sales\"\ntarget = \"bob\"\n",
            users: &[("fred", ""), ("bob", "")],
            to: &["sales@example.com"],
            expect: "mbox=[bob,fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: username and username@domain mappings mix",
            config: "[[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\n\
                     [[mapping]]\naddress = \"sales@example.com\"\ntarget = \"bob\"\n",
            users: &[("fred", ""), ("bob", "")],
            to: &["sales@example.com"],
            expect: "mbox=[bob,fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: username@domain matches only that address",
            config: "[[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\n\
                     [[mapping]]\naddress = \"sales@example.com\"\ntarget = \"bob\"\n",
            users: &[("fred", ""), ("bob", "")],
            to: &["sales@example.org"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: ~@domain takes unrecognised addresses",
            config: "[[mapping]]\naddress = \"~@example.com\"\ntarget = \"catchall\"\n",
            users: &[("fred", ""), ("catchall", "")],
            to: &["ghost@example.com"],
            expect: "mbox=[catchall] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: ~@domain is not used for a known user",
            config: "[[mapping]]\naddress = \"~@example.com\"\ntarget = \"catchall\"\n",
            users: &[("fred", ""), ("catchall", "")],
            to: &["fred@example.com"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: ~@domain is not used when another mapping matched",
            config: "[[mapping]]\naddress = \"~@example.com\"\ntarget = \"catchall\"\n\
                     [[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\n",
            users: &[("fred", ""), ("catchall", "")],
            to: &["sales@example.com"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.1: ~@domain is only for its domain",
            config: "[[mapping]]\naddress = \"~@example.com\"\ntarget = \"catchall\"\n",
            users: &[("fred", ""), ("catchall", "")],
            to: &["ghost@example.org"],
            expect: "mbox=[] remote=[] bounce=[ghost@example.org] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.8: default mappings disabled: only explicit mappings deliver",
            config: "[local_mail]\ndefault_user_mapping = false\n\
                     [[mapping]]\naddress = \"fred@example.com\"\ntarget = \"fred\"\n",
            users: &[("fred", ""), ("bob", "")],
            to: &["fred@example.com", "fred@example.org", "bob@example.com"],
            expect: "mbox=[fred] remote=[] bounce=[bob@example.com,fred@example.org] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

const MODES: &str = "[[mapping]]\naddress = \"sales\"\ntarget = \"fred\"\nmode = \"pop3\"\n\
[[mapping]]\naddress = \"sales\"\ntarget = \"bob\"\nmode = \"pop3\"\ninmail = \"isp2\"\n\
[[mapping]]\naddress = \"info\"\ntarget = \"carol\"\nmode = \"smtp\"\n\
[[mapping]]\naddress = \"boss@client.test\"\ntarget = \"alice\"\nmode = \"sender\"\n\
[[connection]]\nname = \"isp\"\n\
[[inmail]]\nname = \"isp1\"\nconnections = [\"isp\"]\nserver = \"pop1.isp.test\"\nuser = \"u\"\npassword = \"p\"\n\
[[inmail]]\nname = \"isp2\"\nconnections = [\"isp\"]\nserver = \"pop2.isp.test\"\nuser = \"u\"\npassword = \"p\"\n";
const MODE_USERS: &[(&str, &str)] = &[
    ("fred", ""),
    ("bob", ""),
    ("carol", ""),
    ("alice", ""),
    ("postmaster", ""),
];

#[test]
fn section_5_1_3_modes() {
    let cases = [
        Case {
            what: "§5.1.3.2: a pop3 mapping for any In Mail",
            config: MODES,
            users: MODE_USERS,
            source: "pop3:isp1",
            to: &["sales@example.com"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.3.2: a pop3 mapping for one In Mail only",
            config: MODES,
            users: MODE_USERS,
            source: "pop3:ISP2",
            to: &["sales@example.com"],
            expect: "mbox=[bob,fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.3.2: pop3 mappings are not used for SMTP mail",
            config: MODES,
            users: MODE_USERS,
            source: "smtp",
            to: &["sales@example.com"],
            expect: "mbox=[] remote=[] bounce=[sales@example.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.3.3: an smtp mapping is used for incoming SMTP",
            config: MODES,
            users: MODE_USERS,
            source: "smtp",
            to: &["info@example.com"],
            expect: "mbox=[carol] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.3.3: an smtp mapping is used for locally sent mail",
            config: MODES,
            users: MODE_USERS,
            source: "local",
            from: Some("alice@example.com"),
            to: &["info@example.com"],
            expect: "mbox=[carol] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.3.3: an smtp mapping is not used for collected mail (unknown: to the Main Administrator)",
            config: MODES,
            users: MODE_USERS,
            source: "pop3:isp1",
            to: &["info@example.com"],
            expect: "mbox=[postmaster] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.3.4: a sender mapping adds its target for mail from that sender",
            config: MODES,
            users: MODE_USERS,
            source: "smtp",
            from: Some("Boss@Client.test"),
            to: &["fred@example.com"],
            expect: "mbox=[alice,fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.1.3.4: and only for that sender",
            config: MODES,
            users: MODE_USERS,
            source: "smtp",
            from: Some("other@client.test"),
            to: &["fred@example.com"],
            expect: "mbox=[fred] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

const WIDGETS: &str = "hostname = \"mail.widgets.com\"\n\
default_domain = \"widgets.com\"\n\
local_domains = [\"widgets.com\"]\n\
[[mapping]]\naddress = \"karen\"\ntarget = \"*REMOTE\"\n\
[[mapping]]\naddress = \"philip\"\ntarget = \"*REMOTE\"\n";

#[test]
fn section_5_5_remote_users() {
    let users: &[(&str, &str)] = &[("sue", ""), ("james", "")];
    let cases = [
        Case {
            what: "§5.5: local mail to a *REMOTE user is queued for the ISP",
            config: WIDGETS,
            users,
            source: "local",
            from: Some("sue@widgets.com"),
            to: &["karen@widgets.com"],
            expect: "mbox=[] remote=[karen@widgets.com] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§5.5: downloaded mail to a *REMOTE user is ignored; CCed users still get theirs",
            config: WIDGETS,
            users,
            source: "pop3:isp",
            to: &["karen@widgets.com", "sue@widgets.com"],
            expect: "mbox=[sue] remote=[] bounce=[] notice=[] discard=[karen@widgets.com]",
            ..C
        },
    ];
    run(&cases);
}

const CAMELS: &str = "hostname = \"mail.cybercamels.co.uk\"\n\
default_domain = \"cybercamels.co.uk\"\n\
local_domains = [\"cybercamels.co.uk\"]\n";

#[test]
fn section_7_6_and_7_7_1_remote_mappings_at_two_offices() {
    let office1 = const_format(
        CAMELS,
        "[[mapping]]\naddress = \"philip\"\ntarget = \"*REMOTE\"\n\
         [[mapping]]\naddress = \"karen\"\ntarget = \"*REMOTE\"\n\
         [admin]\nmain_administrator = \"sue\"\n\
         [unknown_recipients]\naction = \"error_to\"\nto = \"sue\"\n",
    );
    let office2 = const_format(CAMELS, "[unknown_recipients]\naction = \"remote\"\n");
    let o1_users: &[(&str, &str)] = &[("sue", "admin = true"), ("james", "")];
    let o2_users: &[(&str, &str)] = &[("philip", ""), ("karen", "")];
    let cases = [
        Case {
            what: "§7.7.1.1 office 1: its own users",
            config: leak(&office1),
            users: o1_users,
            source: "pop3:cybercamels",
            to: &["sue@cybercamels.co.uk"],
            expect: "mbox=[sue] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§7.7.1.1 office 1: office 2's users are ignored",
            config: leak(&office1),
            users: o1_users,
            source: "pop3:cybercamels",
            to: &["philip@cybercamels.co.uk", "karen@cybercamels.co.uk"],
            expect: "mbox=[] remote=[] bounce=[] notice=[] discard=[karen@cybercamels.co.uk,philip@cybercamels.co.uk]",
            ..C
        },
        Case {
            what: "§7.7.1.1 office 1: unknown users: an error message to sue",
            config: leak(&office1),
            users: o1_users,
            source: "pop3:cybercamels",
            to: &["nobody@cybercamels.co.uk"],
            expect: "mbox=[] remote=[] bounce=[] notice=[sue:nobody@cybercamels.co.uk] discard=[]",
            ..C
        },
        Case {
            what: "§7.6 office 1: local mail to office 2 goes out",
            config: leak(&office1),
            users: o1_users,
            source: "local",
            from: Some("james@cybercamels.co.uk"),
            to: &["philip@cybercamels.co.uk"],
            expect: "mbox=[] remote=[philip@cybercamels.co.uk] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§7.7.1.2 office 2: unknown (office 1's) users are ignored",
            config: leak(&office2),
            users: o2_users,
            source: "pop3:cybercamels",
            to: &["sue@cybercamels.co.uk", "karen@cybercamels.co.uk"],
            expect: "mbox=[karen] remote=[] bounce=[] notice=[] discard=[sue@cybercamels.co.uk]",
            ..C
        },
        Case {
            what: "§7.7.1.2 office 2: local mail to office 1 goes out",
            config: leak(&office2),
            users: o2_users,
            source: "local",
            from: Some("karen@cybercamels.co.uk"),
            to: &["sue@cybercamels.co.uk"],
            expect: "mbox=[] remote=[sue@cybercamels.co.uk] bounce=[] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

#[test]
fn section_7_7_2_subsidiary_accounts() {
    let office1 = const_format(
        CAMELS,
        "[[list]]\nname = \"philip\"\nmembers = [\"cybercamels2@isp.co.uk\"]\n\
         [[list]]\nname = \"karen\"\nmembers = [\"cybercamels2@isp.co.uk\"]\n",
    );
    let office2 = const_format(
        CAMELS,
        "[[list]]\nname = \"sue\"\nmembers = [\"sue@cybercamels.co.uk\"]\n\
         [[list]]\nname = \"james\"\nmembers = [\"james@cybercamels.co.uk\"]\n",
    );
    let cases = [
        Case {
            what: "§7.7.2.1 office 1: mail for office 2's users goes to their account, one copy",
            config: leak(&office1),
            users: &[("sue", ""), ("james", "")],
            source: "pop3:main",
            to: &["philip@cybercamels.co.uk", "karen@cybercamels.co.uk"],
            expect: "mbox=[] remote=[cybercamels2@isp.co.uk] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§7.7.2.1 office 1: its own users",
            config: leak(&office1),
            users: &[("sue", ""), ("james", "")],
            source: "pop3:main",
            to: &["sue@cybercamels.co.uk"],
            expect: "mbox=[sue] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§7.7.2.2 office 2: a list whose member is its own address sends it out",
            config: leak(&office2),
            users: &[("philip", ""), ("karen", "")],
            source: "local",
            from: Some("philip@cybercamels.co.uk"),
            to: &["sue@cybercamels.co.uk", "james@cybercamels.co.uk"],
            expect: "mbox=[] remote=[james@cybercamels.co.uk,sue@cybercamels.co.uk] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§7.7.2.2 office 2: its own users from its subsidiary account",
            config: leak(&office2),
            users: &[("philip", ""), ("karen", "")],
            source: "pop3:cybercamels2",
            to: &["karen@cybercamels.co.uk"],
            expect: "mbox=[karen] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

#[test]
fn section_7_7_3_hierarchical_servers() {
    let head = const_format(
        COMPANY,
        "[[mapping]]\naddress = \"Martin\"\ntarget = \"Office2\"\n\
         [[mapping]]\naddress = \"Karen\"\ntarget = \"Office2\"\n",
    );
    let office2 = const_format(COMPANY, "[unknown_recipients]\naction = \"remote\"\n");
    let head_users: &[(&str, &str)] = &[
        ("sarah", ""),
        ("john", ""),
        ("philip", ""),
        ("office2", ""),
        ("office3", ""),
    ];
    let o2_users: &[(&str, &str)] = &[("martin", ""), ("karen", "")];
    let cases = [
        Case {
            what: "§7.7.3.1 head office: office 2's users collect in the Office2 account",
            config: leak(&head),
            users: head_users,
            to: &[
                "martin@company.com",
                "karen@company.com",
                "sarah@company.com",
            ],
            expect: "mbox=[office2,sarah] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what:
                "§7.7.3.2 office 2: local mail for head office goes out (to the head office relay)",
            config: leak(&office2),
            users: o2_users,
            source: "local",
            from: Some("martin@company.com"),
            to: &["sarah@company.com", "karen@company.com"],
            expect: "mbox=[karen] remote=[sarah@company.com] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§7.7.3.2 office 2: collected mail for others is ignored",
            config: leak(&office2),
            users: o2_users,
            source: "pop3:office2",
            to: &["karen@company.com", "john@company.com"],
            expect: "mbox=[karen] remote=[] bounce=[] notice=[] discard=[john@company.com]",
            ..C
        },
    ];
    run(&cases);
}

const PEOPLE: &[(&str, &str)] = &[
    ("md", "assistants = [\"pa\"]"),
    ("md2", "assistants = [\"pa\"]\nassistant_redirect = true"),
    ("md3", "assistants = [\"pa\", \"pa2@remote.test\"]"),
    (
        "fwd",
        "forward_to = [\"home@remote.test\"]\nuse_forwarding = true",
    ),
    (
        "fwdoff",
        "forward_to = [\"home@remote.test\"]\nuse_forwarding = false",
    ),
    ("fwdlocal", "forward_to = [\"bob\"]\nuse_forwarding = true"),
    (
        "sz",
        "size_at_least = { kb = 100, action = \"copy\", to = [\"handheld@remote.test\"] }",
    ),
    (
        "sm",
        "size_at_most = { kb = 10, action = \"redirect\", to = [\"bob\"] }",
    ),
    ("pa", ""),
    ("bob", ""),
];

#[test]
fn section_7_3_forwarding_assistants_and_size_rules() {
    let cases = [
        Case {
            what: "§4.2.3.1.6.1: the assistant gets a copy",
            users: PEOPLE,
            to: &["md@example.com"],
            expect: "mbox=[md,pa] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.1: but not of mail the assistant sent",
            users: PEOPLE,
            source: "local",
            from: Some("pa@example.com"),
            to: &["md@example.com"],
            expect: "mbox=[md] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.1: 'from the assistant' also reads the From: header",
            users: PEOPLE,
            from: Some("bounces@list.test"),
            to: &["md@example.com"],
            header: "From: The PA <PA@example.org>\r\nSubject: x\r\n\r\n",
            expect: "mbox=[md] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.1: redirect to the assistant keeps no local copy",
            users: PEOPLE,
            to: &["md2@example.com"],
            expect: "mbox=[pa] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.1: with redirect, the MD still gets what the PA sends",
            users: PEOPLE,
            source: "local",
            from: Some("pa@example.com"),
            to: &["md2@example.com"],
            expect: "mbox=[md2] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.1: several assistants, local and external",
            users: PEOPLE,
            to: &["md3@example.com"],
            expect: "mbox=[md3,pa] remote=[pa2@remote.test] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.1: mail from any assistant goes to none of them",
            users: PEOPLE,
            from: Some("pa2@remote.test"),
            to: &["md3@example.com"],
            expect: "mbox=[md3] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.2: forwarding keeps no local copy",
            users: PEOPLE,
            to: &["fwd@example.com"],
            expect: "mbox=[] remote=[home@remote.test] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.2: forwarding switched off",
            users: PEOPLE,
            to: &["fwdoff@example.com"],
            expect: "mbox=[fwdoff] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.2: forwarding to a local user",
            users: PEOPLE,
            to: &["fwdlocal@example.com"],
            expect: "mbox=[bob] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.4: a large message is copied to the handheld",
            users: PEOPLE,
            to: &["sz@example.com"],
            size: Some(200 * 1024),
            expect: "mbox=[sz] remote=[handheld@remote.test] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.4: a small one is not",
            users: PEOPLE,
            to: &["sz@example.com"],
            size: Some(99 * 1024),
            expect: "mbox=[sz] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.4: a small message is redirected",
            users: PEOPLE,
            to: &["sm@example.com"],
            size: Some(10 * 1024),
            expect: "mbox=[bob] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.1.6.4: a larger one stays",
            users: PEOPLE,
            to: &["sm@example.com"],
            size: Some(10 * 1024 + 1),
            expect: "mbox=[sm] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§7.3 method 3 / §14.5: a forwarding list needs no user",
            config: "[[list]]\nname = \"margaret\"\nkind = \"forwarding\"\nmembers = [\"maggie@isponline.com\"]\n",
            to: &["margaret@example.com"],
            expect: "mbox=[] remote=[maggie@isponline.com] bounce=[] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

const LISTS: &str =
    "[[list]]\nname = \"sales-team\"\nmembers = [\"alice\", \"bob\", \"carol@elsewhere.test\"]\n\
[[list]]\nname = \"support\"\nmembers = [\"dave\", \"alice\", \"Carol@Elsewhere.test\"]\n\
[[list]]\nname = \"all-staff\"\nmembers = [\"sales-team\", \"support@example.com\"]\n\
[[list]]\nname = \"wrap\"\nmembers = [\"Admins\"]\n\
[[group]]\nname = \"accounts\"\n\
[[mapping]]\naddress = \"everyone\"\ntarget = \"Everyone\"\nmode = \"pop3\"\n";
const STAFF: &[(&str, &str)] = &[
    ("alice", "admin = true"),
    ("bob", "group = \"accounts\""),
    ("dave", "group = \"accounts\""),
    ("bot", "in_everyone = false"),
];

#[test]
fn section_14_lists_and_groups() {
    let cases = [
        Case {
            what: "§14.4: a distribution list of local and remote members",
            config: LISTS,
            users: STAFF,
            to: &["sales-team@example.com"],
            expect: "mbox=[alice,bob] remote=[carol@elsewhere.test] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14.2: nested lists; every member once, one outbound copy",
            config: LISTS,
            users: STAFF,
            to: &["all-staff@example.com"],
            expect: "mbox=[alice,bob,dave] remote=[carol@elsewhere.test] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14: lists addressed together still send one copy each",
            config: LISTS,
            users: STAFF,
            to: &["sales-team@example.com", "support@example.com", "alice@example.com"],
            expect: "mbox=[alice,bob,dave] remote=[carol@elsewhere.test] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14.3: Everyone holds the users who are in it",
            config: LISTS,
            users: STAFF,
            source: "local",
            from: Some("alice@example.com"),
            to: &["everyone@example.com"],
            expect: "mbox=[alice,bob,dave] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14.3: Admins holds the administrators",
            config: LISTS,
            users: STAFF,
            source: "local",
            from: Some("bob@example.com"),
            to: &["admins@example.com"],
            expect: "mbox=[alice] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14.3: No-one discards silently",
            config: LISTS,
            users: STAFF,
            source: "local",
            from: Some("bob@example.com"),
            to: &["no-one@example.com"],
            expect: "mbox=[] remote=[] bounce=[] notice=[] discard=[no-one@example.com]",
            ..C
        },
        Case {
            what: "§4.3.6: a defined group reaches its members",
            config: LISTS,
            users: STAFF,
            source: "local",
            from: Some("alice@example.com"),
            to: &["accounts@example.com"],
            expect: "mbox=[bob,dave] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14: groups cannot be reached from the Internet",
            config: LISTS,
            users: STAFF,
            to: &["admins@example.com", "accounts@example.com"],
            expect: "mbox=[] remote=[] bounce=[accounts@example.com,admins@example.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14: ...except through a wrapper list",
            config: LISTS,
            users: STAFF,
            to: &["wrap@example.com"],
            expect: "mbox=[alice] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§14: ...or a mapping Everyone -> Everyone",
            config: LISTS,
            users: STAFF,
            source: "pop3:isp",
            to: &["everyone@example.com"],
            expect: "mbox=[alice,bob,dave] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

#[test]
fn section_21_13_expansion_order() {
    let cases = [
        Case {
            what: "§21.13: the mapping comes first, before the user's own mailbox",
            config: "[[mapping]]\naddress = \"fred\"\ntarget = \"bob\"\n",
            users: &[("fred", ""), ("bob", "")],
            to: &["fred@example.com"],
            expect: "mbox=[bob] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§21.13: a mapping target is not mapped again",
            config: "[[mapping]]\naddress = \"a\"\ntarget = \"b@example.com\"\n\
                     [[mapping]]\naddress = \"b\"\ntarget = \"c\"\n",
            users: &[("b", ""), ("c", "")],
            to: &["a@example.com"],
            expect: "mbox=[b] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§21.13: a list is checked before a mailbox",
            config: "[[list]]\nname = \"team\"\nmembers = [\"bob\"]\n",
            users: &[("bob", "")],
            to: &["team@example.com"],
            expect: "mbox=[bob] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§21.13: list members reach mailboxes with their assistants",
            config: "[[list]]\nname = \"team\"\nmembers = [\"md\"]\n",
            users: &[("md", "assistants = [\"pa\"]"), ("pa", "")],
            to: &["team@example.com"],
            expect: "mbox=[md,pa] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§21.13: an assistant's own forwarding is not followed (never backwards)",
            users: &[
                ("md", "assistants = [\"pa\"]"),
                (
                    "pa",
                    "forward_to = [\"pa@home.test\"]\nuse_forwarding = true",
                ),
            ],
            to: &["md@example.com"],
            expect: "mbox=[md,pa] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

#[test]
fn section_16_3_unknown_recipients() {
    let users: &[(&str, &str)] = &[("postmaster", "admin = true"), ("bob", "")];
    let cases = [
        Case {
            what: "§16.3 default: collected mail for an unknown user goes to the Main Administrator",
            users,
            source: "pop3:isp",
            to: &["ghost@example.com", "bob@example.com"],
            expect: "mbox=[bob,postmaster] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§16.3: error message to the Main Administrator",
            config: "[unknown_recipients]\naction = \"error_to_admin\"\n",
            users,
            source: "pop3:isp",
            to: &["ghost@example.com", "spook@example.com"],
            expect: "mbox=[] remote=[] bounce=[] notice=[postmaster:ghost@example.com+spook@example.com] discard=[]",
            ..C
        },
        Case {
            what: "§16.3: error message to a named user",
            config: "[unknown_recipients]\naction = \"error_to\"\nto = \"bob\"\n",
            users,
            source: "pop3:isp",
            to: &["ghost@example.com"],
            expect: "mbox=[] remote=[] bounce=[] notice=[bob:ghost@example.com] discard=[]",
            ..C
        },
        Case {
            what: "§16.3: the message itself to a named user",
            config: "[unknown_recipients]\naction = \"message_to\"\nto = \"bob\"\n",
            users,
            source: "pop3:isp",
            to: &["ghost@example.com"],
            expect: "mbox=[bob] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§16.3: treat as *REMOTE ignores collected mail",
            config: "[unknown_recipients]\naction = \"remote\"\n",
            users,
            source: "pop3:isp",
            to: &["ghost@example.com"],
            expect: "mbox=[] remote=[] bounce=[] notice=[] discard=[ghost@example.com]",
            ..C
        },
        Case {
            what: "§16.3: ...and sends local mail out",
            config: "[unknown_recipients]\naction = \"remote\"\n",
            users,
            source: "local",
            from: Some("bob@example.com"),
            to: &["ghost@example.com"],
            expect: "mbox=[] remote=[ghost@example.com] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§16.3: a bounce to the sender as well",
            config: "[unknown_recipients]\naction = \"message_to_admin\"\nbounce = true\n",
            users,
            source: "pop3:isp",
            to: &["ghost@example.com"],
            expect: "mbox=[postmaster] remote=[] bounce=[ghost@example.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§16.3: no bounce to the null sender",
            config: "[unknown_recipients]\naction = \"error_to_admin\"\nbounce = true\n",
            users,
            source: "pop3:isp",
            from: None,
            to: &["ghost@example.com"],
            expect: "mbox=[] remote=[] bounce=[] notice=[postmaster:ghost@example.com] discard=[]",
            ..C
        },
        Case {
            what: "§16.3 note: mail received by SMTP always bounces",
            config: "[unknown_recipients]\naction = \"error_to_admin\"\n",
            users,
            source: "smtp",
            to: &["ghost@example.com"],
            expect: "mbox=[] remote=[] bounce=[ghost@example.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§16.3 note: ...and so does mail sent locally",
            users,
            source: "local",
            from: Some("bob@example.com"),
            to: &["ghost@example.com"],
            expect: "mbox=[] remote=[] bounce=[ghost@example.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "RFC 5321 §4.5.1: postmaster reaches the Main Administrator without an account",
            users: &[("boss", "admin = true"), ("bob", "")],
            to: &["postmaster@example.com"],
            expect: "mbox=[boss] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.3.3: a user who may not receive Internet mail is unrecognised from outside",
            users: &[("intern", "receive_internet = false"), ("bob", "")],
            to: &["intern@example.com"],
            expect: "mbox=[] remote=[] bounce=[intern@example.com] notice=[] discard=[]",
            ..C
        },
        Case {
            what: "§4.2.3.3.3: ...but still receives internal mail",
            users: &[("intern", "receive_internet = false"), ("bob", "")],
            source: "local",
            from: Some("bob@example.com"),
            to: &["intern@example.com"],
            expect: "mbox=[intern] remote=[] bounce=[] notice=[] discard=[]",
            ..C
        },
    ];
    run(&cases);
}

#[test]
fn nesting_stops_after_ten_levels() {
    // l1 -> l2 -> ... -> l12; each level also has its own user.
    let mut config = String::new();
    let mut users = Vec::new();
    for i in 1..=12 {
        let next = if i < 12 {
            format!("\"l{}\", ", i + 1)
        } else {
            String::new()
        };
        config.push_str(&format!(
            "[[list]]\nname = \"l{i}\"\nmembers = [{next}\"u{i}\"]\n"
        ));
        users.push((format!("u{i}"), String::new()));
    }
    let users: Vec<(&str, &str)> = users
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let s = snap(&config, &users);
    let plan = route(&s, "smtp", Some("x@remote.test"), &["l1@example.com"]);
    let mut got = plan.mailboxes.clone();
    got.sort_by_key(|u| u[1..].parse::<u32>().unwrap());
    let want: Vec<String> = (1..=10).map(|i| format!("u{i}")).collect();
    assert_eq!(got, want, "{}", plan.explain());
    assert!(plan.explain().contains("nested more than 10 levels deep"));
    // Entered at level 3, the chain reaches one level further down.
    let plan = route(&s, "smtp", Some("x@remote.test"), &["l3@example.com"]);
    assert_eq!(plan.mailboxes.len(), 10, "{}", plan.explain());
    assert!(plan.mailboxes.contains(&"u12".to_string()));
}

#[test]
fn list_loops_terminate_with_one_copy_each() {
    let config = "[[list]]\nname = \"a\"\nmembers = [\"b\", \"alice\", \"a\"]\n\
                  [[list]]\nname = \"b\"\nmembers = [\"a\", \"bob\", \"out@remote.test\", \"c\"]\n\
                  [[list]]\nname = \"c\"\nmembers = [\"a@example.com\", \"b\", \"alice\"]\n";
    let s = snap(config, &[("alice", ""), ("bob", "")]);
    let plan = route(
        &s,
        "smtp",
        Some("x@remote.test"),
        &["a@example.com", "b@example.org", "c@example.com"],
    );
    let mut m = plan.mailboxes.clone();
    m.sort();
    assert_eq!(m, ["alice", "bob"], "{}", plan.explain());
    assert_eq!(plan.remote, ["out@remote.test"]);
    assert_eq!(plan.envelope_recipients().count(), 3);
    assert!(plan.explain().contains("a loop"), "{}", plan.explain());
}

#[test]
fn explanation_names_each_step() {
    let s = snap(
        "[[mapping]]\naddress = \"sales\"\ntarget = \"team\"\n\
         [[list]]\nname = \"team\"\nmembers = [\"md\", \"carol@elsewhere.test\"]\n",
        &[("md", "assistants = [\"pa\"]"), ("pa", "")],
    );
    let plan = route(&s, "smtp", Some("x@remote.test"), &["sales@example.com"]);
    let text = plan.explain();
    for want in [
        "sales@example.com",
        "mapping sales -> team (always, mailroom.toml line 4)",
        "list team",
        "user md",
        "assistant pa (copy)",
        "mailbox pa",
        "mailbox md",
        "queued for carol@elsewhere.test",
        "=> deliver: mailbox pa, md; queued for carol@elsewhere.test",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

fn const_format(a: &str, b: &str) -> String {
    format!("{a}{b}")
}

/// Test tables hold `&'static str`; a few configurations are built at run time.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}
