//! The two LIST-EXTENDED forms RFC 6154 clients send with SPECIAL-USE, which
//! imap-codec does not parse: `LIST (SPECIAL-USE) ref pattern` (only folders with a
//! special use) and `LIST ref pattern RETURN (SPECIAL-USE)` (attributes, which this
//! server returns anyway). The options are taken off and the plain LIST left is
//! decoded by imap-codec as usual.

/// Options this server can honour.
const SELECT_OPTIONS: [&str; 1] = ["SPECIAL-USE"];
const RETURN_OPTIONS: [&str; 2] = ["SPECIAL-USE", "CHILDREN"];

/// `tag LIST …` with its options removed, and whether only special-use folders are
/// asked for; `None` if `line` is not such a LIST (or names other options).
pub(super) fn strip(line: &[u8]) -> Option<(Vec<u8>, bool)> {
    let text = std::str::from_utf8(line).ok()?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))?;
    let (tag, rest) = text.split_once(' ')?;
    let (cmd, mut args) = rest.split_once(' ')?;
    if !cmd.eq_ignore_ascii_case("LIST") {
        return None;
    }
    let mut special_only = false;
    if let Some(inner) = args.strip_prefix('(') {
        let (opts, after) = inner.split_once(')')?;
        if !options_ok(opts, &SELECT_OPTIONS) {
            return None;
        }
        special_only = !opts.trim().is_empty();
        args = after.strip_prefix(' ')?;
    }
    let upper = args.to_ascii_uppercase();
    if let Some(at) = upper.rfind(" RETURN (") {
        let opts = args[at + " RETURN (".len()..].strip_suffix(')')?;
        if !options_ok(opts, &RETURN_OPTIONS) {
            return None;
        }
        args = &args[..at];
    }
    Some((format!("{tag} LIST {args}\r\n").into_bytes(), special_only))
}

fn options_ok(opts: &str, known: &[&str]) -> bool {
    opts.split_whitespace()
        .all(|o| known.iter().any(|k| k.eq_ignore_ascii_case(o)))
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn forms() {
        assert_eq!(
            strip(b"a LIST (SPECIAL-USE) \"\" \"*\"\r\n"),
            Some((b"a LIST \"\" \"*\"\r\n".to_vec(), true))
        );
        assert_eq!(
            strip(b"b list \"\" * return (special-use children)\r\n"),
            Some((b"b LIST \"\" *\r\n".to_vec(), false))
        );
        assert_eq!(strip(b"c LIST (REMOTE) \"\" *\r\n"), None);
        assert_eq!(strip(b"d LIST \"\" * RETURN (STATUS (MESSAGES))\r\n"), None);
        assert_eq!(strip(b"e SELECT INBOX\r\n"), None);
    }
}

/// LIST-EXTENDED (RFC 5258) in full: selection options SUBSCRIBED, REMOTE,
/// RECURSIVEMATCH, SPECIAL-USE; return options SUBSCRIBED, CHILDREN, SPECIAL-USE;
/// one pattern or a parenthesised list. Answered from two `List` events (every
/// folder, then the subscriptions when they matter), matched here.
pub(super) mod extended {
    use super::super::cursor::{Cursor, SYNTAX};
    use super::super::{list_matches, write, ImapEvent, ListEntry};
    use crate::mailbox::decode_mutf7;
    use std::collections::{BTreeMap, BTreeSet};

    /// Most patterns in one command.
    const MAX_PATTERNS: usize = 100;

    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub(in crate::imap) struct Query {
        pub tag: String,
        reference: String,
        patterns: Vec<String>,
        sel_subscribed: bool,
        sel_special: bool,
        recursive: bool,
        ret_subscribed: bool,
        ret_children: bool,
        /// RETURN (SPECIAL-USE): accepted; the attributes are always sent.
        ret_special: bool,
        /// The folders (first answer), once known.
        all: Option<Vec<ListEntry>>,
        /// The subscriptions (second answer; levels listed only as parents of
        /// subscriptions are not subscriptions).
        subs: Vec<ListEntry>,
    }

    /// Why a LIST is refused (BAD), with its tag.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(in crate::imap) struct Refused {
        pub tag: String,
        pub text: &'static str,
    }

    /// `msg` taken apart if it is a LIST in RFC 5258's extended form; `None` for any
    /// other command.
    pub(in crate::imap) fn parse(msg: &[u8]) -> Option<Result<Query, Refused>> {
        let mut c = Cursor::new(msg);
        let tag = String::from_utf8_lossy(c.atom()?).into_owned();
        if !c.eat(b' ') || !c.atom()?.eq_ignore_ascii_case(b"LIST") {
            return None;
        }
        let mut q = Query {
            tag: tag.clone(),
            ..Query::default()
        };
        Some(
            rest(&mut c, &mut q)
                .map(|()| q)
                .map_err(|text| Refused { tag, text }),
        )
    }

    fn rest(c: &mut Cursor<'_>, q: &mut Query) -> Result<(), &'static str> {
        c.expect(b' ')?;
        if c.peek() == Some(b'(') {
            let mut other = false;
            for o in options(c)? {
                match o.to_ascii_uppercase().as_str() {
                    "SUBSCRIBED" => {
                        q.sel_subscribed = true;
                        other = true;
                    }
                    "SPECIAL-USE" => {
                        q.sel_special = true;
                        other = true;
                    }
                    // Nothing here is remote: the option changes nothing.
                    "REMOTE" => {}
                    "RECURSIVEMATCH" => q.recursive = true,
                    _ => return Err("Unknown LIST selection option"),
                }
            }
            // RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE only) is an error.
            if q.recursive && !other {
                return Err("RECURSIVEMATCH needs another selection option");
            }
            c.expect(b' ')?;
        }
        let reference = c.astring().ok_or(SYNTAX)?;
        q.reference = name(&reference).ok_or("Invalid reference")?;
        c.expect(b' ')?;
        let mut patterns = Vec::new();
        if c.eat(b'(') {
            loop {
                patterns.push(c.list_mailbox().ok_or(SYNTAX)?);
                if patterns.len() > MAX_PATTERNS {
                    return Err("Too many patterns");
                }
                if c.eat(b')') {
                    break;
                }
                c.expect(b' ')?;
            }
        } else {
            patterns.push(c.list_mailbox().ok_or(SYNTAX)?);
        }
        // A pattern that is not modified UTF-7 matches nothing (as in plain LIST).
        q.patterns = patterns.iter().filter_map(|p| name(p)).collect();
        if c.eat(b' ') {
            if !c.peek_word(b"RETURN ") {
                return Err(SYNTAX);
            }
            c.at += b"RETURN ".len();
            for o in options(c)? {
                match o.to_ascii_uppercase().as_str() {
                    "SUBSCRIBED" => q.ret_subscribed = true,
                    "CHILDREN" => q.ret_children = true,
                    "SPECIAL-USE" => q.ret_special = true,
                    _ => return Err("Unknown LIST return option"),
                }
            }
        }
        if !c.at_end() {
            return Err(SYNTAX);
        }
        Ok(())
    }

    /// `(opt opt …)` as words.
    fn options(c: &mut Cursor<'_>) -> Result<Vec<String>, &'static str> {
        c.expect(b'(')?;
        let mut out = Vec::new();
        while !c.eat(b')') {
            if !out.is_empty() {
                c.expect(b' ')?;
            }
            let o = c.atom().ok_or(SYNTAX)?;
            out.push(String::from_utf8_lossy(o).into_owned());
            if out.len() > 16 {
                return Err(SYNTAX);
            }
        }
        Ok(out)
    }

    fn name(raw: &[u8]) -> Option<String> {
        decode_mutf7(std::str::from_utf8(raw).ok()?).ok()
    }

    impl Query {
        /// The first event: every folder.
        pub(in crate::imap) fn first(&self) -> ImapEvent {
            ImapEvent::List {
                reference: String::new(),
                pattern: "*".into(),
                subscribed: false,
            }
        }

        /// Take a `List` answer: the folders first, then the subscriptions. True
        /// when the subscriptions are still to be asked for ([`Self::second`]).
        pub(in crate::imap) fn wants_subscriptions(&mut self, entries: Vec<ListEntry>) -> bool {
            if self.all.is_none() {
                self.all = Some(entries);
                self.sel_subscribed || self.ret_subscribed
            } else {
                self.subs = entries;
                false
            }
        }

        /// The second event: the subscriptions.
        pub(in crate::imap) fn second(&self) -> ImapEvent {
            ImapEvent::List {
                reference: String::new(),
                pattern: "*".into(),
                subscribed: true,
            }
        }

        fn matches(&self, name: &str) -> bool {
            self.patterns
                .iter()
                .any(|p| list_matches(&self.reference, p, name))
        }

        /// Write the `* LIST` lines.
        pub(in crate::imap) fn write(&self, out: &mut Vec<u8>) {
            let all: BTreeMap<&str, &ListEntry> = self
                .all
                .iter()
                .flatten()
                .map(|e| (e.name.as_str(), e))
                .collect();
            let subscribed: BTreeSet<&str> = self
                .subs
                .iter()
                .filter(|e| !e.no_select)
                .map(|e| e.name.as_str())
                .collect();
            let mut names: BTreeSet<&str> = if self.sel_subscribed {
                subscribed.clone()
            } else {
                all.keys().copied().collect()
            };
            // RECURSIVEMATCH: the levels above selected names are candidates too.
            let mut childinfo: BTreeSet<&str> = BTreeSet::new();
            if self.recursive {
                for s in &subscribed {
                    if self.matches(s) {
                        continue;
                    }
                    for (i, _) in s.match_indices('/') {
                        let parent = &s[..i];
                        if self.matches(parent) && !subscribed.contains(parent) {
                            childinfo.insert(parent);
                            names.insert(parent);
                        }
                    }
                }
            }
            let mut order: Vec<&str> = names.into_iter().filter(|n| self.matches(n)).collect();
            order.sort_by_key(|n| !n.eq_ignore_ascii_case("INBOX"));
            for n in order {
                let entry = all.get(n);
                let special = entry.and_then(|e| e.special_use);
                if self.sel_special && special.is_none() {
                    continue;
                }
                let mut attrs: Vec<&str> = Vec::new();
                match entry {
                    None => attrs.push("\\NonExistent"),
                    Some(e) if e.no_select => attrs.push("\\Noselect"),
                    Some(_) => {}
                }
                if (self.sel_subscribed || self.ret_subscribed) && subscribed.contains(n) {
                    attrs.push("\\Subscribed");
                }
                if self.ret_children {
                    let below = format!("{n}/");
                    let has = all
                        .range(below.as_str()..)
                        .next()
                        .is_some_and(|(k, _)| k.starts_with(&below));
                    attrs.push(if has {
                        "\\HasChildren"
                    } else {
                        "\\HasNoChildren"
                    });
                }
                // Special uses are always shown, as plain LIST does (RFC 6154 §2
                // allows it); RETURN (SPECIAL-USE) asks for nothing more.
                if let Some(u) = special {
                    attrs.push(u.attribute());
                }
                out.extend_from_slice(b"* LIST (");
                out.extend_from_slice(attrs.join(" ").as_bytes());
                out.extend_from_slice(b") \"/\" ");
                write::mailbox(out, n);
                if childinfo.contains(n) {
                    out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
                }
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn entry(name: &str, no_select: bool) -> ListEntry {
            ListEntry {
                name: name.into(),
                special_use: None,
                no_select,
                has_children: false,
            }
        }

        fn run(cmd: &str, all: &[(&str, bool)], subs: &[&str]) -> String {
            let mut q = parse(cmd.as_bytes()).unwrap().unwrap();
            let all = all.iter().map(|(n, ns)| entry(n, *ns)).collect();
            if q.wants_subscriptions(all) {
                assert!(!q.wants_subscriptions(subs.iter().map(|n| entry(n, false)).collect()));
            }
            let mut out = Vec::new();
            q.write(&mut out);
            String::from_utf8(out).unwrap()
        }

        #[test]
        fn errors() {
            for bad in [
                "a LIST (imaptest) \"\" \"\"\r\n",
                "a LIST (recursivematch) \"\" \"\"\r\n",
                "a LIST (recursivematch remote) \"\" \"\"\r\n",
                "a LIST \"\" \"\" return (imaptest)\r\n",
            ] {
                assert!(parse(bad.as_bytes()).unwrap().is_err(), "{bad}");
            }
            assert!(parse(b"a SELECT x\r\n").is_none());
        }

        #[test]
        fn subscribed_recursive_childinfo() {
            let all = [
                ("m", false),
                ("m/t2", false),
                ("m/t2/t1", false),
                ("m/t3", false),
            ];
            let out = run(
                "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" m/t2% RETURN (CHILDREN)\r\n",
                &all,
                &["m/t2/t1", "m/gone"],
            );
            assert_eq!(
                out,
                "* LIST (\\HasChildren) \"/\" \"m/t2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
            );
            let out = run(
                "a LIST (SUBSCRIBED) \"\" m/*\r\n",
                &all,
                &["m/t2/t1", "m/gone"],
            );
            assert_eq!(
                out,
                "* LIST (\\NonExistent \\Subscribed) \"/\" \"m/gone\"\r\n\
                 * LIST (\\Subscribed) \"/\" \"m/t2/t1\"\r\n"
            );
        }

        #[test]
        fn several_patterns() {
            let all = [
                ("m", false),
                ("m/t1", false),
                ("m/t2", false),
                ("m/t3", false),
            ];
            let out = run("a list \"\" (m/*2 \"m/t3\")\r\n", &all, &[]);
            assert_eq!(
                out,
                "* LIST () \"/\" \"m/t2\"\r\n* LIST () \"/\" \"m/t3\"\r\n"
            );
        }
    }
}
