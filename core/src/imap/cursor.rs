//! A byte cursor over one whole command (literals included) for the command forms
//! imap-codec does not parse (`append.rs`, `listext.rs`): atoms, quoted strings,
//! literals, with RFC 3501's character rules.

/// The text of a BAD for a command these parsers cannot read.
pub(super) const SYNTAX: &str = "Error in IMAP command arguments";

pub(super) struct Cursor<'a> {
    b: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Cursor { b, at: 0 }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    pub(super) fn eat(&mut self, byte: u8) -> bool {
        let ok = self.peek() == Some(byte);
        if ok {
            self.at += 1;
        }
        ok
    }

    pub(super) fn expect(&mut self, byte: u8) -> Result<(), &'static str> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(SYNTAX)
        }
    }

    pub(super) fn peek_word(&self, word: &[u8]) -> bool {
        self.b
            .get(self.at..self.at + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    }

    /// Only the line end is left.
    pub(super) fn at_end(&self) -> bool {
        matches!(&self.b[self.at.min(self.b.len())..], b"\r\n" | b"\n" | b"")
    }

    pub(super) fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(&ok) {
            self.at += 1;
        }
        &self.b[start..self.at]
    }

    /// An atom (RFC 3501 ATOM-CHAR, `]` allowed as in astring).
    pub(super) fn atom(&mut self) -> Option<&'a [u8]> {
        let a = self.take_while(|c| {
            c > b' ' && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\')
        });
        (!a.is_empty()).then_some(a)
    }

    /// A flag: an atom, or `\` and an atom.
    pub(super) fn flag(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        self.eat(b'\\');
        self.atom()?;
        Some(&self.b[start..self.at])
    }

    pub(super) fn quoted(&mut self) -> Option<Vec<u8>> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.at += 1;
                    out.push(self.peek().filter(|c| matches!(c, b'"' | b'\\'))?);
                }
                b'\r' | b'\n' => return None,
                c => out.push(c),
            }
            self.at += 1;
        }
    }

    /// `{n}`, `{n+}` or `~{n}` and its CRLF, then n octets (the framer has checked n
    /// against the literal limit). `true` for a literal8.
    pub(super) fn literal(&mut self) -> Option<(&'a [u8], bool)> {
        let eight = self.eat(b'~');
        if !self.eat(b'{') {
            return None;
        }
        let digits = self.take_while(|c| c.is_ascii_digit());
        let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
        self.eat(b'+');
        if !self.eat(b'}') {
            return None;
        }
        self.eat(b'\r');
        if !self.eat(b'\n') {
            return None;
        }
        let data = self.b.get(self.at..self.at.checked_add(n)?)?;
        if !eight && data.contains(&0) {
            return None;
        }
        self.at += n;
        Some((data, eight))
    }

    /// A LIST pattern as an atom: atom characters, `%`, `*` and `]`.
    pub(super) fn list_atom(&mut self) -> Option<&'a [u8]> {
        let a = self.take_while(|c| {
            c > b' ' && c < 0x7f && !matches!(c, b'(' | b')' | b'{' | b'"' | b'\\')
        });
        (!a.is_empty()).then_some(a)
    }

    /// A LIST pattern: quoted, literal or [`Self::list_atom`].
    pub(super) fn list_mailbox(&mut self) -> Option<Vec<u8>> {
        match self.peek()? {
            b'"' | b'{' | b'~' => self.astring(),
            _ => self.list_atom().map(<[u8]>::to_vec),
        }
    }

    pub(super) fn astring(&mut self) -> Option<Vec<u8>> {
        match self.peek()? {
            b'"' => self.quoted(),
            b'{' | b'~' => self.literal().map(|(d, _)| d.to_vec()),
            _ => self.atom().map(<[u8]>::to_vec),
        }
    }
}
