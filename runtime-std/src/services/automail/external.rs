//! Running an external autoresponder program (§4.2.3.2.2): the message on its stdin,
//! the manual's environment variables, a control file named as its one argument,
//! stdout and stderr read (bounded), killed after `[autoresponder]
//! external_timeout_secs` (60 by default). The SMTP reply for the message waits for
//! it; that is within the 10 minutes RFC 5321 gives a server after DATA, and the
//! program's `Keep: 0` can then still keep the message out of the mailbox.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant as StdInstant};

use mailroom_core::autoresponder::{
    self, external, Answer, Env, Incoming, Mailbox, SentLog, Silence,
};
use mailroom_core::config::Snapshot;

use crate::platform::datadir::DataDir;

/// Run the program of `mb` for `inc` and turn its output into an answer.
pub fn answer(
    dd: &DataDir,
    snap: &Snapshot,
    inc: &Incoming<'_>,
    mb: &Mailbox<'_>,
    env: &Env<'_>,
    log: &SentLog,
) -> Answer {
    let silent = |why| Answer {
        reply: None,
        copy: None,
        keep: true,
        remember: None,
        silence: Some(why),
    };
    if let Some(why) = autoresponder::suppressed(inc, mb, env) {
        return silent(why);
    }
    let sender = inc.return_path.unwrap_or("");
    if mb.settings.once && log.answered(sender, env.now, env.local_offset_secs, mb.settings.clear) {
        return silent(Silence::AlreadyAnswered);
    }
    let vars = external::environment(inc, mb);
    let timeout = Duration::from_secs(u64::from(
        snap.config.autoresponder.external_timeout_secs.max(1),
    ));
    match run(
        dd,
        &mb.settings.command,
        mb.name,
        &vars,
        inc.message,
        timeout,
    ) {
        Ok((out, err)) => {
            let mut a = external::answer(inc, mb, &out, &err);
            if mb.settings.once && a.reply.is_some() {
                a.remember = Some(sender.to_string());
            }
            a
        }
        Err(e) => {
            tracing::error!(user = mb.name, command = %mb.settings.command, "external autoresponder failed: {e}");
            Answer {
                reply: None,
                copy: None,
                keep: true,
                remember: None,
                silence: None,
            }
        }
    }
}

fn run(
    dd: &DataDir,
    command: &str,
    user: &str,
    vars: &[(&'static str, String)],
    message: &[u8],
    timeout: Duration,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let control_dir = dd.state_dir().join("autoresponder");
    std::fs::create_dir_all(&control_dir).map_err(|e| e.to_string())?;
    let control = control_dir.join(format!("{user}.{}.ctl", std::process::id()));
    let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&control, text).map_err(|e| e.to_string())?;
    // Run directly, not through a shell: a shell would drop `REPLY-TO`, which is
    // not a valid shell variable name.
    let words = split_command(command);
    let Some((program, args)) = words.split_first() else {
        return Err("the command is empty".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .arg(&control)
        .current_dir(dd.root())
        .env("MAILBOXDIR", dd.maildir(user))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    // Its own process group, so the kill at the time limit reaches whatever the
    // program started too (a child holding stdout would otherwise keep us waiting).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let mut stdin = child.stdin.take();
    let input = message.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            // A program that does not read its input closes the pipe: not an error.
            let _ = s.write_all(&input);
        }
    });
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(r) = r {
                let _ = r.take(external::MAX_OUTPUT as u64).read_to_end(&mut v);
            }
            v
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let start = StdInstant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() >= timeout => {
                if let Ok(pid) = i32::try_from(child.id()) {
                    // SAFETY: kill(2) with a negative pid signals that process group
                    // (the child's own, made at spawn); no memory is involved.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let _ = writer.join();
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let _ = std::fs::remove_file(&control);
    match status {
        None => Err(format!("killed after {} s", timeout.as_secs())),
        Some(s) if !s.success() => Err(format!("exited with {s}")),
        Some(_) => Ok((out, err)),
    }
}

/// A command line as words: blanks separate, double quotes group (the manual's
/// `"c:\\program files\\perl\\bin\\perl.exe" script.pl`).
fn split_command(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_words() {
        assert_eq!(
            super::split_command(r#""/opt/my perl/perl" respond.pl  -x"#),
            vec!["/opt/my perl/perl", "respond.pl", "-x"]
        );
        assert!(super::split_command("  ").is_empty());
    }
}
