//! ETRN in the daemon: the server side's answer (held mail for a downstream server)
//! and the client sent when a connection comes up.

use crate::datadir::DataDir;
use crate::store::spool;

/// A downstream server sent `ETRN domain`: count the queued messages for it and ask
/// for them to be sent. Until the outbound queue exists (issue 5) the messages stay
/// in the spool; the answer still tells the downstream server how many wait.
pub fn release(dir: &DataDir, domain: &str) -> Result<usize, String> {
    let entries = spool::list(dir).map_err(|e| format!("cannot read the queue: {e}"))?;
    let suffix = format!("@{}", domain.to_ascii_lowercase());
    let n = entries
        .iter()
        .filter(|e| {
            e.recipients
                .iter()
                .any(|r| r.to_ascii_lowercase().ends_with(&suffix))
        })
        .count();
    tracing::info!(
        domain,
        messages = n,
        "ETRN: delivery of held mail requested"
    );
    Ok(n)
}
