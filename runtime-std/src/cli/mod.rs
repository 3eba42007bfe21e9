//! The command line shared by `mailroom` and `mailroom-lite` (INTERFACE.md). Each
//! binary passes its own [`Runtime`]: its name and the function that serves.

use std::ffi::OsString;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod account_edit;
mod automail_edit;
mod config_edit;
mod deliver;
pub mod devsetup;
mod dkim;
mod forwardings;
mod ids;
mod logging;
mod mailbox;
mod mapping;
mod route;
mod user_csv;

use crate::config::files::{load_snapshot, load_snapshot_with_warnings};
use crate::config::problem::Problem;
use crate::config::users::{self, UserError};
use crate::platform::datadir::{DataDir, ACCESS_FILE_NAMES};
use crate::platform::tls;
use crate::store::spool;

/// What distinguishes one binary from the other.
pub struct Runtime {
    pub name: &'static str,
    pub serve: fn(&DataDir) -> Result<(), Box<dyn std::error::Error>>,
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Mailroom: a mail server for small offices",
    propagate_version = true
)]
struct Cli {
    /// The data directory: configuration, accounts, mail, queue, logs.
    #[arg(
        long,
        global = true,
        env = "MAILROOM_DATA",
        default_value = "./mailroom-data",
        value_name = "DIR"
    )]
    data: PathBuf,
    /// Log filter, e.g. `info`, `debug` or `mailroom_std=debug` (overrides RUST_LOG).
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server in the foreground (creates a development setup in an empty directory).
    Serve,
    /// Write a fresh configuration and the `postmaster` admin account.
    Init {
        /// The mail domain, e.g. example.com.
        #[arg(long)]
        domain: String,
        /// The server's host name (default: mail.DOMAIN).
        #[arg(long)]
        hostname: Option<String>,
        /// Password for `postmaster` (default: generated and printed once; `-` reads stdin).
        #[arg(long, value_name = "P")]
        admin_password: Option<String>,
    },
    /// Validate the configuration, account and access files.
    Check,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Look into a user's INBOX: list, show, hold, delete, move, copy, purge (USR-6).
    Mailbox {
        #[command(subcommand)]
        command: mailbox::MailboxCommand,
    },
    /// Show or manage the outbound queue.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Ask the running server to run a connection now.
    Connect {
        /// all, primary, or a connection's name.
        target: Option<String>,
        /// Show progress and return when the run ends.
        #[arg(long)]
        wait: bool,
    },
    /// Explain where mail to ADDRESS would go, without sending anything.
    Route {
        address: String,
        /// The envelope sender ("" for <>).
        #[arg(long)]
        from: Option<String>,
        /// local, smtp (the default) or pop3:INMAIL.
        #[arg(long)]
        source: Option<String>,
        /// Message size in octets, for size dependent forwarding.
        #[arg(long)]
        size: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Mappings (§5): list, import from CSV, export to CSV.
    Mapping {
        #[command(subcommand)]
        command: mapping::MappingCommand,
    },
    /// Lists and forwardings (§14): show, import forwardings.
    List {
        #[command(subcommand)]
        command: forwardings::ListCommand,
    },
    /// Route a message from standard input and store it, as the server would.
    Deliver(deliver::DeliverArgs),
    /// The IDS/IPS block list: list, block, unblock (docs/DEFENSE.md).
    Ids {
        #[command(subcommand)]
        command: ids::IdsCommand,
    },
    /// DKIM signing keys: `dkim generate --domain D --selector S`.
    Dkim {
        #[command(subcommand)]
        command: dkim::DkimCommand,
    },
    /// Send the daily summary report (§15.2.1) to the main administrator now.
    SummaryReport {
        /// The day to count, YYYY-MM-DD (default: today so far).
        #[arg(long, value_name = "DAY")]
        date: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account.
    Add {
        name: String,
        /// The password (`-` reads it from standard input).
        #[arg(long, value_name = "P")]
        password: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Send the welcome message (DIR/WELCOME.MSG) to the new user.
        #[arg(long)]
        welcome: bool,
    },
    /// Create and update accounts from a CSV file (VPOP3's user database layouts).
    Import(user_csv::Import),
    /// Write the accounts as CSV to standard output.
    Export(user_csv::Export),
    /// Lift the lock-out of an account in the running server (§4.3.1).
    Unlock { name: String },
    /// Delete an account (its mailbox is kept).
    Del { name: String },
    /// List the accounts.
    List,
    /// Change an account's routing settings and permissions (docs/ROUTING.md).
    Set(Box<account_edit::UserSet>),
    /// Show an account's settings.
    Show { name: String },
    /// Change an account's password.
    Passwd {
        name: String,
        /// The new password (`-` reads it from standard input).
        #[arg(long, value_name = "P")]
        password: String,
    },
}

#[derive(Subcommand, Debug)]
enum QueueCommand {
    /// List queued messages.
    List,
    /// Try to send queued messages now.
    Flush,
    /// Delete a queued message.
    Del { id: String },
    /// Hold a queued message: it stays in the queue, not sent until released.
    Hold { id: String },
    /// Release a held message.
    Release { id: String },
}

/// Parse the process arguments and run the command.
pub fn main(rt: Runtime) -> ExitCode {
    run(&rt, std::env::args_os())
}

/// Parse `args` (the first is the program name) and run the command.
pub fn run(rt: &Runtime, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let matches = match Cli::command()
        .name(rt.name)
        .bin_name(rt.name)
        .try_get_matches_from(args)
    {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let dd = DataDir::new(&cli.data);
    let serving = matches!(cli.command, Command::Serve);
    logging::init(
        cli.log_level.as_deref(),
        serving,
        serving.then(|| logging::main_log(&dd)).flatten(),
    );

    match cli.command {
        Command::Serve => serve(rt, &dd),
        Command::Init {
            domain,
            hostname,
            admin_password,
        } => {
            let password = match admin_password.map(read_password).transpose() {
                Ok(p) => p,
                Err(code) => return code,
            };
            match devsetup::init(&dd, &domain, hostname.as_deref(), password.as_deref()) {
                Ok(report) => {
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Check => check(&dd),
        Command::User { command } => user(&dd, command),
        Command::Queue { command } => queue(&dd, command),
        Command::Mailbox { command } => mailbox::mailbox(&dd, command),
        Command::Connect { target, wait } => connect(&dd, target.as_deref(), wait),
        Command::Route {
            address,
            from,
            source,
            size,
            json,
        } => route::route(
            &dd,
            &address,
            from.as_deref(),
            source.as_deref(),
            size,
            json,
        ),
        Command::Mapping { command } => mapping::mapping(&dd, command),
        Command::List { command } => forwardings::list(&dd, command),
        Command::Deliver(args) => deliver::deliver(&dd, args),
        Command::Ids { command } => ids::ids(&dd, command),
        Command::Dkim { command } => dkim::dkim(&dd, command),
        Command::SummaryReport { date } => summary_report(&dd, date.as_deref()),
    }
}

/// `mailroom summary-report [--date YYYY-MM-DD]`.
fn summary_report(dd: &DataDir, date: Option<&str>) -> ExitCode {
    use crate::services::summary_report as report;
    let day = match date {
        None => report::today(),
        Some(text) => {
            let mut parts = text.splitn(3, '-').map(str::parse::<u32>);
            match (parts.next(), parts.next(), parts.next()) {
                (Some(Ok(y)), Some(Ok(m)), Some(Ok(d)))
                    if (1..=12).contains(&m) && (1..=31).contains(&d) =>
                {
                    mailroom_core::schedule::clock::days_from_civil(i64::from(y), m, d)
                }
                _ => return fail(format!("--date {text:?}: use YYYY-MM-DD")),
            }
        }
    };
    let snap = match load_snapshot(dd) {
        Ok(s) => s,
        Err(p) => return report_problems(&p),
    };
    let store = match crate::store::Store::open(dd) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match report::send(dd, &store, &snap, day) {
        Ok(to) => {
            println!("sent to {to}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// `-` means "read one line from standard input", which keeps passwords out of `ps`.
fn read_password(p: String) -> Result<String, ExitCode> {
    if p != "-" {
        return Ok(p);
    }
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
        Err(e) => Err(fail(format!(
            "cannot read the password from standard input: {e}"
        ))),
    }
}

fn serve(rt: &Runtime, dd: &DataDir) -> ExitCode {
    if !dd.config_file().exists() {
        match devsetup::dev_setup(dd) {
            Ok(report) => print!("{report}"),
            Err(e) => return fail(format!("cannot create the development setup: {e}")),
        }
    }
    if let Err(problems) = load_snapshot(dd) {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!(
            "{}: not starting; fix the problems above (`{} check` lists them).",
            rt.name, rt.name
        );
        return ExitCode::FAILURE;
    }
    match (rt.serve)(dd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn check(dd: &DataDir) -> ExitCode {
    let (snapshot, warnings) = match load_snapshot_with_warnings(dd) {
        Ok(x) => x,
        Err(problems) => return report_problems(&problems),
    };
    let lan_rules = crate::services::outbound::check_lan_rules(dd);
    if !lan_rules.is_empty() {
        return report_problems(&lan_rules);
    }
    if let Err(e) = tls::server_config(dd, &snapshot.config) {
        let file = e
            .file()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dd.config_file());
        let message = e.to_string();
        // The error text already leads with the file name.
        let prefix = format!("{}: ", file.display());
        let message = message
            .strip_prefix(&prefix)
            .unwrap_or(&message)
            .to_string();
        return report_problems(&[Problem::new(file, None, message)]);
    }
    for w in &warnings {
        println!("{}", with_label(w, "warning"));
    }
    let access = &snapshot.access;
    let counts = [
        &access.smtp,
        &access.pop3,
        &access.imap,
        &access.http,
        &access.pass,
    ];
    let rules: usize = counts.iter().map(|l| l.len()).sum();
    let detail: Vec<String> = ACCESS_FILE_NAMES
        .iter()
        .zip(counts)
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| format!("{n} {}", l.len()))
        .collect();
    let users = snapshot.accounts.len();
    println!(
        "OK: {} user{}, {} access rule{}{}, local domains {}",
        users,
        if users == 1 { "" } else { "s" },
        rules,
        if rules == 1 { "" } else { "s" },
        if detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", detail.join(", "))
        },
        snapshot.config.local_domains.join(", ")
    );
    let smtp_rules = snapshot.access.smtp_rules.len();
    if smtp_rules > 0 {
        println!(
            "SMTPRULES.TXT: {smtp_rules} rule{}",
            if smtp_rules == 1 { "" } else { "s" }
        );
    }
    ExitCode::SUCCESS
}

fn with_label(p: &Problem, label: &str) -> String {
    match p.line {
        Some(l) => format!("{}:{}: {label}: {}", p.file.display(), l, p.message),
        None => format!("{}: {label}: {}", p.file.display(), p.message),
    }
}

fn report_problems(problems: &[Problem]) -> ExitCode {
    for p in problems {
        println!("{p}");
    }
    let n = problems.len();
    println!("{n} problem{} found.", if n == 1 { "" } else { "s" });
    ExitCode::FAILURE
}

fn user(dd: &DataDir, command: UserCommand) -> ExitCode {
    let result: Result<String, UserError> = match command {
        UserCommand::Import(i) => return user_csv::import(dd, i),
        UserCommand::Unlock { name } => users::read_user(dd, &name).and_then(|a| {
            crate::services::unlock_requests::request(dd, &a.name)
                .map(|()| {
                    format!(
                        "Asked the running server to unlock {}; it does so within a second.",
                        a.name
                    )
                })
                .map_err(|e| users::UserError::Io {
                    path: dd.state_dir(),
                    source: e,
                })
        }),
        UserCommand::Export(e) => return user_csv::export(dd, e),
        UserCommand::Add {
            name,
            password,
            admin,
            welcome,
        } => {
            let password = match read_password(password) {
                Ok(p) => p,
                Err(code) => return code,
            };
            // Looked at first: a new account's mailbox is made with it.
            let earlier = dd.maildir(&name.to_ascii_lowercase()).is_dir();
            users::add_user(dd, &name, &password, admin).map(|a| {
                let mut msg = format!(
                    "Created {}user {}.",
                    if a.admin { "administrator " } else { "" },
                    a.name
                );
                let mailbox = dd.maildir(&a.name);
                if earlier {
                    msg.push_str(&format!(
                        "\nNote: the existing mailbox {} (from an earlier account of this name) now belongs to {}.",
                        mailbox.display(),
                        a.name
                    ));
                }
                if welcome {
                    user_csv::welcome(dd, &a.name);
                }
                msg
            })
        }
        UserCommand::Del { name } => users::delete_user(dd, &name).map(|mailbox| {
            let name = name.to_ascii_lowercase();
            match mailbox {
                Some(m) => format!(
                    "Deleted user {name}. The mailbox {} was kept (the mail is the user's); \
                     remove it yourself once it is no longer needed.",
                    m.display()
                ),
                None => format!("Deleted user {name}."),
            }
        }),
        UserCommand::List => {
            return match users::list_users(dd) {
                Ok(list) if list.is_empty() => {
                    println!("No users.");
                    ExitCode::SUCCESS
                }
                Ok(list) => {
                    for a in list {
                        let mut line = a.name.clone();
                        if a.admin {
                            line.push_str("  (admin)");
                        }
                        if !a.comment.is_empty() {
                            line.push_str(&format!("  {}", a.comment));
                        }
                        println!("{line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(problems) => report_problems(&problems),
            }
        }
        UserCommand::Set(set) => return account_edit::user_set(dd, *set),
        UserCommand::Show { name } => return account_edit::user_show(dd, &name),
        UserCommand::Passwd { name, password } => {
            let password = match read_password(password) {
                Ok(p) => p,
                Err(code) => return code,
            };
            users::set_password(dd, &name, &password)
                .map(|()| format!("Changed the password of {}.", name.to_ascii_lowercase()))
        }
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn queue(dd: &DataDir, command: QueueCommand) -> ExitCode {
    match command {
        QueueCommand::List => match spool::list(dd) {
            Ok(list) if list.is_empty() => {
                println!("The queue is empty.");
                ExitCode::SUCCESS
            }
            Ok(list) => {
                for e in &list {
                    println!(
                        "{}  {}  {} octets  from <{}>  to {}",
                        e.id,
                        format_unix(e.arrival),
                        e.size,
                        e.from.as_deref().unwrap_or(""),
                        e.recipients
                            .iter()
                            .map(|r| format!("<{r}>"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    for line in crate::services::outbound::state::describe(dd, &e.id) {
                        println!("    {line}");
                    }
                    if crate::services::queue_hold::is_held(dd, &e.id) {
                        println!("    held: not sent until released (`queue release`)");
                    }
                }
                println!(
                    "{} message{} queued.",
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("cannot read the queue: {e}")),
        },
        QueueCommand::Flush => match crate::services::outbound::flush_from_cli(dd) {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        QueueCommand::Hold { id } => hold(dd, &id, true),
        QueueCommand::Release { id } => hold(dd, &id, false),
        QueueCommand::Del { id } => match spool::delete(dd, &id) {
            Ok(true) => {
                println!("Deleted queued message {id}.");
                ExitCode::SUCCESS
            }
            Ok(false) => fail(format!("no queued message {id}")),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                fail(format!("{id:?} is not a queue id (see `queue list`)"))
            }
            Err(e) => fail(e),
        },
    }
}

fn hold(dd: &DataDir, id: &str, held: bool) -> ExitCode {
    match crate::services::queue_hold::set_held(dd, id, held) {
        Ok(true) if held => {
            println!("Held queued message {id}; it is not sent until released.");
            ExitCode::SUCCESS
        }
        Ok(true) => {
            println!("Released queued message {id}.");
            ExitCode::SUCCESS
        }
        Ok(false) if held => fail(format!("no queued message {id}")),
        Ok(false) => fail(format!("{id} was not held")),
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            fail(format!("{id:?} is not a queue id (see `queue list`)"))
        }
        Err(e) => fail(e),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (no time zone database needed).
fn format_unix(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = crate::platform::datetime::utc_fields(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

/// `connect [all|primary|NAME] [--wait]`: a request for the running server
/// (docs/SCHEDULE.md "Triggers").
fn connect(dd: &DataDir, target: Option<&str>, wait: bool) -> ExitCode {
    let target = target.unwrap_or("primary");
    match crate::services::scheduler::control::request(dd, target, wait) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::format_unix;

    #[test]
    fn unix_time_formats_as_utc_date() {
        assert_eq!(format_unix(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_unix(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_unix(1_712_345_678), "2024-04-05 19:34:38 UTC");
    }
}
