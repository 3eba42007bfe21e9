//! The checks on one incoming message, as a sans-I/O machine: [`Check::step`] says
//! which DNS record it needs next or gives the results; the runtime answers with
//! [`Check::answer`]. SPF, then each DKIM signature's key, then DMARC.

use super::dkim::{self, DkimResult, Pending};
use super::dmarc::{self, Disposition, DmarcResult, Evidence, Outcome};
use super::dns::{txts, Answers, Need, Reply};
use super::header;
use super::spf::{self, SpfResult};
use crate::dns::RecordKind;
use std::fmt::Write as _;
use std::net::IpAddr;

/// DNS questions per message, all checks together. SPF alone may ask 10 terms plus
/// 10 MX hosts per `mx`; past this bound every further question is answered as a
/// failure, so the results say temperror rather than pass.
pub const MAX_QUERIES: usize = 64;

#[derive(Debug)]
pub enum Step {
    Query(Need),
    Done(Box<Results>),
}

#[derive(Debug)]
pub struct Check {
    ip: IpAddr,
    helo: String,
    mail_from: Option<String>,
    signatures: Vec<Pending>,
    from: Result<String, String>,
    answers: Answers,
    asked: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    pub spf: SpfResult,
    /// The SPF identity: the MAIL FROM address (or postmaster@HELO).
    pub spf_identity: String,
    pub spf_domain: String,
    /// Each signature looked at: (d=, s=, start of b=, result).
    pub dkim: Vec<(String, String, String, DkimResult)>,
    pub dmarc: Outcome,
}

impl Check {
    /// `message` is the message as received (header and body, CRLF line ends).
    pub fn new(
        ip: IpAddr,
        helo: &str,
        mail_from: Option<&str>,
        message: &[u8],
        now_unix: u64,
    ) -> Check {
        let (fields, _) = header::split(message);
        Check {
            ip,
            helo: helo.to_string(),
            mail_from: mail_from.map(str::to_string),
            signatures: dkim::prepare(message, now_unix),
            from: dmarc::from_domain(&fields),
            answers: Answers::default(),
            asked: 0,
        }
    }

    pub fn answer(&mut self, name: &str, kind: RecordKind, reply: Reply) {
        self.answers.put(name, kind, reply);
    }

    pub fn step(&mut self) -> Step {
        loop {
            match self.evaluate() {
                Ok(r) => return Step::Done(Box::new(r)),
                Err(need) if self.asked < MAX_QUERIES => {
                    self.asked += 1;
                    return Step::Query(need);
                }
                Err(need) => self.answers.put(
                    &need.name,
                    need.kind,
                    Reply::Failed("too many DNS lookups for one message".into()),
                ),
            }
        }
    }

    fn evaluate(&self) -> Result<Results, Need> {
        let spf = spf::check(
            &self.answers,
            self.ip,
            self.mail_from.as_deref(),
            &self.helo,
        )?;
        let (spf_identity, spf_domain) = spf::identity(self.mail_from.as_deref(), &self.helo);
        let mut dkim = Vec::new();
        for p in &self.signatures {
            let result = match p.key_name() {
                None => p
                    .early()
                    .cloned()
                    .unwrap_or(DkimResult::PermError("?".into())),
                Some(name) => match self.answers.get(&name, RecordKind::Txt)? {
                    Reply::Records(r) => p.finish(&txts(r)),
                    Reply::NxDomain | Reply::NoData => {
                        DkimResult::PermError("no key for signature".into())
                    }
                    Reply::Failed(e) => DkimResult::TempError(format!("key lookup failed: {e}")),
                },
            };
            dkim.push((
                p.domain.clone(),
                p.selector.clone(),
                p.b_prefix.clone(),
                result,
            ));
        }
        let evidence = Evidence {
            spf_pass: (spf == SpfResult::Pass).then_some(spf_domain.as_str()),
            spf_temp: matches!(spf, SpfResult::TempError(_)),
            dkim_pass: dkim
                .iter()
                .filter(|d| d.3 == DkimResult::Pass)
                .map(|d| d.0.as_str())
                .collect(),
            dkim_temp: dkim.iter().any(|d| matches!(d.3, DkimResult::TempError(_))),
        };
        let from = match &self.from {
            Ok(d) => Ok(d.as_str()),
            Err(e) => Err(e.as_str()),
        };
        let dmarc = dmarc::evaluate(&self.answers, from, &evidence)?;
        Ok(Results {
            spf,
            spf_identity,
            spf_domain,
            dkim,
            dmarc,
        })
    }
}

/// What a failed DMARC check does with the message (`[mailauth] dmarc_reject`,
/// `dmarc_quarantine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Deliver,
    /// Deliver into the local recipients' Junk folders (`dmarc_* = "junk"`).
    Junk,
    /// Refuse at the end of DATA: 550 (or 451 when DNS could not decide).
    Refuse {
        temporary: bool,
    },
}

impl Results {
    /// What to do with the message under `[mailauth]`, and the refusal text.
    pub fn verdict(&self, cfg: &crate::config::MailAuth) -> (Verdict, String) {
        use crate::config::DmarcAction;
        let Some((policy, temporary)) = self.failed_policy() else {
            return (Verdict::Deliver, String::new());
        };
        let action = match policy {
            Disposition::Reject => cfg.dmarc_reject,
            Disposition::Quarantine => cfg.dmarc_quarantine,
            Disposition::None => DmarcAction::Mark,
        };
        let domain = self.dmarc.from_domain.as_deref().unwrap_or("?");
        match (action, temporary) {
            (DmarcAction::Reject, false) => (
                Verdict::Refuse { temporary: false },
                format!(
                    "Message refused: it fails the DMARC policy of {domain} (p={})",
                    policy.word()
                ),
            ),
            // The policy would refuse it, but DNS could not decide: ask the sender
            // to try again rather than refuse, or accept, for good.
            (DmarcAction::Reject, true) => (
                Verdict::Refuse { temporary: true },
                format!("DMARC check of {domain} failed temporarily; try again later"),
            ),
            // Junk is a soft answer: also when DNS could not decide.
            (DmarcAction::Junk, _) => (Verdict::Junk, String::new()),
            (DmarcAction::Mark, _) => (Verdict::Deliver, String::new()),
        }
    }

    /// The policy the From domain asks for when DMARC did not pass, if any.
    pub fn failed_policy(&self) -> Option<(Disposition, bool)> {
        let temporary = match self.dmarc.result {
            DmarcResult::Fail => false,
            DmarcResult::TempError(_) => true,
            _ => return None,
        };
        self.dmarc
            .policy
            .filter(|p| *p != Disposition::None)
            .map(|p| (p, temporary))
    }

    /// A short summary for the log.
    pub fn summary(&self) -> String {
        let dkim: Vec<String> = self
            .dkim
            .iter()
            .map(|(d, _, _, r)| format!("{}({d})", r.word()))
            .collect();
        format!(
            "spf={} dkim={} dmarc={}",
            self.spf.word(),
            if dkim.is_empty() {
                "none".into()
            } else {
                dkim.join(",")
            },
            self.dmarc.result.word()
        )
    }

    /// The `Authentication-Results:` field (RFC 8601), with its line end.
    pub fn header(&self, authserv_id: &str) -> String {
        let mut h = format!(
            "Authentication-Results: {authserv_id};\r\n\tspf={}",
            self.spf.word()
        );
        reason(&mut h, self.spf.reason());
        let _ = write!(h, " smtp.mailfrom={}", value(&self.spf_identity));
        if self.dkim.is_empty() {
            h.push_str(";\r\n\tdkim=none");
        }
        for (d, s, b, r) in &self.dkim {
            let _ = write!(h, ";\r\n\tdkim={}", r.word());
            reason(&mut h, r.reason());
            if !d.is_empty() {
                let _ = write!(h, " header.d={}", value(d));
            }
            if !s.is_empty() {
                let _ = write!(h, " header.s={}", value(s));
            }
            if !b.is_empty() {
                let _ = write!(h, " header.b={}", value(b));
            }
        }
        let _ = write!(h, ";\r\n\tdmarc={}", self.dmarc.result.word());
        if let DmarcResult::TempError(e) | DmarcResult::PermError(e) = &self.dmarc.result {
            reason(&mut h, Some(e));
        }
        if let Some(p) = self.dmarc.policy {
            let _ = write!(h, " policy.dmarc={}", p.word());
        }
        if let Some(f) = &self.dmarc.from_domain {
            let _ = write!(h, " header.from={}", value(f));
        }
        h.push_str("\r\n");
        h
    }
}

fn reason(h: &mut String, why: Option<&str>) {
    if let Some(w) = why {
        let clean: String = w
            .chars()
            .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
            .take(200)
            .collect();
        let _ = write!(h, " reason=\"{clean}\"");
    }
}

/// A property value: a token when it is one, else a quoted string (RFC 8601 §2.2).
fn value(v: &str) -> String {
    let token = !v.is_empty()
        && v.chars().all(|c| {
            c.is_ascii_graphic() && !"()<>,;:\\\"/[]?=".contains(c) || c == '@' || c == '/'
        });
    if token {
        v.to_string()
    } else {
        let clean: String = v
            .chars()
            .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
            .take(300)
            .collect();
        format!("\"{clean}\"")
    }
}

/// The message without `Authentication-Results:` fields that claim to come from
/// `authserv_id` (RFC 8601 §5: forged ones must not be believed), and how many were
/// removed.
pub fn strip_own_results(message: &[u8], authserv_id: &str) -> (Vec<u8>, usize) {
    let (fields, _) = header::split(message);
    let mut out = Vec::with_capacity(message.len());
    let mut at = 0;
    let mut removed = 0;
    for f in fields.iter().filter(|f| f.is("authentication-results")) {
        let text = f.text();
        let id = strip_comments(&text);
        let id = id.split(';').next().unwrap_or("").split_whitespace().next();
        if id.is_some_and(|i| i.eq_ignore_ascii_case(authserv_id)) {
            out.extend_from_slice(&message[at..f.start]);
            at = f.start + f.raw.len();
            removed += 1;
        }
    }
    out.extend_from_slice(&message[at..]);
    (out, removed)
}

fn strip_comments(s: &str) -> String {
    let mut depth = 0usize;
    s.chars()
        .filter(|&c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' if depth > 0 => {
                depth -= 1;
                false
            }
            _ => depth == 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_results_are_removed() {
        let m = b"Authentication-Results: MX.example.org; spf=pass\r\nAuthentication-Results: (c) other.example; dkim=pass\r\nAuthentication-Results: mx.example.org\r\n (comment); dmarc=pass\r\nSubject: x\r\n\r\nbody\r\n";
        let (out, n) = strip_own_results(m, "mx.example.org");
        assert_eq!(n, 2);
        assert_eq!(
            out,
            b"Authentication-Results: (c) other.example; dkim=pass\r\nSubject: x\r\n\r\nbody\r\n"
        );
    }
}
