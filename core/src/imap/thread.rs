//! THREAD (RFC 5256 §3): the ORDEREDSUBJECT and REFERENCES algorithms as pure
//! functions over the matched messages ([`Msg`], in sequence order), and the
//! `* THREAD` response.
//!
//! A mailbox can hold a reference chain as long as it has messages, so nothing here
//! recurses: trees are walked with explicit stacks.

use super::sort::Msg;
use imap_codec::imap_types::extensions::thread::ThreadingAlgorithm;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    OrderedSubject,
    References,
}

impl Algorithm {
    /// The algorithms this server has, of those imap-codec parses.
    pub(super) fn known(alg: &ThreadingAlgorithm<'_>) -> Option<Algorithm> {
        match alg {
            ThreadingAlgorithm::OrderedSubject => Some(Algorithm::OrderedSubject),
            ThreadingAlgorithm::References => Some(Algorithm::References),
            ThreadingAlgorithm::Other(_) => None,
        }
    }
}

/// A thread forest: nodes are messages (an index into the `msgs` given) or dummies.
#[derive(Debug, Default)]
pub(super) struct Forest {
    msg: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
}

impl Forest {
    fn node(&mut self, msg: Option<usize>) -> usize {
        self.msg.push(msg);
        self.children.push(Vec::new());
        self.msg.len() - 1
    }

    /// Nodes in an order where every parent comes before its children.
    fn preorder(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.msg.len());
        let mut stack: Vec<usize> = self.roots.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            order.push(n);
            stack.extend(self.children[n].iter().rev());
        }
        order
    }

    /// The message a node sorts by: its own, or a dummy's first child's.
    fn representative(&self, n: usize) -> Option<usize> {
        match self.msg[n] {
            Some(m) => Some(m),
            None => self.children[n].first().and_then(|&c| self.msg[c]),
        }
    }

    /// Sort every set of siblings by sent date (then sequence), children before
    /// their parents so a dummy sorts by its first child (RFC 5256 REFERENCES step 6).
    fn sort_by_date(&mut self, msgs: &[Msg]) {
        let key = |f: &Forest, n: usize| {
            f.representative(n)
                .map(|m| (msgs[m].sent(), msgs[m].seq))
                .unwrap_or((i64::MAX, u32::MAX))
        };
        for n in self.preorder().into_iter().rev() {
            let mut kids = std::mem::take(&mut self.children[n]);
            kids.sort_by_key(|&c| key(self, c));
            self.children[n] = kids;
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by_key(|&r| key(self, r));
        self.roots = roots;
    }

    /// `* THREAD …` with UIDs (`uid`) or sequence numbers, CRLF included.
    pub(super) fn write(&self, out: &mut Vec<u8>, msgs: &[Msg], uid: bool) {
        enum Step {
            Node(usize),
            Text(&'static [u8]),
        }
        out.extend_from_slice(b"* THREAD");
        if !self.roots.is_empty() {
            out.push(b' ');
        }
        let mut stack: Vec<Step> = Vec::new();
        for &r in self.roots.iter().rev() {
            stack.push(Step::Text(b")"));
            stack.push(Step::Node(r));
            stack.push(Step::Text(b"("));
        }
        while let Some(step) = stack.pop() {
            let n = match step {
                Step::Text(t) => {
                    out.extend_from_slice(t);
                    continue;
                }
                Step::Node(n) => n,
            };
            // thread-members: the number, then one child's chain or the nested
            // lists of several (RFC 5256 §4).
            let own = self.msg[n].map(|m| if uid { msgs[m].uid } else { msgs[m].seq });
            if let Some(number) = own {
                out.extend_from_slice(number.to_string().as_bytes());
            }
            match self.children[n].as_slice() {
                [] => {}
                [only] => {
                    if own.is_some() {
                        out.push(b' ');
                    }
                    stack.push(Step::Node(*only));
                }
                several => {
                    if own.is_some() {
                        out.push(b' ');
                    }
                    for &c in several.iter().rev() {
                        stack.push(Step::Text(b")"));
                        stack.push(Step::Node(c));
                        stack.push(Step::Text(b"("));
                    }
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Run `algorithm` over `msgs` (in sequence order).
pub(super) fn thread(algorithm: Algorithm, msgs: &[Msg]) -> Forest {
    match algorithm {
        Algorithm::OrderedSubject => ordered_subject(msgs),
        Algorithm::References => references(msgs),
    }
}

/// ORDEREDSUBJECT: messages sorted by base subject, then sent date; each run of one
/// base subject is a thread whose first message holds all the others as children;
/// threads in the sent date order of their first messages.
pub(super) fn ordered_subject(msgs: &[Msg]) -> Forest {
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&msgs[a], &msgs[b]);
        x.headers
            .subject
            .cmp(&y.headers.subject)
            .then(x.sent().cmp(&y.sent()))
            .then(x.seq.cmp(&y.seq))
    });
    let mut f = Forest::default();
    let mut current: Option<(usize, &str)> = None;
    for m in order {
        let subject = msgs[m].headers.subject.as_str();
        match current {
            Some((root, s)) if s == subject => {
                let n = f.node(Some(m));
                f.children[root].push(n);
            }
            _ => {
                let n = f.node(Some(m));
                f.roots.push(n);
                current = Some((n, subject));
            }
        }
    }
    let mut roots = std::mem::take(&mut f.roots);
    roots.sort_by_key(|&r| {
        let m = &msgs[f.msg[r].unwrap_or(0)];
        (m.sent(), m.seq)
    });
    f.roots = roots;
    f
}

/// REFERENCES (RFC 5256 §3), steps 1–6.
pub(super) fn references(msgs: &[Msg]) -> Forest {
    let mut f = Forest::default();
    let mut links = Links::default();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    fn container<'m>(
        f: &mut Forest,
        links: &mut Links,
        ids: &mut HashMap<&'m str, usize>,
        id: &'m str,
    ) -> usize {
        if let Some(&n) = ids.get(id) {
            return n;
        }
        let n = links.node(f, None);
        ids.insert(id, n);
        n
    }
    // (1) Messages in sequence order; the first with an id owns it, a later
    // duplicate (or a message without one) gets a container of its own.
    for (i, m) in msgs.iter().enumerate() {
        let me = match m.headers.message_id.as_deref() {
            Some(id) => {
                let n = container(&mut f, &mut links, &mut ids, id);
                if f.msg[n].is_none() {
                    f.msg[n] = Some(i);
                    n
                } else {
                    links.node(&mut f, Some(i))
                }
            }
            None => links.node(&mut f, Some(i)),
        };
        // (1.A) Each reference the parent of the next, unless already linked or a
        // loop would close.
        let refs: Vec<usize> = m
            .headers
            .references
            .iter()
            .map(|r| container(&mut f, &mut links, &mut ids, r))
            .collect();
        for pair in refs.windows(2) {
            let (p, c) = (pair[0], pair[1]);
            if links.parent[c].is_none() && !links.loops(p, c) {
                links.set(c, Some(p));
            }
        }
        // (1.B) The last reference is the message's parent, replacing any parent an
        // earlier message's (maybe truncated) References gave it; no link at all if
        // it would close a loop.
        links.set(me, None);
        if let Some(&last) = refs.last() {
            if !links.loops(last, me) {
                links.set(me, Some(last));
            }
        }
    }
    // (2) Children lists and the root set.
    for (n, p) in links.parent.iter().enumerate() {
        match p {
            Some(p) => f.children[*p].push(n),
            None => f.roots.push(n),
        }
    }
    // (3) Dummies go, their children taking their place; at the top only a dummy
    // with one child goes (a dummy with several keeps them together as a thread).
    for n in f.preorder().into_iter().rev() {
        let kids = std::mem::take(&mut f.children[n]);
        let mut kept = Vec::with_capacity(kids.len());
        for c in kids {
            if f.msg[c].is_some() {
                kept.push(c);
            } else {
                kept.append(&mut f.children[c]);
            }
        }
        f.children[n] = kept;
    }
    let roots = std::mem::take(&mut f.roots);
    for r in roots {
        if f.msg[r].is_some() || f.children[r].len() > 1 {
            f.roots.push(r);
        } else if let Some(&only) = f.children[r].first() {
            f.roots.push(only);
        }
    }
    // (4) Top level by date, dummies' children first.
    f.sort_by_date(msgs);
    // (5) Threads with the same base subject are gathered.
    gather_subjects(&mut f, msgs);
    // (6) Every set of siblings by date.
    f.sort_by_date(msgs);
    f
}

/// Step 1's parent links, and how many children each node has so far.
#[derive(Default)]
struct Links {
    parent: Vec<Option<usize>>,
    children: Vec<u32>,
}

impl Links {
    fn node(&mut self, f: &mut Forest, msg: Option<usize>) -> usize {
        self.parent.push(None);
        self.children.push(0);
        f.node(msg)
    }

    fn set(&mut self, c: usize, p: Option<usize>) {
        if let Some(old) = self.parent[c] {
            self.children[old] -= 1;
        }
        if let Some(p) = p {
            self.children[p] += 1;
        }
        self.parent[c] = p;
    }

    /// Whether making `p` the parent of `c` would close a loop: `c` is `p` or one of
    /// its ancestors. A node without children is nobody's ancestor, which spares
    /// the walk for the usual new message; links never form a loop, so it ends.
    fn loops(&self, p: usize, c: usize) -> bool {
        if p == c {
            return true;
        }
        if self.children[c] == 0 {
            return false;
        }
        let mut at = self.parent[p];
        while let Some(n) = at {
            if n == c {
                return true;
            }
            at = self.parent[n];
        }
        false
    }
}

/// REFERENCES step 5: the subject table and the merging of top-level threads.
fn gather_subjects(f: &mut Forest, msgs: &[Msg]) {
    let subject = |f: &Forest, n: usize| -> Option<String> {
        let m = f.representative(n)?;
        let s = &msgs[m].headers.subject;
        (!s.is_empty()).then(|| s.clone())
    };
    let reply = |f: &Forest, n: usize| f.msg[n].is_some_and(|m| msgs[m].headers.reply);
    let dummy = |f: &Forest, n: usize| f.msg[n].is_none();
    // (5.B) One thread per subject: a dummy before a message, a message that is not
    // a reply before one that is.
    let mut table: HashMap<String, usize> = HashMap::new();
    for &r in &f.roots {
        let Some(s) = subject(f, r) else { continue };
        match table.get(&s) {
            None => {
                table.insert(s, r);
            }
            Some(&t) => {
                if !dummy(f, t) && (dummy(f, r) || (reply(f, t) && !reply(f, r))) {
                    table.insert(s, r);
                }
            }
        }
    }
    // (5.C) Merge each thread into its subject's.
    let roots = f.roots.clone();
    let mut gone = vec![false; f.msg.len()];
    for r in roots {
        let Some(s) = subject(f, r) else { continue };
        let Some(&t) = table.get(&s) else { continue };
        if t == r {
            continue;
        }
        if dummy(f, t) && dummy(f, r) {
            let mut kids = std::mem::take(&mut f.children[r]);
            f.children[t].append(&mut kids);
        } else if dummy(f, t) || (reply(f, r) && !reply(f, t)) {
            f.children[t].push(r);
        } else {
            let d = f.node(None);
            gone.push(false);
            f.children[d] = vec![t, r];
            if let Some(slot) = f.roots.iter_mut().find(|x| **x == t) {
                *slot = d;
            }
            table.insert(s, d);
        }
        gone[r] = true;
    }
    f.roots.retain(|&r| !gone[r]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::sort::tests::{msg, subjects};

    fn threads(alg: Algorithm, msgs: &[Msg]) -> String {
        let mut out = Vec::new();
        thread(alg, msgs).write(&mut out, msgs, false);
        String::from_utf8(out).unwrap()
    }

    /// A mailbox from (internal date in minutes, header lines) pairs.
    fn mailbox(m: &[(u64, &str)]) -> Vec<Msg> {
        m.iter()
            .enumerate()
            .map(|(i, (min, h))| msg(i as u32 + 1, min * 60, &format!("{h}\n\nbody\n")))
            .collect()
    }

    /// Expunging renumbers: the remaining messages, renumbered from 1.
    fn without(m: &[Msg], gone: &[u32]) -> Vec<Msg> {
        m.iter()
            .filter(|x| !gone.contains(&x.seq))
            .cloned()
            .enumerate()
            .map(|(i, mut x)| {
                x.seq = i as u32 + 1;
                x
            })
            .collect()
    }

    #[test]
    fn imaptest_references() {
        // thread: a loop through a truncated References is broken, not followed.
        let m = mailbox(&[
            (17 * 60, "Message-ID: <a@b>"),
            (15 * 60, "Message-Id: <b@b>\nReferences: <a@b> <c@b>"),
            (16 * 60, "Message-Id: <c@b>\nReferences: <b@b>"),
        ]);
        assert_eq!(threads(Algorithm::References, &m), "* THREAD (3 2)(1)\r\n");
        assert_eq!(
            threads(Algorithm::References, &without(&m, &[1])),
            "* THREAD (2 1)\r\n"
        );
        // thread2: a duplicate id is a message of its own.
        let m = mailbox(&[(0, "Message-Id: <a@b>"), (0, "Message-Id: <a@b>")]);
        assert_eq!(threads(Algorithm::References, &m), "* THREAD (1)(2)\r\n");
        // thread3, thread4: the same base subject joins threads; the reply goes below.
        let m = mailbox(&[
            (0, "Message-Id: <a@b>\nSubject: foo"),
            (1, "Message-Id: <a@b>\nSubject: Re: foo"),
        ]);
        assert_eq!(threads(Algorithm::References, &m), "* THREAD (1 2)\r\n");
        let m = mailbox(&[
            (0, "Message-Id: <a@b>\nSubject: foo"),
            (1, "Message-Id: <b@b>\nReferences: <c@b>\nSubject: Re: foo"),
        ]);
        assert_eq!(threads(Algorithm::References, &m), "* THREAD (1 2)\r\n");
        // thread5: In-Reply-To; a dummy parent with two children stays at the top.
        let m = mailbox(&[
            (2 * 60, "Message-ID: <1@b>"),
            (0, "Message-Id: <2@b>\nIn-Reply-To: <1@b>"),
            (0, "Message-Id: <3@b>\nIn-Reply-To: <1@b>"),
            (0, "Message-Id: <4@b>\nIn-Reply-To: <2@b>"),
            (0, "Message-Id: <5@b>\nIn-Reply-To: <2@b>"),
        ]);
        let first4 = &m[..4];
        assert_eq!(
            threads(Algorithm::References, first4),
            "* THREAD (1 (2 4)(3))\r\n"
        );
        assert_eq!(
            threads(Algorithm::References, &without(first4, &[1, 2])),
            "* THREAD (1)(2)\r\n"
        );
        assert_eq!(
            threads(Algorithm::References, &without(&m, &[1, 2])),
            "* THREAD (1)((2)(3))\r\n"
        );
        // thread6: no Message-ID, one common reference.
        let m = mailbox(&[(0, "References: <a@b>"), (1, "References: <a@b>")]);
        assert_eq!(threads(Algorithm::References, &m), "* THREAD ((1)(2))\r\n");
        // thread7, thread8: duplicates, and what is left after expunges.
        let m = mailbox(&[
            (0, "Message-Id: <a@b>"),
            (0, "Message-Id: <b@b>\nReferences: <a@b>"),
            (0, "Message-Id: <c@b>\nReferences: <b@b>"),
            (0, "Message-Id: <b@b>\nReferences: <a@b>"),
        ]);
        assert_eq!(
            threads(Algorithm::References, &m),
            "* THREAD (1 (2 3)(4))\r\n"
        );
        assert_eq!(
            threads(Algorithm::References, &without(&m, &[2])),
            "* THREAD (1 3 2)\r\n"
        );
        assert_eq!(threads(Algorithm::References, &[]), "* THREAD\r\n");
    }

    #[test]
    fn imaptest_ordered_subject() {
        let m = subjects();
        assert_eq!(
            threads(Algorithm::OrderedSubject, &m),
            "* THREAD (1)(2 (7)(12)(13))(3 (5)(11))(4)(6)(8)(9 10)(14)(15)\r\n"
        );
        // thread-orderedsubject2: the Date field when there is one, else arrival.
        let m = mailbox(&[
            (1, "Subject: a\nDate: Fri, 22 Feb 2008 22:00:10 +0200"),
            (2, "Date: Fri, 22 Feb 2008 22:00:09 +0200\nSubject: b"),
            (3, "Date: Fri, 22 Feb 2008 22:00:08 +0200\nSubject: a"),
            (4, "Date: Fri, 22 Feb 2008 22:00:07 +0200\nSubject: b"),
        ]);
        let mut m = m;
        // Arrivals of 5–8 at 22:00:30, :29, :28, :27 +0200 (UTC seconds).
        let base = 1_203_710_400; // 2008-02-22T22:00:00+0200
        for (i, (secs, s)) in [(30, "a"), (29, "b"), (28, "a"), (27, "b")]
            .iter()
            .enumerate()
        {
            m.push(msg(
                5 + i as u32,
                base + secs,
                &format!("Subject: {s}\n\n{}\n", 5 + i),
            ));
        }
        assert_eq!(
            threads(Algorithm::OrderedSubject, &m),
            "* THREAD (4 (2)(8)(6))(3 (1)(7)(5))\r\n"
        );
    }

    /// Every number in a `* THREAD` answer, in order.
    fn numbers(out: &str) -> Vec<u32> {
        out.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever ids, duplicates, self-references and loops the headers hold, both
        /// algorithms place every message exactly once, with balanced parentheses.
        #[test]
        fn every_message_once(
            heads in proptest::collection::vec(
                (proptest::option::of(0u8..6), proptest::collection::vec(0u8..6, 0..5),
                 0u8..3, 0u64..4),
                0..24,
            )
        ) {
            let m: Vec<Msg> = heads
                .iter()
                .enumerate()
                .map(|(i, (id, refs, subject, day))| {
                    let id = id.map(|n| format!("Message-ID: <{n}@x>\n")).unwrap_or_default();
                    let refs: Vec<String> = refs.iter().map(|r| format!("<{r}@x>")).collect();
                    let subject = ["a", "Re: a", "b"][*subject as usize];
                    let refs = if refs.is_empty() {
                        String::new()
                    } else {
                        format!("References: {}\n", refs.join(" "))
                    };
                    msg(i as u32 + 1, day * 86_400, &format!("{id}{refs}Subject: {subject}\n\nx\n"))
                })
                .collect();
            for alg in [Algorithm::References, Algorithm::OrderedSubject] {
                let out = threads(alg, &m);
                let mut seen = numbers(&out);
                seen.sort_unstable();
                let all: Vec<u32> = (1..=m.len() as u32).collect();
                proptest::prop_assert_eq!(&seen, &all, "{}", out);
                let opens = out.matches('(').count();
                proptest::prop_assert_eq!(opens, out.matches(')').count());
                proptest::prop_assert!(!out.contains("()"), "{}", out);
            }
        }
    }

    /// RFC 5256 §4's example shapes, and depth: a chain as long as a mailbox must not
    /// exhaust the stack.
    #[test]
    fn long_chain() {
        let n = 20_000;
        let m: Vec<Msg> = (1..=n)
            .map(|i| {
                let refs = if i > 1 {
                    format!("In-Reply-To: <{}@x>\n", i - 1)
                } else {
                    String::new()
                };
                msg(
                    i,
                    u64::from(i),
                    &format!("Message-ID: <{i}@x>\n{refs}\nb\n"),
                )
            })
            .collect();
        let out = threads(Algorithm::References, &m);
        assert!(out.starts_with("* THREAD (1 2 3 "));
        assert!(out.ends_with(" 20000)\r\n"));
    }
}
