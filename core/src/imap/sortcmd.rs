//! The run of SORT and THREAD (RFC 5256, RFC 5957's DISPLAY keys) in the session.
//!
//! imap-codec parses both commands, search keys included, so the keys are SEARCH's,
//! evaluated by `search.rs`. The run is SEARCH's too: after the sync point (no
//! EXPUNGE reported, RFC 2180 §4.1, as the answer is in sequence numbers), each candidate
//! message's bytes are asked for when the search or the sort needs them; the header
//! data read from them is kept in a bounded per-session [`Cache`] (a UID names the
//! same message for as long as the folder is selected), so a client re-sorting a
//! folder does not read every message again.

use super::esearch::{self, Found, ReturnOpts};
use super::search;
use super::select::Selected;
use super::sort::{self, Headers, Msg};
use super::thread::{self, Algorithm};
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::extensions::sort::SortCriterion;
use imap_codec::imap_types::search::SearchKey;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Header data kept per session, in octets (roughly; see `Headers::weight`).
const MAX_CACHE: usize = 2 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Sort(Vec<SortCriterion>),
    Thread(Algorithm),
}

/// A SORT or THREAD command as imap-codec parsed it.
#[derive(Debug)]
pub(super) struct Request {
    tag: String,
    uid: bool,
    kind: Kind,
    charset: String,
    keys: Vec<SearchKey<'static>>,
    /// ESORT / CONTEXT=SORT (RFC 5267): `SORT RETURN (…)` answers `* ESEARCH`.
    ret: Option<ReturnOpts>,
}

impl Request {
    /// The command, if `body` is SORT or THREAD: `Err` (a BAD's text) for an
    /// algorithm this server does not have.
    pub(super) fn new(
        tag: String,
        body: CommandBody<'static>,
    ) -> Option<Result<Request, &'static str>> {
        let (uid, kind, charset, criteria) = match body {
            CommandBody::Sort {
                sort_criteria,
                charset,
                search_criteria,
                uid,
            } => (
                uid,
                Kind::Sort(sort_criteria.into_iter().collect()),
                charset,
                search_criteria,
            ),
            CommandBody::Thread {
                algorithm,
                charset,
                search_criteria,
                uid,
            } => match Algorithm::known(&algorithm) {
                Some(alg) => (uid, Kind::Thread(alg), charset, search_criteria),
                None => return Some(Err("Unknown thread algorithm")),
            },
            _ => return None,
        };
        Some(Ok(Request {
            tag,
            uid,
            kind,
            charset: AsRef::<str>::as_ref(&charset).to_owned(),
            keys: criteria.into_iter().collect(),
            ret: None,
        }))
    }

    /// The return options of `SORT RETURN (…)` (taken off by `esearch::strip`);
    /// `Err` (a NO's text) for THREAD, which has none, or for UPDATE, not kept for
    /// SORT.
    pub(super) fn with_return(mut self, ret: Option<ReturnOpts>) -> Result<Request, &'static str> {
        if let Some(r) = &ret {
            if matches!(self.kind, Kind::Thread(_)) {
                return Err("THREAD takes no RETURN options");
            }
            if r.update {
                return Err("[CANNOT] RETURN (UPDATE) is kept for SEARCH only");
            }
        }
        self.ret = ret;
        Ok(self)
    }

    /// The search keys.
    pub(super) fn keys(&self) -> &[SearchKey<'static>] {
        &self.keys
    }
}

/// Header data of messages of the selected folder by UID, bounded by [`MAX_CACHE`]:
/// when full, newer messages are read again each time instead of kept.
#[derive(Debug, Default)]
pub(super) struct Cache {
    map: HashMap<u32, Arc<Headers>>,
    weight: usize,
}

impl Cache {
    /// Another folder (or none) is selected: its UIDs name other messages.
    pub(super) fn clear(&mut self) {
        *self = Cache::default();
    }

    fn put(&mut self, uid: u32, h: &Arc<Headers>) {
        let w = h.weight();
        if self.weight + w <= MAX_CACHE && self.map.insert(uid, Arc::clone(h)).is_none() {
            self.weight += w;
        }
    }
}

/// A SORT or THREAD under way.
#[derive(Debug)]
pub(super) struct Job {
    req: Request,
    wants_modseq: bool,
    search_text: bool,
    needs_headers: bool,
    /// (seq, uid) still to look at.
    todo: VecDeque<(u32, u32)>,
    msgs: Vec<Msg>,
    none: Arc<Headers>,
}

impl Job {
    /// Check the command and start it; `None` if it was answered at once (NO).
    /// `condstore` says whether MODSEQs are reported, `wants_modseq` whether the
    /// search asked for them (RFC 7162 §3.1.5).
    pub(super) fn start(
        req: Request,
        sel: &mut Selected,
        condstore: bool,
        wants_modseq: bool,
        out: &mut Vec<u8>,
    ) -> Option<Job> {
        if !super::server::charset_ok(&req.charset) {
            let text = format!(
                "{} NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n",
                req.tag
            );
            out.extend_from_slice(text.as_bytes());
            return None;
        }
        let Ok(search_text) = search::plan(&req.keys) else {
            let text = format!(
                "{} NO [CANNOT] This search key is not supported yet\r\n",
                req.tag
            );
            out.extend_from_slice(text.as_bytes());
            return None;
        };
        let needs_headers = match &req.kind {
            Kind::Sort(c) => c.iter().any(|c| sort::needs_header(&c.key)),
            Kind::Thread(_) => true,
        };
        sel.report(out, false, condstore);
        Some(Job {
            todo: search::candidates(sel).into(),
            req,
            wants_modseq,
            search_text,
            needs_headers,
            msgs: Vec::new(),
            none: Arc::new(Headers::default()),
        })
    }

    /// Look at messages until one needs bytes this job does not have (its UID is
    /// returned: ask for them, then call again with them), or answer the command.
    pub(super) fn advance(
        &mut self,
        sel: &Selected,
        cache: &mut Cache,
        mut bytes: Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Option<u32> {
        while let Some(&(seq, uid)) = self.todo.front() {
            let cached = self
                .needs_headers
                .then(|| cache.map.get(&uid).cloned())
                .flatten();
            let needs_bytes = self.search_text || (self.needs_headers && cached.is_none());
            if needs_bytes && bytes.is_none() {
                return Some(uid);
            }
            self.todo.pop_front();
            let text = bytes.as_deref().map(search::Text::new);
            let hit = search::matches(sel, &self.req.keys, seq, uid, text.as_ref());
            if let (Some(hit), Some(meta)) = (hit, sel.meta(uid)) {
                let headers = match (cached, &bytes) {
                    (Some(h), _) => h,
                    (None, Some(raw)) if self.needs_headers => {
                        let h = Arc::new(Headers::parse(raw));
                        cache.put(uid, &h);
                        h
                    }
                    _ => Arc::clone(&self.none),
                };
                self.msgs.push(Msg {
                    seq,
                    uid,
                    modseq: hit.modseq,
                    arrival: meta.internal_date,
                    size: meta.size,
                    headers,
                });
            }
            bytes = None;
        }
        self.finish(out);
        None
    }

    fn finish(&self, out: &mut Vec<u8>) {
        let uid = self.req.uid;
        let what = match self.req.kind {
            Kind::Sort(_) => "SORT",
            Kind::Thread(_) => "THREAD",
        };
        match &self.req.kind {
            Kind::Sort(criteria) if self.req.ret.is_some() => {
                let order = sort::sort(criteria, &self.msgs, uid);
                let modseq_of: HashMap<u32, u64> = self
                    .msgs
                    .iter()
                    .map(|m| (if uid { m.uid } else { m.seq }, m.modseq))
                    .collect();
                let found: Vec<Found> = order
                    .into_iter()
                    .map(|num| Found {
                        num,
                        modseq: modseq_of.get(&num).copied().unwrap_or(0),
                    })
                    .collect();
                let opts = self.req.ret.clone().unwrap_or_default();
                esearch::write(out, &self.req.tag, uid, &found, &opts, self.wants_modseq);
            }
            Kind::Sort(criteria) => {
                out.extend_from_slice(b"* SORT");
                for n in sort::sort(criteria, &self.msgs, uid) {
                    out.extend_from_slice(format!(" {n}").as_bytes());
                }
                if self.wants_modseq {
                    if let Some(m) = self.msgs.iter().map(|m| m.modseq).max() {
                        out.extend_from_slice(format!(" (MODSEQ {m})").as_bytes());
                    }
                }
                out.extend_from_slice(b"\r\n");
            }
            Kind::Thread(alg) => thread::thread(*alg, &self.msgs).write(out, &self.msgs, uid),
        }
        let prefix = if uid { "UID " } else { "" };
        out.extend_from_slice(
            format!("{} OK {prefix}{what} completed\r\n", self.req.tag).as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::decode::Decoder as _;
    use imap_codec::imap_types::IntoStatic;

    fn request(line: &str) -> Option<Result<Request, &'static str>> {
        let (_, cmd) = imap_codec::CommandCodec::new()
            .decode(line.as_bytes())
            .expect("a command");
        let cmd = cmd.into_static();
        Request::new(cmd.tag.as_ref().to_owned(), cmd.body)
    }

    #[test]
    fn requests() {
        let r = request("a UID SORT (REVERSE date displayfrom) UTF-8 ALL\r\n")
            .unwrap()
            .unwrap();
        assert!(r.uid);
        assert_eq!(r.tag, "a");
        let Kind::Sort(c) = &r.kind else {
            panic!("SORT")
        };
        assert_eq!(c.len(), 2);
        assert!(c[0].reverse && !c[1].reverse);
        assert_eq!(r.charset, "UTF-8");
        assert_eq!(r.keys, vec![SearchKey::All]);
        let r = request("b thread references \"us-ascii\" SUBJECT {3+}\r\nfoo UNDELETED\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.kind, Kind::Thread(Algorithm::References));
        assert_eq!(r.keys.len(), 2);
        assert_eq!(
            request("c THREAD COLOUR UTF-8 ALL\r\n")
                .unwrap()
                .unwrap_err(),
            "Unknown thread algorithm"
        );
        assert!(request("d SEARCH ALL\r\n").is_none());
    }

    /// Hostile headers cannot grow the cache past its bound; what fits is kept.
    #[test]
    fn cache_is_bounded() {
        let mut cache = Cache::default();
        let refs: String = (0..200)
            .map(|i| format!("<{i}{}@x> ", "r".repeat(400)))
            .collect();
        let raw = format!(
            "References: {refs}\r\nSubject: {}\r\n\r\n",
            "s".repeat(5000)
        );
        let h = Arc::new(Headers::parse(raw.as_bytes()));
        for uid in 1..=10_000 {
            cache.put(uid, &h);
        }
        assert!(cache.weight <= MAX_CACHE);
        assert!(cache.map.len() > 10 && cache.map.len() < 10_000);
        let weight = cache.weight;
        cache.put(1, &h);
        assert_eq!(cache.weight, weight);
        cache.clear();
        assert_eq!((cache.map.len(), cache.weight), (0, 0));
    }
}
