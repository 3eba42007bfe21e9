//! Mailbox quotas (§4.3.3, issue 15): the warning levels a mailbox's size crosses
//! (80, 100 and 120 % of its quota, each warned once per crossing), the warning
//! mail, and the sending block above 120 %. Incoming mail is never refused for a
//! full mailbox (the manual: incoming messages must never be lost).

use crate::dsn::MailHead;
use crate::servermail::{compose, Auto, Compose};

/// The warning levels, percent of the quota.
pub const LEVELS: [u8; 3] = [80, 100, 120];

/// Above this percentage the user may not send (SMTP submission is refused).
pub const BLOCK_SENDING_ABOVE: u64 = 120;

/// The highest level `used` has reached (0 = under 80 %, or no quota).
pub fn level(used: u64, quota: u64) -> u8 {
    if quota == 0 {
        return 0;
    }
    let pct = u128::from(used) * 100 / u128::from(quota);
    LEVELS
        .iter()
        .rev()
        .find(|&&l| pct >= u128::from(l))
        .copied()
        .unwrap_or(0)
}

/// The level to warn about when the size went from level `before` to `now`: only a
/// rise warns (once per crossing; falling back below a level re-arms it).
pub fn crossing(before: u8, now: u8) -> Option<u8> {
    (now > before).then_some(now)
}

/// Whether a user whose mailbox holds `used` octets may send mail.
pub fn may_send(used: u64, quota: u64) -> bool {
    quota == 0 || u128::from(used) * 100 <= u128::from(quota) * u128::from(BLOCK_SENDING_ABOVE)
}

/// The warning mail for `level` (`head.to` is the user's address).
pub fn warning(head: MailHead<'_>, level: u8, used: u64, quota: u64) -> Vec<u8> {
    let subject = format!("Your mailbox is at {level}% of its quota");
    let mut text = format!(
        "Your mailbox holds {} of its quota of {} ({}%).\n\n",
        size(used),
        size(quota),
        u128::from(used) * 100 / u128::from(quota.max(1))
    );
    if u64::from(level) >= BLOCK_SENDING_ABOVE {
        text.push_str(
            "You cannot send mail until you delete some messages. Mail sent to you is\n\
             still delivered.\n",
        );
    } else {
        text.push_str(&format!(
            "Please delete messages you no longer need. Above {BLOCK_SENDING_ABOVE}% of the quota you will\n\
             not be able to send mail; mail sent to you is always delivered.\n"
        ));
    }
    compose(&Compose {
        head,
        from: None,
        subject: &subject,
        auto: Auto::Generated,
        extra: Vec::new(),
        text: &text,
        html: false,
        attachments: &[],
    })
}

fn size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1024.0),
        n => format!("{n} octets"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Instant;

    #[test]
    fn levels_and_crossings() {
        assert_eq!(level(79, 100), 0);
        assert_eq!(level(80, 100), 80);
        assert_eq!(level(100, 100), 100);
        assert_eq!(level(119, 100), 100);
        assert_eq!(level(120, 100), 120);
        assert_eq!(level(10_000, 100), 120);
        assert_eq!(level(10_000, 0), 0);
        assert_eq!(level(u64::MAX, u64::MAX), 100);
        assert_eq!(crossing(0, 80), Some(80));
        assert_eq!(crossing(80, 80), None);
        assert_eq!(crossing(0, 120), Some(120));
        assert_eq!(crossing(120, 80), None);
        assert!(may_send(120, 100));
        assert!(!may_send(121, 100));
        assert!(may_send(u64::MAX, 0));
    }

    #[test]
    fn the_warning_mail() {
        let m = warning(
            MailHead {
                hostname: "mail.company.com",
                default_domain: "company.com",
                to: "fred@company.com",
                date: Instant::from_secs(1_700_000_000),
                id: "q1",
            },
            120,
            1300,
            1000,
        );
        let s = String::from_utf8(m).unwrap();
        assert!(s.contains("From: Mailer_Daemon <Mailer_Daemon@company.com>\r\n"));
        assert!(s.contains("Subject: Your mailbox is at 120% of its quota\r\n"));
        assert!(s.contains("(130%)"));
        assert!(s.contains("You cannot send mail"));
    }
}
