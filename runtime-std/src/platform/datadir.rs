//! The data directory: where every file lives. Only this module knows the layout.
//!
//! ```text
//! DIR/mailroom.toml          configuration
//! DIR/users/NAME.toml        one file per account
//! DIR/access/*ALLOWED.DAT    access restriction files (VPOP3 format, §11.9.1)
//! DIR/tls/cert.pem, key.pem  certificate (generated for the development setup)
//! DIR/mail/USER/             Maildir per account (new/ cur/ tmp/)
//! DIR/spool/                 outbound queue
//! DIR/state/                 state that must survive restarts
//! DIR/log/                   logs
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("mailroom.toml")
    }

    pub fn users_dir(&self) -> PathBuf {
        self.root.join("users")
    }

    pub fn access_dir(&self) -> PathBuf {
        self.root.join("access")
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.root.join("mail")
    }

    /// The Maildir of one account (name already validated and lower-cased).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.mail_dir().join(user)
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// The seen-UID books of the In Mails (POP3 collection), one book and one
    /// journal per In Mail.
    pub fn seen_dir(&self) -> PathBuf {
        self.state_dir().join("seen")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }

    /// A path from the config, relative to the data directory unless absolute.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }
}
