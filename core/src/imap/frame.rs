//! Bytes → whole IMAP messages (a command line and its literals), bounded.
//!
//! IMAP is not a line protocol: a command may carry literals (`{n}` then n octets
//! of anything, CR and LF included), so [`crate::wire::LineReader`] cannot frame it.
//! imap-codec's `Fragmentizer` splits the stream into lines and literals and announces
//! each literal when its line ends, before any of its octets are read; this module
//! decides there whether to take it, and bounds what the `Fragmentizer` may hold:
//! input is handed to it in small pieces, and a line that grows past
//! `max_command_line` is cut off at once.

use imap_codec::fragmentizer::{FragmentInfo, Fragmentizer};
use imap_codec::imap_types::core::LiteralMode;

/// Input handed to the `Fragmentizer` at a time, so one long line cannot make it
/// hold more than `max_line` plus this before the line bound is checked.
const PIECE: usize = 4096;

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame {
    /// A whole message is in [`Framer::message`].
    Message,
    /// A synchronizing literal was accepted: send `+ ` now.
    Continue,
    /// A literal larger than `max_literal` was announced. For a synchronizing literal
    /// the rest of the message is skipped (the client sends nothing more of it); a
    /// non-synchronizing one (LITERAL+) is on its way, so the session must close.
    TooBig { sync: bool, tag: Option<String> },
    /// A line passed `max_line`: the session must close (its rest cannot be told from
    /// the next command).
    LineTooLong { tag: Option<String> },
}

#[derive(Debug)]
pub(super) struct Framer {
    frag: Fragmentizer,
    /// Input not yet handed to the `Fragmentizer`.
    input: Vec<u8>,
    /// Where the line being read starts in the current message.
    line_start: usize,
    in_literal: bool,
    max_line: usize,
    max_literal: u32,
}

impl Framer {
    pub(super) fn new(max_line: usize, max_literal: u32) -> Framer {
        Framer {
            frag: Fragmentizer::new(message_bound(max_line, max_literal)),
            input: Vec::new(),
            line_start: 0,
            in_literal: false,
            max_line,
            max_literal,
        }
    }

    /// Input waiting to be framed.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// Throw away everything not yet framed (after STARTTLS: possible injection).
    pub(super) fn reset(&mut self) {
        *self = Framer::new(self.max_line, self.max_literal);
    }

    /// The whole current message (after [`Frame::Message`]).
    pub(super) fn message(&self) -> &[u8] {
        self.frag.message_bytes()
    }

    pub(super) fn fragmentizer(&self) -> &Fragmentizer {
        &self.frag
    }

    fn tag(&self) -> Option<String> {
        self.frag
            .decode_tag()
            .map(|t| t.as_ref().to_owned())
            .filter(|t| t.len() <= 64)
    }

    /// Frame as far as the input allows; `None` when more input is needed.
    pub(super) fn next(&mut self) -> Option<Frame> {
        loop {
            let Some(info) = self.frag.progress() else {
                if !self.in_literal
                    && self
                        .frag
                        .message_bytes()
                        .len()
                        .saturating_sub(self.line_start)
                        > self.max_line
                {
                    return Some(Frame::LineTooLong { tag: self.tag() });
                }
                if self.input.is_empty() {
                    return None;
                }
                let n = self.input.len().min(PIECE);
                self.frag.enqueue_bytes(&self.input[..n]);
                self.input.drain(..n);
                continue;
            };
            match info {
                FragmentInfo::Line {
                    end, announcement, ..
                } => {
                    if end.saturating_sub(self.line_start) > self.max_line {
                        return Some(Frame::LineTooLong { tag: self.tag() });
                    }
                    self.line_start = end;
                    match announcement {
                        None => {
                            self.line_start = 0;
                            return Some(Frame::Message);
                        }
                        Some(a) if a.length > self.max_literal => {
                            let sync = a.mode == LiteralMode::Sync;
                            let tag = self.tag();
                            if sync {
                                // The client waits for `+`; nothing more of this
                                // message comes, so it can be dropped here.
                                self.frag.skip_message();
                                self.line_start = 0;
                            }
                            return Some(Frame::TooBig { sync, tag });
                        }
                        Some(a) => {
                            self.in_literal = true;
                            if a.mode == LiteralMode::Sync {
                                return Some(Frame::Continue);
                            }
                        }
                    }
                }
                FragmentInfo::Literal { end, .. } => {
                    self.in_literal = false;
                    self.line_start = end;
                }
            }
        }
    }
}

/// What one message may hold: a literal at the bound and some lines around it. A
/// message with several literals that together pass this is refused at decoding.
fn message_bound(max_line: usize, max_literal: u32) -> u32 {
    let lines = u32::try_from(max_line.saturating_mul(4)).unwrap_or(u32::MAX);
    max_literal.saturating_add(lines)
}
