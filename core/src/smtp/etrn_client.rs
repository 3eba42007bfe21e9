//! The ETRN client (RFC 1985): connect to the ISP's server, `EHLO`, `ETRN <domain>`
//! for each domain, `QUIT`. Used when a connection comes up (§6.3.3.1). Replies are
//! read with [`ReplyReader`], like the SMTP client's.

use crate::wire::{contract, write, Clock, Ending, ReplyReader};
use crate::{Input, Instant, Machine, Output};
use std::time::Duration;

/// Time allowed for each reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// The server's answer to one `ETRN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtrnReply {
    pub domain: String,
    pub code: u16,
    pub text: String,
}

impl EtrnReply {
    /// 250–253: the server started (or had nothing to start).
    pub fn accepted(&self) -> bool {
        (250..=253).contains(&self.code)
    }
}

/// The session's result: each domain's reply, or why the session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtrnEvent {
    Done(Result<Vec<EtrnReply>, String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Ehlo,
    Helo,
    Etrn(usize),
    Quit,
    Finished,
}

pub struct EtrnClient {
    helo: String,
    domains: Vec<String>,
    state: State,
    reader: ReplyReader,
    out: Vec<u8>,
    replies: Vec<EtrnReply>,
    result: Option<Result<Vec<EtrnReply>, String>>,
    ending: Ending,
    deadline: Instant,
    clock: Clock,
}

impl EtrnClient {
    /// `helo`: our host name; `domains`: one `ETRN` each.
    pub fn new(now: Instant, helo: &str, domains: Vec<String>) -> EtrnClient {
        EtrnClient {
            helo: helo.to_string(),
            domains,
            state: State::Greeting,
            reader: ReplyReader::default(),
            out: Vec::new(),
            replies: Vec::new(),
            result: None,
            ending: Ending::default(),
            deadline: now + REPLY_TIMEOUT,
            clock: Clock::new(now),
        }
    }

    fn fail(&mut self, why: String) {
        if self.result.is_none() {
            self.result = Some(Err(why));
        }
        self.state = State::Finished;
    }

    fn send(&mut self, line: &str) {
        write::line(&mut self.out, line);
    }

    fn send_etrn(&mut self, i: usize) {
        let cmd = format!("ETRN {}", self.domains[i]);
        self.send(&cmd);
        self.state = State::Etrn(i);
    }

    fn after_hello(&mut self) {
        if self.domains.is_empty() {
            self.send("QUIT");
            self.state = State::Quit;
        } else {
            self.send_etrn(0);
        }
    }

    fn on_reply(&mut self, code: u16, text: String) {
        match self.state {
            State::Greeting if code == 220 => {
                let cmd = format!("EHLO {}", self.helo);
                self.send(&cmd);
                self.state = State::Ehlo;
            }
            State::Greeting => self.fail(format!("the server refused us: {code} {text}")),
            State::Ehlo if code == 250 => self.after_hello(),
            State::Ehlo if (500..600).contains(&code) => {
                let cmd = format!("HELO {}", self.helo);
                self.send(&cmd);
                self.state = State::Helo;
            }
            State::Helo if code == 250 => self.after_hello(),
            State::Ehlo | State::Helo => self.fail(format!(
                "the server did not accept our greeting: {code} {text}"
            )),
            State::Etrn(i) => {
                let domain = self.domains[i].clone();
                self.replies.push(EtrnReply { domain, code, text });
                if i + 1 < self.domains.len() {
                    self.send_etrn(i + 1);
                } else {
                    self.send("QUIT");
                    self.state = State::Quit;
                }
            }
            State::Quit => {
                self.result = Some(Ok(std::mem::take(&mut self.replies)));
                self.state = State::Finished;
            }
            State::Finished => {}
        }
    }

    /// Read replies out of `input`, split anywhere.
    fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() && self.state != State::Finished {
            let (n, reply) = self.reader.feed(input);
            input = &input[n..];
            match reply {
                None => {}
                Some(Ok(r)) => {
                    let text = r.lines.join(" ");
                    self.on_reply(r.code, text);
                }
                Some(Err(e)) => self.fail(format!("not an SMTP reply: {e}")),
            }
        }
    }
}

impl Machine for EtrnClient {
    type Command = ();
    type Event = EtrnEvent;

    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        let now = self.clock.see(now);
        if self.state == State::Finished {
            return;
        }
        match input {
            Input::Bytes(b) => {
                self.deadline = now + REPLY_TIMEOUT;
                self.feed(b);
            }
            Input::Eof => {
                if self.state == State::Quit {
                    // The answers are in; a server that hangs up on QUIT is fine.
                    self.result = Some(Ok(std::mem::take(&mut self.replies)));
                    self.state = State::Finished;
                } else {
                    self.fail("the server closed the connection".into());
                }
            }
            Input::Tick => {
                if now >= self.deadline {
                    self.fail("the server did not answer in time".into());
                }
            }
        }
    }

    /// The session asks nothing of its driver: every command is a stray.
    fn handle_command(&mut self, _now: Instant, _cmd: ()) {
        contract::stray("ETRN client");
    }

    fn poll_output(&mut self, out: &mut Vec<u8>) -> Output<EtrnEvent> {
        if let Some(o) = self.ending.poll() {
            return o;
        }
        out.append(&mut self.out);
        if self.state == State::Finished {
            self.ending.close();
            let r = self
                .result
                .take()
                .unwrap_or_else(|| Err("no result".into()));
            return Output::Event(EtrnEvent::Done(r));
        }
        Output::Wait(Some(self.deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(server: &[&str]) -> (String, Result<Vec<EtrnReply>, String>) {
        let mut c = EtrnClient::new(
            Instant::ZERO,
            "office.example",
            vec!["example.com".into(), "example.org".into()],
        );
        let mut sent = Vec::new();
        let mut result = None;
        let pump = |c: &mut EtrnClient, sent: &mut Vec<u8>, result: &mut Option<_>| loop {
            match c.poll_output(sent) {
                Output::Event(EtrnEvent::Done(r)) => *result = Some(r),
                Output::Wait(_) | Output::Close => break,
                Output::StartTls => unreachable!(),
            }
        };
        for reply in server {
            // One byte at a time: replies split anywhere.
            for b in reply.as_bytes() {
                c.handle_input(Instant::ZERO, Input::Bytes(std::slice::from_ref(b)));
                pump(&mut c, &mut sent, &mut result);
            }
        }
        c.handle_input(Instant::ZERO, Input::Eof);
        pump(&mut c, &mut sent, &mut result);
        (String::from_utf8(sent).unwrap(), result.unwrap())
    }

    #[test]
    fn sends_one_etrn_per_domain() {
        let (sent, r) = run(&[
            "220 isp ESMTP\r\n",
            "250-isp\r\n250 ETRN\r\n",
            "250 Queuing started\r\n",
            "458 Unable to queue messages for node example.org\r\n",
            "221 bye\r\n",
        ]);
        assert_eq!(
            sent,
            "EHLO office.example\r\nETRN example.com\r\nETRN example.org\r\nQUIT\r\n"
        );
        let r = r.unwrap();
        assert!(r[0].accepted());
        assert_eq!(r[1].code, 458);
        assert!(!r[1].accepted());
    }

    #[test]
    fn falls_back_to_helo_and_reports_refusals() {
        let (sent, r) = run(&[
            "220 old\r\n",
            "500 what\r\n",
            "250 ok\r\n",
            "251 none\r\n",
            "252 started\r\n",
            "221 bye\r\n",
        ]);
        assert!(sent.starts_with("EHLO office.example\r\nHELO office.example\r\nETRN"));
        assert_eq!(r.unwrap().len(), 2);
        let (_, r) = run(&["554 go away\r\n"]);
        assert!(r.unwrap_err().contains("554"));
        let (_, r) = run(&["220 x\r\n", "250 x\r\n"]);
        assert!(r.unwrap_err().contains("closed"));
    }

    #[test]
    fn times_out_without_answers() {
        let mut c = EtrnClient::new(Instant::ZERO, "h", vec!["d.example".into()]);
        let mut out = Vec::new();
        assert!(matches!(c.poll_output(&mut out), Output::Wait(Some(_))));
        c.handle_input(Instant::ZERO + REPLY_TIMEOUT, Input::Tick);
        assert!(matches!(
            c.poll_output(&mut out),
            Output::Event(EtrnEvent::Done(Err(_)))
        ));
        assert!(matches!(c.poll_output(&mut out), Output::Close));
    }
}
