//! DKIM (RFC 6376, with Ed25519 from RFC 8463): signing our mail, and verifying the
//! signatures of incoming mail once the runtime has fetched their keys.

use super::canon::{self, Canon};
use super::header::{self, Field};
use super::key::{self, Algorithm, KeyError, SigningKey};
use super::tags::{compact, Tags};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::SecureRandom;
use std::fmt::Write as _;

/// Signatures looked at per message; later ones are ignored (a bound on the work a
/// message can ask for: each one costs a DNS lookup and a body hash).
pub const MAX_SIGNATURES: usize = 5;

/// Header fields signed when present (RFC 6376 §5.4.1's list, plus the MIME and list
/// fields providers look at), and whether each is over-signed: listed once more than
/// it occurs (§8.15), so none can be added to the signed message without breaking the
/// signature.
const SIGNED: &[(&str, bool)] = &[
    ("from", true),
    ("sender", true),
    ("reply-to", true),
    ("subject", true),
    ("date", true),
    ("message-id", true),
    ("to", true),
    ("cc", true),
    ("mime-version", true),
    ("content-type", true),
    ("content-transfer-encoding", true),
    ("content-id", false),
    ("content-description", false),
    ("resent-date", false),
    ("resent-from", false),
    ("resent-sender", false),
    ("resent-to", false),
    ("resent-cc", false),
    ("resent-message-id", false),
    ("in-reply-to", false),
    ("references", false),
    ("list-id", false),
    ("list-help", false),
    ("list-unsubscribe", true),
    ("list-unsubscribe-post", true),
    ("list-subscribe", false),
    ("list-post", false),
    ("list-owner", false),
    ("list-archive", false),
];

/// The header fields `names` select, each name taking the last instance not yet used
/// (RFC 6376 §5.4.2); a name with none left selects nothing.
fn select<'f, 'm>(fields: &'f [Field<'m>], names: &[String]) -> Vec<&'f Field<'m>> {
    let mut used = vec![false; fields.len()];
    let mut out = Vec::new();
    for name in names {
        let hit = fields
            .iter()
            .enumerate()
            .rev()
            .find(|(i, f)| !used[*i] && f.is(name));
        if let Some((i, f)) = hit {
            used[i] = true;
            out.push(f);
        }
    }
    out
}

/// The DKIM-Signature field with the value of its `b=` tag removed (§3.7).
fn without_b(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    let (head, value) = raw.split_at((colon + 1).min(raw.len()));
    let mut out = head.to_vec();
    for (n, part) in value.split(|&b| b == b';').enumerate() {
        if n > 0 {
            out.push(b';');
        }
        match part.iter().position(|&b| b == b'=') {
            Some(eq) if trim_fws(&part[..eq]) == b"b" => out.extend_from_slice(&part[..=eq]),
            _ => out.extend_from_slice(part),
        }
    }
    out
}

fn trim_fws(s: &[u8]) -> &[u8] {
    let fws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !fws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !fws(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

fn body_hash(c: Canon, body: &[u8], limit: Option<usize>) -> Option<Vec<u8>> {
    let mut canonical = canon::body(c, body);
    if let Some(l) = limit {
        if l > canonical.len() {
            return None;
        }
        canonical.truncate(l);
    }
    Some(
        ring::digest::digest(&ring::digest::SHA256, &canonical)
            .as_ref()
            .to_vec(),
    )
}

/// Sign `message` (header and body, CRLF line ends) for `domain` with `selector`'s
/// key; `now_unix` is the `t=` stamp. Returns the `DKIM-Signature:` field to put on
/// top, with its line end.
pub fn sign(
    message: &[u8],
    domain: &str,
    selector: &str,
    key: &SigningKey,
    now_unix: u64,
    rng: &dyn SecureRandom,
) -> Result<String, KeyError> {
    let (fields, body_start) = header::split(message);
    let bh = body_hash(Canon::Relaxed, &message[body_start..], None).unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for &(name, oversign) in SIGNED {
        let n = fields.iter().filter(|f| f.is(name)).count();
        names.extend(std::iter::repeat_n(
            name.to_string(),
            n + usize::from(oversign),
        ));
    }
    let mut value = format!(
        " v=1; a={}; c=relaxed/relaxed; d={domain}; s={selector};\r\n\tt={now_unix}; h=",
        key.algorithm().tag()
    );
    let mut line = 6;
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            value.push(':');
            line += 1;
        }
        if line + n.len() > 70 {
            value.push_str("\r\n\t ");
            line = 2;
        }
        value.push_str(n);
        line += n.len();
    }
    let _ = write!(value, ";\r\n\tbh={};\r\n\tb=", B64.encode(bh));
    let field = format!("DKIM-Signature:{value}");
    let mut data = Vec::new();
    for f in select(&fields, &names) {
        canon::header(Canon::Relaxed, f.raw, &mut data);
    }
    canon::header(Canon::Relaxed, field.as_bytes(), &mut data);
    data.truncate(data.len() - 2);
    let sig = B64.encode(key.sign(&data, rng)?);
    let mut out = field;
    for (i, chunk) in sig.as_bytes().chunks(72).enumerate() {
        if i > 0 {
            out.push_str("\r\n\t ");
        }
        out.push_str(&String::from_utf8_lossy(chunk));
    }
    out.push_str("\r\n");
    Ok(out)
}

/// A DKIM result (RFC 8601 §2.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimResult {
    Pass,
    Fail(String),
    Neutral(String),
    TempError(String),
    PermError(String),
}

impl DkimResult {
    pub fn word(&self) -> &'static str {
        match self {
            DkimResult::Pass => "pass",
            DkimResult::Fail(_) => "fail",
            DkimResult::Neutral(_) => "neutral",
            DkimResult::TempError(_) => "temperror",
            DkimResult::PermError(_) => "permerror",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            DkimResult::Pass => None,
            DkimResult::Fail(r)
            | DkimResult::Neutral(r)
            | DkimResult::TempError(r)
            | DkimResult::PermError(r) => Some(r),
        }
    }
}

/// One signature, checked as far as it can be without its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// `d=`, lower case (empty when the signature could not be parsed).
    pub domain: String,
    pub selector: String,
    /// The first characters of `b=`, for `header.b` (RFC 6008).
    pub b_prefix: String,
    alg: Algorithm,
    auid_domain: Option<String>,
    data: Vec<u8>,
    signature: Vec<u8>,
    /// Decided before the key is needed (malformed, body changed, expired).
    early: Option<DkimResult>,
}

impl Pending {
    /// Where its key is published, or `None` when no key is needed.
    pub fn key_name(&self) -> Option<String> {
        self.early
            .is_none()
            .then(|| format!("{}._domainkey.{}", self.selector, self.domain))
    }

    pub fn early(&self) -> Option<&DkimResult> {
        self.early.as_ref()
    }

    /// The result given the TXT records at [`Pending::key_name`].
    pub fn finish(&self, records: &[Vec<u8>]) -> DkimResult {
        if let Some(r) = &self.early {
            return r.clone();
        }
        let mut last = DkimResult::PermError("no key for signature".into());
        for rec in records {
            match self.with_key(&String::from_utf8_lossy(rec)) {
                Ok(r) => return r,
                Err(e) => last = e,
            }
        }
        last
    }

    /// `Err` for a record that is not a usable key for this signature.
    fn with_key(&self, record: &str) -> Result<DkimResult, DkimResult> {
        let bad = |why: &str| DkimResult::PermError(why.to_string());
        let tags = Tags::parse(record).ok_or_else(|| bad("key record syntax"))?;
        if let Some(v) = tags.get("v") {
            if tags.first().map(|(k, _)| k) != Some("v") || v != "DKIM1" {
                return Err(bad("key record version"));
            }
        }
        if tags.get("k").unwrap_or("rsa") != self.alg.key_type() {
            return Err(bad("key type does not match the signature"));
        }
        if let Some(h) = tags.get("h") {
            if !h.split(':').any(|x| x.trim() == "sha256") {
                return Err(bad("key does not allow sha256"));
            }
        }
        if let Some(s) = tags.get("s") {
            if !s.split(':').any(|x| matches!(x.trim(), "*" | "email")) {
                return Err(bad("key not for email"));
            }
        }
        let flags: Vec<&str> = tags
            .get("t")
            .unwrap_or("")
            .split(':')
            .map(str::trim)
            .collect();
        if flags.contains(&"s")
            && self
                .auid_domain
                .as_deref()
                .is_some_and(|a| a != self.domain)
        {
            return Err(bad("key requires i= domain equal to d="));
        }
        let p = compact(tags.get("p").ok_or_else(|| bad("key record without p="))?);
        if p.is_empty() {
            return Ok(DkimResult::PermError("key revoked".into()));
        }
        let public = B64
            .decode(p.as_bytes())
            .map_err(|_| bad("key not base64"))?;
        if key::verify(self.alg, &public, &self.data, &self.signature) {
            Ok(DkimResult::Pass)
        } else {
            Ok(DkimResult::Fail("signature did not verify".into()))
        }
    }
}

/// The message's signatures (the first [`MAX_SIGNATURES`]), each with its body hash
/// checked and the data its signature covers computed.
pub fn prepare(message: &[u8], now_unix: u64) -> Vec<Pending> {
    let (fields, body_start) = header::split(message);
    let body = &message[body_start..];
    fields
        .iter()
        .filter(|f| f.is("dkim-signature"))
        .take(MAX_SIGNATURES)
        .map(|f| prepare_one(&fields, f, body, now_unix))
        .collect()
}

fn prepare_one(fields: &[Field<'_>], sig: &Field<'_>, body: &[u8], now: u64) -> Pending {
    let mut p = Pending {
        domain: String::new(),
        selector: String::new(),
        b_prefix: String::new(),
        alg: Algorithm::Rsa,
        auid_domain: None,
        data: Vec::new(),
        signature: Vec::new(),
        early: None,
    };
    if let Err(e) = parse_into(&mut p, fields, sig, body, now) {
        p.early = Some(e);
    }
    p
}

fn parse_into(
    p: &mut Pending,
    fields: &[Field<'_>],
    sig: &Field<'_>,
    body: &[u8],
    now: u64,
) -> Result<(), DkimResult> {
    let bad = |why: &str| DkimResult::PermError(why.to_string());
    let text = String::from_utf8_lossy(sig.value());
    let tags = Tags::parse(&text).ok_or_else(|| bad("signature syntax"))?;
    let get = |k: &str| {
        tags.get(k)
            .ok_or_else(|| bad(&format!("signature without {k}=")))
    };
    p.domain = get("d")?.trim_end_matches('.').to_ascii_lowercase();
    p.selector = get("s")?.to_ascii_lowercase();
    let b = compact(get("b")?);
    p.b_prefix = b.chars().take(8).collect();
    if get("v")? != "1" {
        return Err(bad("signature version"));
    }
    p.alg = match get("a")? {
        "rsa-sha256" => Algorithm::Rsa,
        "ed25519-sha256" => Algorithm::Ed25519,
        // RFC 8301: rsa-sha1 is no longer accepted.
        other => return Err(bad(&format!("algorithm {other} not supported"))),
    };
    let (hc, bc) = canon::parse_pair(tags.get("c")).ok_or_else(|| bad("canonicalization"))?;
    if let Some(q) = tags.get("q") {
        if !q.split(':').any(|m| m.trim() == "dns/txt") {
            return Err(bad("query method"));
        }
    }
    let names: Vec<String> = get("h")?
        .split(':')
        .map(|n| compact(n).to_ascii_lowercase())
        .collect();
    if !names.iter().any(|n| n == "from") {
        return Err(bad("From not signed"));
    }
    if p.domain.is_empty() || p.selector.is_empty() || p.selector.contains(['/', ' ']) {
        return Err(bad("bad d= or s="));
    }
    if let Some(i) = tags.get("i") {
        let d = i.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        if d != p.domain && !d.ends_with(&format!(".{}", p.domain)) {
            return Err(bad("i= not within d="));
        }
        p.auid_domain = Some(d);
    }
    let limit = match tags.get("l") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| bad("l= not a number"))?),
        None => None,
    };
    let stamp = |k: &str| -> Result<Option<u64>, DkimResult> {
        match tags.get(k) {
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| bad("bad t= or x=")),
            None => Ok(None),
        }
    };
    if let (Some(t), Some(x)) = (stamp("t")?, stamp("x")?) {
        if x < t {
            return Err(bad("x= before t="));
        }
    }
    if stamp("x")?.is_some_and(|x| x < now) {
        return Err(bad("signature expired"));
    }
    p.signature = B64.decode(b.as_bytes()).map_err(|_| bad("b= not base64"))?;
    let bh = B64
        .decode(compact(get("bh")?).as_bytes())
        .map_err(|_| bad("bh= not base64"))?;
    match body_hash(bc, body, limit) {
        None => return Err(bad("l= longer than the body")),
        Some(h) if h != bh => return Err(DkimResult::Fail("body hash did not verify".into())),
        Some(_) => {}
    }
    for f in select(fields, &names) {
        canon::header(hc, f.raw, &mut p.data);
    }
    canon::header(hc, &without_b(sig.raw), &mut p.data);
    // The signature field itself goes in without its final line end.
    if p.data.ends_with(b"\r\n") {
        p.data.truncate(p.data.len() - 2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_value_is_removed_only_from_b() {
        let f = b"DKIM-Signature: a=x; bh=abc; b=de\r\n f; d=x\r\n";
        assert_eq!(without_b(f), b"DKIM-Signature: a=x; bh=abc; b=; d=x\r\n");
    }

    #[test]
    fn sign_then_verify_ed25519() {
        let rng = ring::rand::SystemRandom::new();
        let der = key::generate_ed25519(&rng).unwrap();
        let k = SigningKey::from_pem(&key::pem_encode("PRIVATE KEY", &der)).unwrap();
        let msg =
            b"From: A <a@example.com>\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello  \r\n\r\n";
        let field = sign(msg, "example.com", "sel", &k, 1_700_000_000, &rng).unwrap();
        let mut signed = field.into_bytes();
        signed.extend_from_slice(msg);
        let p = prepare(&signed, 1_700_000_000);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].key_name().as_deref(),
            Some("sel._domainkey.example.com")
        );
        let record = k.txt_record().into_bytes();
        assert_eq!(p[0].finish(std::slice::from_ref(&record)), DkimResult::Pass);
        // Another From added on top breaks it (over-signing).
        let mut forged = b"From: evil@example.net\r\n".to_vec();
        forged.extend_from_slice(&signed);
        let p = prepare(&forged, 1_700_000_000);
        assert!(matches!(
            p[0].finish(std::slice::from_ref(&record)),
            DkimResult::Fail(_)
        ));
        // A changed body fails before any key is fetched.
        let mut changed = signed.clone();
        changed.extend_from_slice(b"more\r\n");
        let p = prepare(&changed, 1_700_000_000);
        assert!(matches!(p[0].early(), Some(DkimResult::Fail(_))));
        assert_eq!(p[0].key_name(), None);
    }
}
