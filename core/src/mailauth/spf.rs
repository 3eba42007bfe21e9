//! SPF (RFC 7208): `check_host()` for the MAIL FROM identity (the HELO identity for
//! the null sender), with the limit of 10 DNS-querying terms and 2 void lookups.
//! Not done: the `ptr` mechanism is counted but never matches (§5.5 says not to use
//! it), and `exp=` explanations are not fetched.

use super::dns::{normal, txts, Answers, Need, Reply};
use crate::dns::{Rdata, RecordKind};
use std::net::IpAddr;

/// DNS-querying terms per check (§4.6.4).
pub const MAX_LOOKUPS: u32 = 10;
/// Lookups that found nothing (§4.6.4).
pub const MAX_VOID: u32 = 2;
/// MX hosts looked at per `mx` mechanism (§4.6.4).
const MAX_MX: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError(String),
    PermError(String),
}

impl SpfResult {
    pub fn word(&self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError(_) => "temperror",
            SpfResult::PermError(_) => "permerror",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            SpfResult::TempError(r) | SpfResult::PermError(r) => Some(r),
            _ => None,
        }
    }
}

/// The identity checked: (sender address, its domain).
pub fn identity(mail_from: Option<&str>, helo: &str) -> (String, String) {
    match mail_from.filter(|m| !m.is_empty()) {
        Some(m) => match m.rsplit_once('@') {
            Some((_, d)) => (m.to_string(), normal(d)),
            None => (format!("postmaster@{m}"), normal(m)),
        },
        None => (format!("postmaster@{helo}"), normal(helo)),
    }
}

/// Evaluate SPF for a connection from `ip` with this envelope sender and HELO name.
pub fn check(
    answers: &Answers,
    ip: IpAddr,
    mail_from: Option<&str>,
    helo: &str,
) -> Result<SpfResult, Need> {
    let (sender, domain) = identity(mail_from, helo);
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let mut cx = Cx {
        answers,
        ip,
        sender,
        helo: helo.to_string(),
        lookups: 0,
        voids: 0,
    };
    if !valid_domain(&domain) {
        return Ok(SpfResult::None);
    }
    match cx.check_host(&domain) {
        Ok(r) => Ok(r),
        Err(Stop::Need(n)) => Err(n),
        Err(Stop::Result(r)) => Ok(r),
    }
}

enum Stop {
    Need(Need),
    /// Ends the whole evaluation (a limit was passed, a DNS failure).
    Result(SpfResult),
}

impl From<Need> for Stop {
    fn from(n: Need) -> Stop {
        Stop::Need(n)
    }
}

fn perm(why: impl Into<String>) -> Stop {
    Stop::Result(SpfResult::PermError(why.into()))
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

struct Cx<'a> {
    answers: &'a Answers,
    ip: IpAddr,
    sender: String,
    helo: String,
    lookups: u32,
    voids: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

impl Qualifier {
    fn result(self) -> SpfResult {
        match self {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

impl Cx<'_> {
    fn count(&mut self) -> Result<(), Stop> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            return Err(perm("more than 10 DNS lookups"));
        }
        Ok(())
    }

    /// Records of `kind` at `name`; a failure ends the check with temperror.
    fn records(&mut self, name: &str, kind: RecordKind, void: bool) -> Result<Vec<Rdata>, Stop> {
        match self.answers.get(name, kind)? {
            Reply::Records(r) => Ok(r.clone()),
            Reply::NxDomain | Reply::NoData => {
                if void {
                    self.voids += 1;
                    if self.voids > MAX_VOID {
                        return Err(perm("more than 2 void lookups"));
                    }
                }
                Ok(Vec::new())
            }
            Reply::Failed(e) => Err(Stop::Result(SpfResult::TempError(format!(
                "DNS lookup of {name} {kind} failed: {e}"
            )))),
        }
    }

    fn check_host(&mut self, domain: &str) -> Result<SpfResult, Stop> {
        let name = normal(domain);
        let txt = match self.answers.get(&name, RecordKind::Txt)? {
            Reply::Records(r) => txts(r),
            Reply::NxDomain | Reply::NoData => return Ok(SpfResult::None),
            Reply::Failed(e) => {
                return Ok(SpfResult::TempError(format!(
                    "DNS lookup of {name} TXT failed: {e}"
                )))
            }
        };
        let spf: Vec<String> = txts_spf(&txt);
        let record = match spf.as_slice() {
            [] => return Ok(SpfResult::None),
            [one] => one.clone(),
            _ => {
                return Ok(SpfResult::PermError(format!(
                    "{name}: more than one SPF record"
                )))
            }
        };
        let mut redirect = None;
        let mut directives = Vec::new();
        for term in record.split_ascii_whitespace().skip(1) {
            let eq = term.find('=');
            let sep = term.find([':', '/']);
            if let Some(eq) = eq.filter(|&e| sep.is_none_or(|s| e < s)) {
                let (k, v) = (&term[..eq], &term[eq + 1..]);
                let valid = k.starts_with(|c: char| c.is_ascii_alphabetic())
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid {
                    return Err(perm(format!("bad term {term:?}")));
                }
                if k.eq_ignore_ascii_case("redirect") {
                    if redirect.is_some() {
                        return Err(perm("two redirect= modifiers"));
                    }
                    redirect = Some(v.to_string());
                }
                continue;
            }
            directives.push(term.to_string());
        }
        for d in &directives {
            let (q, mech) = match d.as_bytes().first() {
                Some(b'+') => (Qualifier::Pass, &d[1..]),
                Some(b'-') => (Qualifier::Fail, &d[1..]),
                Some(b'~') => (Qualifier::SoftFail, &d[1..]),
                Some(b'?') => (Qualifier::Neutral, &d[1..]),
                _ => (Qualifier::Pass, d.as_str()),
            };
            if self.matches(mech, &name)? {
                return Ok(q.result());
            }
        }
        if let Some(target) = redirect {
            self.count()?;
            let target = self.expand(&target, &name)?;
            return match self.check_host(&target)? {
                SpfResult::None => Err(perm(format!("redirect to {target} without SPF record"))),
                r => Ok(r),
            };
        }
        Ok(SpfResult::Neutral)
    }

    fn matches(&mut self, mech: &str, domain: &str) -> Result<bool, Stop> {
        let split = mech.find([':', '/']).unwrap_or(mech.len());
        let name = mech[..split].to_ascii_lowercase();
        let rest = &mech[split..];
        let (spec, cidr) = match rest.strip_prefix(':') {
            Some(r) => match r.find('/') {
                Some(i) => (Some(&r[..i]), &r[i..]),
                None => (Some(r), ""),
            },
            None => (None, rest),
        };
        let target = |cx: &Cx<'_>| -> Result<String, Stop> {
            match spec {
                Some(s) => cx.expand(s, domain),
                None => Ok(domain.to_string()),
            }
        };
        match name.as_str() {
            "all" if rest.is_empty() => Ok(true),
            "include" => {
                self.count()?;
                let t = target(self)?;
                if spec.is_none() {
                    return Err(perm("include without a domain"));
                }
                match self.check_host(&t)? {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError(e) => Err(Stop::Result(SpfResult::TempError(e))),
                    SpfResult::PermError(e) => Err(perm(e)),
                    SpfResult::None => Err(perm(format!("include of {t} without SPF record"))),
                }
            }
            "a" => {
                self.count()?;
                let (v4, v6) = cidrs(cidr)?;
                let t = target(self)?;
                self.address_match(&t, v4, v6, true)
            }
            "mx" => {
                self.count()?;
                let (v4, v6) = cidrs(cidr)?;
                let t = target(self)?;
                let mx = self.records(&t, RecordKind::Mx, true)?;
                if mx.len() > MAX_MX {
                    return Err(perm(format!("{t} has more than 10 MX records")));
                }
                for r in mx {
                    if let Rdata::Mx { exchange, .. } = r {
                        if self.address_match(&exchange, v4, v6, false)? {
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            }
            "ptr" => {
                self.count()?;
                Ok(false)
            }
            "ip4" | "ip6" => {
                let Some(spec) = spec else {
                    return Err(perm(format!("{name} without an address")));
                };
                let (addr, len) = match cidr.strip_prefix('/') {
                    Some(l) => (spec, Some(l.parse::<u8>().map_err(|_| perm("bad prefix"))?)),
                    None => (spec, None),
                };
                let net: IpAddr = addr
                    .parse()
                    .map_err(|_| perm(format!("bad address {addr:?}")))?;
                match (name.as_str(), net) {
                    ("ip4", IpAddr::V4(_)) | ("ip6", IpAddr::V6(_)) => {}
                    _ => return Err(perm(format!("bad address {addr:?}"))),
                }
                let max = if net.is_ipv4() { 32 } else { 128 };
                let len = len.unwrap_or(max);
                if len > max {
                    return Err(perm("bad prefix"));
                }
                Ok(in_net(self.ip, net, len))
            }
            "exists" => {
                self.count()?;
                if spec.is_none() {
                    return Err(perm("exists without a domain"));
                }
                let t = target(self)?;
                Ok(!self.records(&t, RecordKind::A, true)?.is_empty())
            }
            _ => Err(perm(format!("unknown mechanism {mech:?}"))),
        }
    }

    fn address_match(&mut self, host: &str, v4: u8, v6: u8, void: bool) -> Result<bool, Stop> {
        let (kind, len) = match self.ip {
            IpAddr::V4(_) => (RecordKind::A, v4),
            IpAddr::V6(_) => (RecordKind::Aaaa, v6),
        };
        let records = self.records(host, kind, void)?;
        Ok(records.iter().any(|r| match r {
            Rdata::A(a) => in_net(self.ip, IpAddr::V4(*a), len),
            Rdata::Aaaa(a) => in_net(self.ip, IpAddr::V6(*a), len),
            _ => false,
        }))
    }

    /// Macro expansion (§7) of a domain-spec.
    fn expand(&self, spec: &str, domain: &str) -> Result<String, Stop> {
        let mut out = String::new();
        let mut chars = spec.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('_') => out.push(' '),
                Some('-') => out.push_str("%20"),
                Some('{') => {
                    let mut body = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if body.len() < 32 => body.push(c),
                            _ => return Err(perm("bad macro")),
                        }
                    }
                    out.push_str(&self.macro_value(&body, domain)?);
                }
                _ => return Err(perm("bad macro")),
            }
        }
        // §7.3: drop left labels until the name fits.
        let mut s = out.trim_end_matches('.').to_string();
        while s.len() > 253 {
            match s.split_once('.') {
                Some((_, rest)) => s = rest.to_string(),
                None => return Err(perm("expanded name too long")),
            }
        }
        Ok(s)
    }

    fn macro_value(&self, body: &str, domain: &str) -> Result<String, Stop> {
        let mut it = body.chars();
        let letter = it.next().ok_or_else(|| perm("bad macro"))?;
        let rest: String = it.collect();
        let value = match letter.to_ascii_lowercase() {
            's' => self.sender.clone(),
            'l' => self
                .sender
                .rsplit_once('@')
                .map_or("postmaster", |(l, _)| l)
                .to_string(),
            'o' => self
                .sender
                .rsplit_once('@')
                .map_or(domain, |(_, d)| d)
                .to_string(),
            'd' => domain.to_string(),
            'i' => match self.ip {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => a
                    .octets()
                    .iter()
                    .flat_map(|b| [b >> 4, b & 15])
                    .map(|n| format!("{n:x}"))
                    .collect::<Vec<_>>()
                    .join("."),
            },
            'p' => "unknown".to_string(),
            'v' => if self.ip.is_ipv4() { "in-addr" } else { "ip6" }.to_string(),
            'h' => self.helo.clone(),
            _ => return Err(perm(format!("macro %{{{letter}}} not allowed here"))),
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let rest = &rest[digits.len()..];
        let (reverse, delims) = match rest.strip_prefix(['r', 'R']) {
            Some(d) => (true, d),
            None => (false, rest),
        };
        if !delims.chars().all(|c| ".-+,/_=".contains(c)) {
            return Err(perm("bad macro delimiter"));
        }
        let delims: Vec<char> = if delims.is_empty() {
            vec!['.']
        } else {
            delims.chars().collect()
        };
        let mut parts: Vec<&str> = value.split(|c| delims.contains(&c)).collect();
        if reverse {
            parts.reverse();
        }
        if !digits.is_empty() {
            let n: usize = digits.parse().map_err(|_| perm("bad macro"))?;
            if n == 0 {
                return Err(perm("bad macro"));
            }
            if parts.len() > n {
                parts = parts.split_off(parts.len() - n);
            }
        }
        Ok(parts.join("."))
    }
}

fn txts_spf(txt: &[Vec<u8>]) -> Vec<String> {
    txt.iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .filter(|t| {
            let l = t.to_ascii_lowercase();
            l == "v=spf1" || l.starts_with("v=spf1 ")
        })
        .collect()
}

/// `/24`, `//64`, `/24//64`.
fn cidrs(s: &str) -> Result<(u8, u8), Stop> {
    let bad = || perm(format!("bad prefix {s:?}"));
    let (a, b) = match s.find("//") {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let v4 = match a.strip_prefix('/') {
        Some(n) => n.parse::<u8>().ok().filter(|&n| n <= 32).ok_or_else(bad)?,
        None if a.is_empty() => 32,
        None => return Err(bad()),
    };
    let v6 = match b {
        Some(n) => n.parse::<u8>().ok().filter(|&n| n <= 128).ok_or_else(bad)?,
        None => 128,
    };
    Ok((v4, v6))
}

pub fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
