//! DMARC (RFC 7489): the policy record at `_dmarc.<From domain>` (falling back to the
//! organizational domain's), identifier alignment, and the result.
//!
//! The organizational domain is found by a short built-in rule rather than the whole
//! Public Suffix List: the last two labels, or the last three when the last two are
//! a known shared suffix such as `co.uk` (docs/MAILAUTH.md).

use super::dns::{normal, txts, Answers, Need, Reply};
use super::tags::Tags;
use crate::dns::RecordKind;

/// Two-label public suffixes under which registrations are made at the third level.
const SHARED_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "sch.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz", "co.jp",
    "ne.jp", "or.jp", "ac.jp", "go.jp", "co.za", "org.za", "com.br", "net.br", "org.br", "com.cn",
    "net.cn", "org.cn", "com.mx", "com.ar", "com.tr", "co.in", "net.in", "org.in", "co.kr",
    "or.kr", "com.sg", "com.hk", "com.tw", "co.il", "com.pl", "co.id", "com.my", "com.ua", "co.at",
    "or.at",
];

pub fn org_domain(domain: &str) -> String {
    let d = normal(domain);
    let labels: Vec<&str> = d.split('.').collect();
    let n = labels.len();
    if n <= 2 {
        return d;
    }
    let last_two = labels[n - 2..].join(".");
    let keep = if SHARED_SUFFIXES.contains(&last_two.as_str()) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(keep)..].join(".")
}

/// Alignment of an authenticated domain with the From domain.
pub fn aligned(domain: &str, from: &str, strict: bool) -> bool {
    let (d, f) = (normal(domain), normal(from));
    if strict {
        d == f
    } else {
        org_domain(&d) == org_domain(&f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    None,
    Quarantine,
    Reject,
}

impl Disposition {
    fn parse(s: &str) -> Option<Disposition> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Disposition::None),
            "quarantine" => Some(Disposition::Quarantine),
            "reject" => Some(Disposition::Reject),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Disposition::None => "none",
            Disposition::Quarantine => "quarantine",
            Disposition::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub p: Disposition,
    pub sp: Option<Disposition>,
    pub adkim_strict: bool,
    pub aspf_strict: bool,
}

/// A DMARC record, or `None` when the text is not one (§6.6.3: such records are
/// ignored).
pub fn parse_record(text: &str) -> Option<Policy> {
    let tags = Tags::parse(text)?;
    if tags.first()? != ("v", "DMARC1") {
        return None;
    }
    // §6.6.3: a record with rua= but a bad or missing p= counts as p=none.
    let p = match tags.get("p").and_then(Disposition::parse) {
        Some(p) => p,
        None if tags.get("rua").is_some() => Disposition::None,
        None => return None,
    };
    Some(Policy {
        p,
        sp: tags.get("sp").and_then(Disposition::parse),
        adkim_strict: tags.get("adkim") == Some("s"),
        aspf_strict: tags.get("aspf") == Some("s"),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmarcResult {
    None,
    Pass,
    Fail,
    TempError(String),
    PermError(String),
}

impl DmarcResult {
    pub fn word(&self) -> &'static str {
        match self {
            DmarcResult::None => "none",
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::TempError(_) => "temperror",
            DmarcResult::PermError(_) => "permerror",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: DmarcResult,
    /// The policy that applies to this From domain (p=, or sp= for a subdomain), when
    /// a record was found.
    pub policy: Option<Disposition>,
    pub from_domain: Option<String>,
}

/// What the SPF and DKIM checks found, as DMARC needs it.
pub struct Evidence<'a> {
    /// The SPF result is pass, for this domain.
    pub spf_pass: Option<&'a str>,
    /// SPF could not be decided (temperror).
    pub spf_temp: bool,
    /// The `d=` of each passing DKIM signature.
    pub dkim_pass: Vec<&'a str>,
    /// Some signature's key could not be fetched (temperror).
    pub dkim_temp: bool,
}

/// The policy record for `from`: its own, or else its organizational domain's.
fn find_policy(
    answers: &Answers,
    from: &str,
) -> Result<Result<Option<(Policy, bool)>, String>, Need> {
    let org = org_domain(from);
    let mut names = vec![(from.to_string(), false)];
    if org != from {
        names.push((org, true));
    }
    for (name, inherited) in names {
        let q = format!("_dmarc.{name}");
        match answers.get(&q, RecordKind::Txt)? {
            Reply::Records(r) => {
                let found: Vec<Policy> = txts(r)
                    .iter()
                    .filter_map(|t| parse_record(&String::from_utf8_lossy(t)))
                    .collect();
                if let [one] = found.as_slice() {
                    return Ok(Ok(Some((one.clone(), inherited))));
                }
            }
            Reply::NxDomain | Reply::NoData => {}
            Reply::Failed(e) => return Ok(Err(format!("DNS lookup of {q} failed: {e}"))),
        }
    }
    Ok(Ok(None))
}

pub fn evaluate(
    answers: &Answers,
    from: Result<&str, &str>,
    ev: &Evidence<'_>,
) -> Result<Outcome, Need> {
    let from = match from {
        Ok(f) => normal(f),
        Err(why) => {
            return Ok(Outcome {
                result: DmarcResult::PermError(why.to_string()),
                policy: None,
                from_domain: None,
            })
        }
    };
    let (policy, inherited) = match find_policy(answers, &from)? {
        Err(e) => {
            return Ok(Outcome {
                result: DmarcResult::TempError(e),
                policy: None,
                from_domain: Some(from),
            })
        }
        Ok(None) => {
            return Ok(Outcome {
                result: DmarcResult::None,
                policy: None,
                from_domain: Some(from),
            })
        }
        Ok(Some(p)) => p,
    };
    let applies = if inherited {
        policy.sp.unwrap_or(policy.p)
    } else {
        policy.p
    };
    let spf_ok = ev
        .spf_pass
        .is_some_and(|d| aligned(d, &from, policy.aspf_strict));
    let dkim_ok = ev
        .dkim_pass
        .iter()
        .any(|d| aligned(d, &from, policy.adkim_strict));
    let result = if spf_ok || dkim_ok {
        DmarcResult::Pass
    } else if ev.spf_temp || ev.dkim_temp {
        // It might have passed had DNS answered: not a failure to act on for good.
        DmarcResult::TempError("SPF or DKIM could not be checked".into())
    } else {
        DmarcResult::Fail
    };
    Ok(Outcome {
        result,
        policy: Some(applies),
        from_domain: Some(from),
    })
}

/// The domain of the message's one From address, or why there is none.
pub fn from_domain(fields: &[super::header::Field<'_>]) -> Result<String, String> {
    let froms: Vec<_> = fields.iter().filter(|f| f.is("from")).collect();
    let [from] = froms.as_slice() else {
        return Err(format!("{} From fields", froms.len()));
    };
    let text = from.text();
    let mut domains: Vec<String> = Vec::new();
    for part in split_addresses(&text) {
        let addr = match (part.rfind('<'), part.rfind('>')) {
            (Some(a), Some(b)) if a < b => &part[a + 1..b],
            _ => part.trim(),
        };
        if let Some((_, d)) = addr.rsplit_once('@') {
            let d = normal(d.trim());
            if !d.is_empty() && !domains.contains(&d) {
                domains.push(d);
            }
        }
    }
    match domains.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("no domain in From".into()),
        _ => Err("From names several domains".into()),
    }
}

/// Split a From value at the commas between addresses (not inside quotes or <>).
fn split_addresses(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_domains_and_alignment() {
        assert_eq!(org_domain("mail.example.com"), "example.com");
        assert_eq!(org_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(org_domain("example.com."), "example.com");
        assert!(aligned("mail.example.com", "example.com", false));
        assert!(!aligned("mail.example.com", "example.com", true));
        assert!(!aligned("example.net", "example.com", false));
    }

    #[test]
    fn records() {
        let p = parse_record("v=DMARC1; p=reject; sp=none; adkim=s").unwrap();
        assert_eq!(p.p, Disposition::Reject);
        assert_eq!(p.sp, Some(Disposition::None));
        assert!(p.adkim_strict && !p.aspf_strict);
        assert!(parse_record("p=reject; v=DMARC1").is_none());
        assert!(parse_record("v=DMARC1").is_none());
        assert_eq!(
            parse_record("v=DMARC1; p=bogus; rua=mailto:x@y").unwrap().p,
            Disposition::None
        );
    }
}
