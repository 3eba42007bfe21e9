//! The settings of a mailing list (`[[list]] kind = "mailing"`, §14.6): who may post,
//! moderation, subscriptions, and the `[list.options]` table of header, footer and
//! digest settings. The keys directly on the list are fixed by INTERFACE.md; the
//! options are this project's names for the manual's check boxes (docs/LISTS.md).

use serde::{Deserialize, Serialize};

/// Who may post to a mailing list (§14.6.2). The sender is the `From:` address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostPolicy {
    /// A discussion list open to everybody.
    Anyone,
    /// Only members (the usual discussion list).
    #[default]
    Members,
    /// Only moderators: an announcement list.
    Moderators,
}

impl PostPolicy {
    pub fn is_default(&self) -> bool {
        *self == PostPolicy::default()
    }
}

/// "Allow people to subscribe to the list themselves" (§14.6.1.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscribePolicy {
    Open,
    #[default]
    Closed,
}

impl SubscribePolicy {
    pub fn is_default(&self) -> bool {
        *self == SubscribePolicy::default()
    }
}

/// Which moderation method a moderated list uses (§14.6.3.3, §14.6.3.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moderation {
    /// The moderator approves by replying; `REJECT` or 14 days of silence drop it.
    #[default]
    Simple,
    /// The moderator's reply (`{Mod:list}` in the subject) is the post, edited or not.
    Flexible,
}

/// Where members' replies go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyTo {
    /// `Reply-To: list@domain` (the manual's example): replies reach the whole list.
    #[default]
    List,
    /// The header is left as the author wrote it: replies reach the author.
    Sender,
}

/// Which subscription changes the moderators are told about (§14.6.1.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    #[default]
    None,
    /// "Inform the list moderator(s) of any new subscriptions or unsubscriptions".
    All,
    /// "Inform the list moderator(s) of any unsubscriptions".
    Unsubscribe,
}

/// `[list.options]`: the rest of a mailing list's settings (§14.6.1.1, §14.6.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailingOptions {
    /// Used for remote administration and, with `post_password`, for posting.
    pub password: String,
    /// "Require a password to post": an `Approved: PASSWORD` header line.
    pub post_password: bool,
    pub moderation: Moderation,
    pub reply_to: ReplyTo,
    /// Set `Sender:` to the return address (the manual's example does).
    pub sender_header: bool,
    /// "Return Address" (where bounces go); unset = `LIST_owner@<default_domain>`.
    pub return_address: Option<String>,
    /// Text appended to single-part plain-text posts.
    pub footer: String,
    /// "Slow Message Posting": one copy per member with `To:` set to the member.
    pub slow: bool,
    /// "Verify list subscriptions": the subscriber confirms by a reply.
    pub verify: bool,
    pub notify: Notify,
    /// "Custom Welcome Message"; empty = the standard text.
    pub welcome: String,
    /// "Custom Unsubscribe Message"; empty = the standard text.
    pub goodbye: String,
    /// "Allow Remote Administration" (Moderate … EndModerate with the password).
    pub remote_admin: bool,
    /// "Allow list members to request a list of members".
    pub members_see_members: bool,
    /// "Create a digest of this list": `LIST_Digest` (§14.6.1.2.1).
    pub digest: bool,
    /// "Post digest messages every" N days.
    pub digest_days: u32,
    /// "Keep digest messages for" N days.
    pub digest_keep_days: u32,
}

impl Default for MailingOptions {
    fn default() -> Self {
        MailingOptions {
            password: String::new(),
            post_password: false,
            moderation: Moderation::Simple,
            reply_to: ReplyTo::List,
            sender_header: true,
            return_address: None,
            footer: String::new(),
            slow: false,
            verify: false,
            notify: Notify::None,
            welcome: String::new(),
            goodbye: String::new(),
            remote_admin: false,
            members_see_members: false,
            digest: false,
            digest_days: 1,
            digest_keep_days: 28,
        }
    }
}

impl MailingOptions {
    pub fn is_default(&self) -> bool {
        *self == MailingOptions::default()
    }
}

/// What is wrong with a list's mailing-list settings (`mailroom check`).
pub(crate) fn problems(l: &super::List) -> Vec<String> {
    let mut v = Vec::new();
    let mailing = l.kind == super::ListKind::Mailing;
    let uses_mailing_keys = !l.moderators.is_empty()
        || !l.post.is_default()
        || l.moderated
        || !l.subscribe.is_default()
        || l.confidential
        || !l.options.is_default();
    if !mailing {
        if uses_mailing_keys {
            v.push("moderators, post, moderated, subscribe, confidential and options are for kind = \"mailing\"".into());
        }
        return v;
    }
    if (l.moderated || l.post == PostPolicy::Moderators) && l.moderators.is_empty() {
        v.push("a moderated or moderators-only list needs moderators".into());
    }
    if (l.options.post_password || l.options.remote_admin) && l.options.password.is_empty() {
        v.push("options.post_password and options.remote_admin need options.password".into());
    }
    if l.options.digest && (l.options.digest_days == 0 || l.options.digest_keep_days == 0) {
        v.push("options.digest_days and options.digest_keep_days must be at least 1".into());
    }
    let lower = l.name.to_ascii_lowercase();
    if lower == crate::lists::LISTSERVER || lower.ends_with("_owner") || lower.ends_with("_digest")
    {
        v.push("the names listserver, *_owner and *_Digest belong to the list server".into());
    }
    v
}

/// Serde helper for the list's own boolean keys.
pub(crate) fn skip_false(b: &bool) -> bool {
    !*b
}
