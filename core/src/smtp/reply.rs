//! A fixed SMTP refusal (code, enhanced status code, text), as policy decides it and
//! the session writes it with [`crate::wire::write::code_status`].

/// A fixed negative reply: code, enhanced status code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub status: &'static str,
    pub text: &'static str,
}

impl Refusal {
    pub const fn new(code: u16, status: &'static str, text: &'static str) -> Refusal {
        Refusal { code, status, text }
    }
}
