//! SMTP rules in the runtime (§8.2): the rules themselves come with the configuration
//! snapshot (`config::files` reads `DIR/SMTPRULES.TXT`, the reloader re-reads it when
//! it changes); this module writes each activation the SMTP session reports.
//!
//! ```text
//! DIR/SMTPRULES.TXT          the rules, VPOP3 text format (§8.2.4)
//! DIR/log/SMTPRULES.LOG      one line per rule activation (VPOP3's SMTP rules log)
//! ```

use mailroom_core::smtprules::Activation;

use crate::platform::datadir::DataDir;
use crate::services::dlrules::{local_iso8601, unix_secs};

/// Append one activation to SMTPRULES.LOG and the main log. A failure to write is
/// logged, never fatal: the rule has already done its work.
pub fn log_activation(dd: &DataDir, a: &Activation) {
    let line = a.log_line(&local_iso8601(unix_secs()));
    crate::platform::logfile::append_line(&dd.smtp_rules_log(), &line);
    tracing::info!(
        session = %a.session,
        client = %a.client_ip,
        stage = %a.fired.stage,
        line = a.fired.line,
        rule = %a.fired.rule,
        action = %a.fired.action,
        "SMTP rule fired"
    );
}
