//! DKIM keys: the signing keys read from PEM (PKCS#8, or PKCS#1 for RSA), the public
//! key record to publish, and verification with a key from DNS. The arithmetic is
//! ring's; the runtime passes in the random source RSA signing needs.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::rand::SecureRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Ed25519,
    Rsa,
}

impl Algorithm {
    /// The `a=` tag value.
    pub fn tag(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519-sha256",
            Algorithm::Rsa => "rsa-sha256",
        }
    }

    /// The key record's `k=` value.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::Rsa => "rsa",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no PEM key block found")]
    NoPem,
    #[error("bad base64 in the PEM block")]
    Base64,
    #[error("not an Ed25519 or RSA private key ({0})")]
    Rejected(String),
    #[error("signing failed")]
    Sign,
}

pub enum SigningKey {
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({:?})", self.algorithm())
    }
}

impl SigningKey {
    /// A key from a PEM file's text: `PRIVATE KEY` (PKCS#8, Ed25519 or RSA) or
    /// `RSA PRIVATE KEY` (PKCS#1).
    pub fn from_pem(text: &str) -> Result<SigningKey, KeyError> {
        let (label, der) = pem_block(text)?;
        if label == "RSA PRIVATE KEY" {
            return RsaKeyPair::from_der(&der)
                .map(SigningKey::Rsa)
                .map_err(|e| KeyError::Rejected(e.to_string()));
        }
        match Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der) {
            Ok(k) => Ok(SigningKey::Ed25519(k)),
            Err(_) => RsaKeyPair::from_pkcs8(&der)
                .map(SigningKey::Rsa)
                .map_err(|e| KeyError::Rejected(e.to_string())),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::Ed25519(_) => Algorithm::Ed25519,
            SigningKey::Rsa(_) => Algorithm::Rsa,
        }
    }

    /// Sign the canonical header data: RSA-SHA256 signs it directly, Ed25519 signs its
    /// SHA-256 digest (RFC 8463 §3).
    pub fn sign(&self, data: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, KeyError> {
        match self {
            SigningKey::Ed25519(k) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, data);
                Ok(k.sign(digest.as_ref()).as_ref().to_vec())
            }
            SigningKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, rng, data, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
        }
    }

    /// The DNS TXT record to publish at `<selector>._domainkey.<domain>`.
    pub fn txt_record(&self) -> String {
        let p = match self {
            SigningKey::Ed25519(k) => B64.encode(k.public_key().as_ref()),
            SigningKey::Rsa(k) => B64.encode(rsa_spki(k.public_key().as_ref())),
        };
        format!("v=DKIM1; k={}; p={p}", self.algorithm().key_type())
    }
}

/// The first PEM block's label and contents.
pub fn pem_block(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let mut label = None;
    let mut b64 = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            label = Some(l.to_string());
            b64.clear();
        } else if line.starts_with("-----END ") {
            if let Some(l) = label {
                let der = B64.decode(b64.as_bytes()).map_err(|_| KeyError::Base64)?;
                return Ok((l, der));
            }
        } else if label.is_some() && !line.contains(':') {
            b64.push_str(line);
        }
    }
    Err(KeyError::NoPem)
}

/// PEM text for DER bytes.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// A fresh Ed25519 key as PKCS#8 DER.
pub fn generate_ed25519(rng: &dyn SecureRandom) -> Result<Vec<u8>, KeyError> {
    Ed25519KeyPair::generate_pkcs8(rng)
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| KeyError::Rejected(e.to_string()))
}

const RSA_ALGORITHM_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// SubjectPublicKeyInfo around a PKCS#1 RSAPublicKey: what `openssl` publishes and
/// every verifier reads.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    let mut bits = vec![0x03];
    der_len(pkcs1.len() + 1, &mut bits);
    bits.push(0);
    bits.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_len(RSA_ALGORITHM_ID.len() + bits.len(), &mut out);
    out.extend_from_slice(RSA_ALGORITHM_ID);
    out.extend_from_slice(&bits);
    out
}

/// One DER element: (tag, contents, rest).
fn der_next(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = d.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The RSAPublicKey inside a SubjectPublicKeyInfo, or the input when it is not one
/// (RFC 6376 §3.6.1 allows either form in `p=`).
fn rsa_public_pkcs1(p: &[u8]) -> &[u8] {
    let inner = || -> Option<&[u8]> {
        let (tag, seq, _) = der_next(p)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, alg, rest) = der_next(seq)?;
        if tag != 0x30 || !RSA_ALGORITHM_ID.ends_with(alg) {
            return None;
        }
        let (tag, bits, _) = der_next(rest)?;
        if tag != 0x03 {
            return None;
        }
        bits.strip_prefix(&[0])
    };
    inner().unwrap_or(p)
}

/// Check a signature with a public key from a DKIM key record.
pub fn verify(alg: Algorithm, public: &[u8], data: &[u8], sig: &[u8]) -> bool {
    match alg {
        Algorithm::Ed25519 => {
            let digest = ring::digest::digest(&ring::digest::SHA256, data);
            UnparsedPublicKey::new(&signature::ED25519, public)
                .verify(digest.as_ref(), sig)
                .is_ok()
        }
        // RFC 8301 §3.2: keys of 1024 bits and up; ring refuses smaller ones.
        Algorithm::Rsa => UnparsedPublicKey::new(
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            rsa_public_pkcs1(public),
        )
        .verify(data, sig)
        .is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_round_trip() {
        // Tests may draw entropy; core's code never does (the runtime passes it in).
        let rng = ring::rand::SystemRandom::new();
        let der = generate_ed25519(&rng).unwrap();
        let pem = pem_encode("PRIVATE KEY", &der);
        let key = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Ed25519);
        let sig = key.sign(b"data", &rng).unwrap();
        let SigningKey::Ed25519(k) = &key else {
            panic!()
        };
        assert!(verify(
            Algorithm::Ed25519,
            k.public_key().as_ref(),
            b"data",
            &sig
        ));
        assert!(!verify(
            Algorithm::Ed25519,
            k.public_key().as_ref(),
            b"datb",
            &sig
        ));
        assert!(key.txt_record().starts_with("v=DKIM1; k=ed25519; p="));
        assert!(SigningKey::from_pem("nothing").is_err());
    }
}
