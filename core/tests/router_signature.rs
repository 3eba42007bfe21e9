//! MAP-6: the global signature (§4.3.4) on mail local users send to the Internet:
//! which signature applies (default, authenticated with its `[attribute]` tags, none),
//! and where it goes in plain, HTML, alternative, mixed, quoted-printable and base64
//! messages.

mod router_support;

use base64::Engine;
use mailroom_core::config::Snapshot;
use mailroom_core::router::signature::{
    add_signature, choose, html_to_text, signed_copy, text_to_html, Chosen,
};
use router_support::{snap, source};

const SIGNATURES: &str = "[signature]\n\
text = \"Example Ltd, registered in England 123\"\n\
auth_text = \"Sent by [givenName] [sn] <[mail]>\"\n\
auth_html = \"<p>Sent by <b>[cn]</b></p>\"\n";

fn office() -> Snapshot {
    snap(
        SIGNATURES,
        &[
            ("fred", "comment = \"Fred Bloggs\""),
            ("quiet", "no_signature = true"),
        ],
    )
}

fn sig() -> Chosen {
    Chosen {
        text: "-- \nExample Ltd".into(),
        html: "<p>Example <b>Ltd</b></p>".into(),
    }
}

fn added(msg: &str) -> String {
    String::from_utf8(add_signature(msg.as_bytes(), &sig()).into_owned()).unwrap()
}

#[test]
fn which_signature_applies() {
    let s = office();
    let domain = "example.com";
    let fred = format!("fred@{domain}");
    // Unauthenticated local sender: the default, its HTML made from the text.
    let c = choose(&s, &source("local"), Some(&fred), None).unwrap();
    assert_eq!(c.text, "Example Ltd, registered in England 123");
    assert_eq!(c.html, "<div>Example Ltd, registered in England 123</div>");
    // Authenticated: the authenticated users' signature with its tags filled.
    let c = choose(&s, &source("local"), Some(&fred), Some("fred")).unwrap();
    assert_eq!(c.text, format!("Sent by Fred Bloggs <{fred}>"));
    assert_eq!(c.html, "<p>Sent by <b>Fred Bloggs</b></p>");
    // The account that opted out (known by AUTH) gets none.
    assert_eq!(
        choose(
            &s,
            &source("local"),
            Some("quiet@example.com"),
            Some("quiet")
        ),
        None
    );
    // Not for mail from the Internet, nor for a sender that is no local user.
    assert_eq!(choose(&s, &source("smtp"), Some(&fred), None), None);
    assert_eq!(
        choose(&s, &source("local"), Some("stranger@elsewhere.test"), None),
        None
    );
    // Nothing configured: nothing added.
    let plain = snap("", &[("fred", "")]);
    assert_eq!(
        choose(&plain, &source("local"), Some(&fred), Some("fred")),
        None
    );
    let msg = b"Subject: x\r\n\r\nbody\r\n";
    assert!(matches!(
        signed_copy(&plain, &source("local"), Some(&fred), None, msg),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn plain_text_gets_the_text_after_an_empty_line() {
    let out = added("From: fred@example.com\r\nSubject: hi\r\n\r\nHello\r\n");
    assert_eq!(
        out,
        "From: fred@example.com\r\nSubject: hi\r\n\r\nHello\r\n\r\n-- \r\nExample Ltd\r\n"
    );
    // No final line end: one is added.
    let out = added("Subject: hi\r\n\r\nHello");
    assert!(
        out.ends_with("Hello\r\n\r\n-- \r\nExample Ltd\r\n"),
        "{out:?}"
    );
}

#[test]
fn html_gets_the_html_before_the_end_of_body() {
    let out = added(
        "Subject: hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello</p></body></html>\r\n",
    );
    assert!(
        out.contains("<p>Hello</p><p>Example <b>Ltd</b></p>\r\n</body></html>\r\n"),
        "{out}"
    );
}

#[test]
fn alternative_gets_both_forms_in_their_encodings() {
    let html_b64 = base64::engine::general_purpose::STANDARD
        .encode("<html><body>Hello <i>there</i></body></html>");
    let msg = format!(
        "Subject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Hello th=C3=A9re, a=3Db\r\n\
--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{html_b64}\r\n\
--b1--\r\n"
    );
    let out = added(&msg);
    let parsed = mail_parser::MessageParser::default()
        .parse(out.as_bytes())
        .unwrap();
    let text = parsed.body_text(0).unwrap();
    assert!(text.starts_with("Hello thére, a=b"), "{text}");
    assert!(
        text.trim_end().ends_with("-- \r\nExample Ltd")
            || text.trim_end().ends_with("-- \nExample Ltd"),
        "{text:?}"
    );
    let html = parsed.body_html(0).unwrap();
    assert!(
        html.contains("Hello <i>there</i><p>Example <b>Ltd</b></p>"),
        "{html}"
    );
    // The structure is intact: both boundaries and the closing one.
    assert_eq!(out.matches("--b1\r\n").count(), 2, "{out}");
    assert!(out.ends_with("--b1--\r\n"), "{out}");
    // Quoted-printable lines stay short.
    assert!(out.lines().all(|l| l.len() <= 998), "{out}");
}

#[test]
fn mixed_gets_it_in_the_body_not_the_attachment() {
    let msg = "Subject: hi\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
--m\r\nContent-Type: text/plain; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nnotes\r\n\
--m--\r\n";
    let out = added(msg);
    assert!(
        out.contains("See attached.\r\n\r\n-- \r\nExample Ltd\r\n--m\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\n\r\nnotes\r\n--m--\r\n"), "{out}");
    assert_eq!(out.matches("Example Ltd").count(), 1);
}

#[test]
fn other_charsets_get_only_an_ascii_signature() {
    let msg = "Subject: hi\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nHall\u{e5}\r\n";
    let wide = Chosen {
        text: "Gr\u{fc}\u{df}e".into(),
        html: String::new(),
    };
    assert_eq!(
        add_signature(msg.as_bytes(), &wide).as_ref(),
        msg.as_bytes()
    );
    let out = added(msg);
    assert!(out.ends_with("-- \r\nExample Ltd\r\n"), "{out}");
}

#[test]
fn conversions_between_the_forms() {
    assert_eq!(text_to_html("a < b\nc"), "<div>a &lt; b<br>\r\nc</div>");
    assert_eq!(
        html_to_text("<p>Example&nbsp;<b>Ltd</b></p><p>Reg. &amp; VAT</p>"),
        "Example Ltd\nReg. & VAT"
    );
}

#[test]
fn any_bytes_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for n in 0..400 {
        let mut bytes = b"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n".to_vec();
        for _ in 0..(n % 97) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let alphabet = b"--x\r\nContent-Transfer-Encoding: base64\r\n=A\xff<\r\n";
            bytes.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let _ = add_signature(&bytes, &sig());
    }
}
