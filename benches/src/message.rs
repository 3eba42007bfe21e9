//! Test messages of an exact size, as a mail client would submit them.

/// A message of exactly `size` octets (or just its header, if that is longer), CRLF line
/// ends, whose `Subject:` and `Message-Id:` carry `token` so it can be found again.
/// No line starts with `.`, so the SMTP form is the message plus `.\r\n`.
pub fn message(size: usize, token: &str) -> Vec<u8> {
    let mut m = header(
        &format!("load {token}"),
        &format!("{token}@load.example.com"),
    );
    // Body lines of 76 letters, the last one shortened so the total is exact.
    let mut i = 0usize;
    while m.len() + 2 < size {
        let room = size - m.len() - 2;
        let len = room.min(76);
        m.extend((0..len).map(|k| b'a' + ((i + k) % 26) as u8));
        m.extend_from_slice(b"\r\n");
        i += 1;
    }
    m
}

/// The header of a message from Alice to Bob with this subject and Message-Id (without
/// its angle brackets), and the blank line after it.
pub fn header(subject: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\n\
         To: Bob <bob@example.com>\r\n\
         Subject: {subject}\r\n\
         Message-Id: <{message_id}>\r\n\
         Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\
         \r\n"
    )
    .into_bytes()
}

/// The DATA form of `msg`: lines starting with `.` get another `.`, then the final
/// `.\r\n`. `msg` must end with CRLF.
pub fn dot_stuff(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_the_requested_size() {
        for size in [0, 100, 220, 4096, 4097, 65536] {
            let m = message(size, "t1");
            assert!(m.ends_with(b"\r\n"));
            if size > 300 {
                assert_eq!(m.len(), size, "size {size}");
            }
            assert!(!m.split(|&b| b == b'\n').any(|l| l.starts_with(b".")));
        }
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_only() {
        assert_eq!(
            dot_stuff(b".a\r\nb.\r\n..\r\n"),
            b"..a\r\nb.\r\n...\r\n.\r\n"
        );
    }
}
