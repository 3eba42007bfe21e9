//! Account names, password policy and password hashes (§4.2.1, §4.3.1).

use mailroom_core::accounts::{
    check_name, check_password, hash_password, is_valid_hash, verify_password, NameError,
    PasswordError, MAX_PASSWORD_LEN,
};
use mailroom_core::config::AccountPolicy;

#[test]
fn names_follow_the_manual() {
    for ok in [
        "a",
        "alice",
        "j.smith",
        "first_last",
        "x-1",
        "A1",
        &"z".repeat(32),
    ] {
        assert_eq!(check_name(ok), Ok(ok.to_ascii_lowercase()), "{ok}");
    }
    assert_eq!(check_name("Alice"), Ok("alice".into()));
    assert_eq!(check_name(""), Err(NameError::Empty));
    assert_eq!(check_name(&"z".repeat(33)), Err(NameError::TooLong(33)));
    assert_eq!(check_name("a b"), Err(NameError::BadChar(' ')));
    assert_eq!(check_name("a@b"), Err(NameError::BadChar('@')));
    assert_eq!(check_name("a/b"), Err(NameError::BadChar('/')));
    assert_eq!(check_name("jürgen"), Err(NameError::BadChar('ü')));
    assert_eq!(check_name(".."), Err(NameError::BadStart('.')));
    assert_eq!(check_name("-rf"), Err(NameError::BadStart('-')));
}

#[test]
fn name_errors_read_plainly() {
    let msg = check_name("a b").unwrap_err().to_string();
    assert!(msg.contains("only letters, digits"), "{msg}");
}

#[test]
fn password_policy() {
    let policy = AccountPolicy::default();
    assert_eq!(
        check_password("abcd", &policy),
        Err(PasswordError::TooShort { min: 5 })
    );
    assert_eq!(check_password("abcde", &policy), Ok(()));
    assert_eq!(check_password("pässwörd", &policy), Ok(()));
    assert_eq!(
        check_password("has space", &policy),
        Err(PasswordError::Space)
    );
    assert_eq!(
        check_password("tab\there", &policy),
        Err(PasswordError::Control)
    );
    let long = "x".repeat(MAX_PASSWORD_LEN + 1);
    assert_eq!(check_password(&long, &policy), Err(PasswordError::TooLong));
    assert_eq!(check_password(&long[1..], &policy), Ok(()));

    let strict = AccountPolicy {
        min_password_length: 12,
        ..AccountPolicy::default()
    };
    assert_eq!(
        check_password("elevenchars", &strict),
        Err(PasswordError::TooShort { min: 12 })
    );
    let lax = AccountPolicy {
        min_password_length: 1,
        ..AccountPolicy::default()
    };
    assert_eq!(check_password("x", &lax), Ok(()));
    assert_eq!(
        check_password("", &lax),
        Err(PasswordError::TooShort { min: 1 })
    );
}

#[test]
fn hash_then_verify() {
    let phc = hash_password("correct horse", &[7u8; 16]).expect("hash");
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(is_valid_hash(&phc));
    assert!(verify_password(&phc, "correct horse"));
    assert!(!verify_password(&phc, "correct horsE"));
    assert!(!verify_password(&phc, ""));
}

#[test]
fn salt_changes_the_hash() {
    let a = hash_password("secret", &[1u8; 16]).expect("hash");
    let b = hash_password("secret", &[2u8; 16]).expect("hash");
    assert_ne!(a, b);
    assert!(verify_password(&b, "secret"));
}

#[test]
fn malformed_hashes_never_verify() {
    for bad in [
        "",
        "secret",
        "$argon2id$garbage",
        "$2b$12$abcdefghijklmnopqrstuv",
    ] {
        assert!(!verify_password(bad, "secret"), "{bad}");
        assert!(!is_valid_hash(bad), "{bad}");
    }
}
