use super::*;
use rasn_ldap::{
    AttributeValueAssertion, AuthenticationChoice, BindRequest, SearchRequestDerefAliases,
    SearchRequestScope, SubstringFilter,
};

fn people() -> Vec<Entry> {
    let e = |uid: &str, cn: &str| Entry {
        dn: format!("uid={uid},dc=example,dc=com"),
        attributes: vec![
            ("objectclass".into(), "person".into()),
            ("uid".into(), uid.into()),
            ("cn".into(), cn.into()),
            ("mail".into(), format!("{uid}@example.com")),
        ],
    };
    vec![e("alice", "Alice Liddell"), e("bob", "Bob Builder")]
}

fn os(s: &str) -> rasn::types::OctetString {
    rasn::types::OctetString::from(s.as_bytes().to_vec())
}

fn search_req(filter: Filter, attrs: &[&str], size: u32) -> SearchRequest {
    SearchRequest::new(
        LdapString::from("dc=example,dc=com"),
        SearchRequestScope::WholeSubtree,
        SearchRequestDerefAliases::NeverDerefAliases,
        size,
        0,
        false,
        filter,
        attrs.iter().map(|a| LdapString::from(*a)).collect(),
    )
}

fn sub(attr: &str, parts: Vec<SubstringChoice>) -> Filter {
    Filter::Substrings(SubstringFilter::new(LdapString::from(attr), parts))
}

fn dns(msgs: &[LdapMessage]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match &m.protocol_op {
            ProtocolOp::SearchResEntry(e) => Some(e.object_name.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn filters() {
    let all = people();
    let find = |f: Filter| dns(&search(1, &search_req(f, &[], 0), &all));
    let alice = vec!["uid=alice,dc=example,dc=com".to_string()];
    assert_eq!(
        find(sub("mail", vec![SubstringChoice::Initial(os("ALI"))])),
        alice
    );
    assert_eq!(
        find(sub("cn", vec![SubstringChoice::Any(os("liddell"))])),
        alice
    );
    assert_eq!(
        find(sub(
            "cn",
            vec![
                SubstringChoice::Initial(os("a")),
                SubstringChoice::Final(os("ll"))
            ]
        )),
        alice
    );
    assert_eq!(
        find(Filter::Present(LdapString::from("objectClass"))).len(),
        2
    );
    assert_eq!(find(Filter::Present(LdapString::from("title"))).len(), 0);
    let eq = Filter::EqualityMatch(AttributeValueAssertion::new(
        LdapString::from("uid"),
        os("Bob"),
    ));
    assert_eq!(find(eq.clone()), ["uid=bob,dc=example,dc=com"]);
    assert_eq!(find(Filter::Not(Box::new(eq))), alice);
}

#[test]
fn size_limit_and_attribute_selection() {
    let all = people();
    let res = search(
        7,
        &search_req(Filter::Present("cn".into()), &["mail"], 1),
        &all,
    );
    assert_eq!(res.len(), 2);
    let ProtocolOp::SearchResEntry(e) = &res[0].protocol_op else {
        panic!("{res:?}")
    };
    assert_eq!(e.attributes.len(), 1);
    assert_eq!(e.attributes[0].r#type.as_str(), "mail");
    let ProtocolOp::SearchResDone(SearchResultDone(r)) = &res[1].protocol_op else {
        panic!("{res:?}")
    };
    assert_eq!(r.result_code, ResultCode::SizeLimitExceeded);
    assert!(res.iter().all(|m| m.message_id == 7));
}

fn drive(m: &mut LdapServer, input: &[u8]) -> (Vec<LdapMessage>, Vec<Output<LdapEvent>>) {
    m.handle_input(Instant::from_secs(1), Input::Bytes(input));
    let mut out = Vec::new();
    let mut steps = Vec::new();
    loop {
        let o = m.poll_output(&mut out);
        if let Output::Event(LdapEvent::Directory) = o {
            m.handle_command(Instant::from_secs(1), LdapCommand::Directory(people()));
            steps.push(o);
            continue;
        }
        let stop = matches!(o, Output::Wait(_) | Output::Close);
        steps.push(o);
        if stop {
            break;
        }
    }
    let mut msgs = Vec::new();
    let mut rest: &[u8] = &out;
    while !rest.is_empty() {
        let (m, r) = rasn::ber::decode_with_remainder::<LdapMessage>(rest).unwrap();
        msgs.push(m);
        rest = r;
    }
    (msgs, steps)
}

#[test]
fn a_session_binds_searches_and_unbinds_split_anywhere() {
    let bind = LdapMessage::new(
        1,
        ProtocolOp::BindRequest(BindRequest::new(
            3,
            LdapString::from(""),
            AuthenticationChoice::Simple(os("")),
        )),
    );
    let find = LdapMessage::new(
        2,
        ProtocolOp::SearchRequest(search_req(
            sub("mail", vec![SubstringChoice::Initial(os("bo"))]),
            &[],
            0,
        )),
    );
    let unbind = LdapMessage::new(3, ProtocolOp::UnbindRequest(rasn_ldap::UnbindRequest));
    let mut bytes = Vec::new();
    for m in [&bind, &find, &unbind] {
        bytes.extend(rasn::ber::encode(m).unwrap());
    }
    let mut m = LdapServer::new(Instant::from_secs(1));
    let mut msgs = Vec::new();
    let mut steps = Vec::new();
    for b in &bytes {
        let (mm, ss) = drive(&mut m, std::slice::from_ref(b));
        msgs.extend(mm);
        steps.extend(ss);
    }
    assert!(
        matches!(&msgs[0].protocol_op, ProtocolOp::BindResponse(r) if r.result_code == ResultCode::Success)
    );
    assert_eq!(dns(&msgs), ["uid=bob,dc=example,dc=com"]);
    assert!(matches!(&msgs[2].protocol_op, ProtocolOp::SearchResDone(_)));
    assert_eq!(msgs.len(), 3);
    assert_eq!(steps.iter().filter(|s| **s == Output::Close).count(), 1);
}

#[test]
fn garbage_and_passwords_get_ldap_errors() {
    let mut m = LdapServer::new(Instant::from_secs(1));
    let (msgs, steps) = drive(&mut m, b"\x30\x03\x02\x01");
    assert!(msgs.is_empty());
    assert!(matches!(steps[..], [Output::Wait(Some(_))]));
    let (msgs, steps) = drive(&mut m, b"\xff");
    assert!(
        matches!(&msgs[0].protocol_op, ProtocolOp::ExtendedResp(r) if r.result_code == ResultCode::ProtocolError)
    );
    assert_eq!(steps.last(), Some(&Output::Close));

    let mut m = LdapServer::new(Instant::from_secs(1));
    let (msgs, _) = drive(&mut m, b"\x31\x00");
    assert!(matches!(&msgs[0].protocol_op, ProtocolOp::ExtendedResp(_)));
    let mut m = LdapServer::new(Instant::from_secs(1));
    let (msgs, _) = drive(&mut m, b"\x30\x84\xff\xff\xff\xff");
    assert!(matches!(&msgs[0].protocol_op, ProtocolOp::ExtendedResp(_)));

    let bind = LdapMessage::new(
        1,
        ProtocolOp::BindRequest(BindRequest::new(
            3,
            LdapString::from("uid=alice"),
            AuthenticationChoice::Simple(os("secret")),
        )),
    );
    let mut m = LdapServer::new(Instant::from_secs(1));
    let (msgs, _) = drive(&mut m, &rasn::ber::encode(&bind).unwrap());
    assert!(
        matches!(&msgs[0].protocol_op, ProtocolOp::BindResponse(r) if r.result_code == ResultCode::InappropriateAuthentication)
    );
}

#[test]
fn base_and_scope() {
    let mut all = people();
    all.push(Entry {
        dn: "cn=Smith\\, Jane,ou=addressbook,dc=example,dc=com".into(),
        attributes: vec![("cn".into(), "Smith, Jane".into())],
    });
    let find = |base: &str, scope: SearchRequestScope| {
        let mut req = search_req(Filter::Present(LdapString::from("objectclass")), &[], 0);
        req.filter = Filter::Present(LdapString::from("cn"));
        req.base_object = LdapString::from(base);
        req.scope = scope;
        let msgs = search(1, &req, &all);
        let code = match &msgs.last().unwrap().protocol_op {
            ProtocolOp::SearchResDone(d) => d.0.result_code,
            other => panic!("{other:?}"),
        };
        (dns(&msgs).len(), code)
    };
    use SearchRequestScope::*;
    assert_eq!(find("", WholeSubtree), (3, ResultCode::Success));
    assert_eq!(
        find("dc=example,dc=com", WholeSubtree),
        (3, ResultCode::Success)
    );
    assert_eq!(
        find("DC=Example, DC=com", SingleLevel),
        (2, ResultCode::Success)
    );
    assert_eq!(find("dc=com", WholeSubtree), (3, ResultCode::Success));
    assert_eq!(
        find("ou=addressbook,dc=example,dc=com", SingleLevel),
        (1, ResultCode::Success)
    );
    assert_eq!(
        find("uid=bob,dc=example,dc=com", BaseObject),
        (1, ResultCode::Success)
    );
    assert_eq!(
        find("dc=example,dc=com", BaseObject),
        (0, ResultCode::Success)
    );
    assert_eq!(
        find("dc=elsewhere,dc=org", WholeSubtree),
        (0, ResultCode::NoSuchObject)
    );
}
