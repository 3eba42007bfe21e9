//! The web admin (issue 13; docs/WEB.md): requests from the HTTP session machine
//! (`mailroom_core::http`) in, responses out. Webmail (`/mail/`) will sit beside it
//! with the same login, session table and headers.
//!
//! Security model, in the order a request meets it: only `/login` and the stylesheet
//! are served without a session; a session is a random id in an HttpOnly,
//! SameSite=Lax cookie (Secure over HTTPS), bound to the client address of its login,
//! ended after `[web] session_idle_minutes` idle, and replaced by a fresh id at every
//! login; every POST must come from this site (`Origin`, else `Referer`) and carry the
//! session's CSRF token; `/admin/` needs the admin flag (others get 403); every
//! response has the headers of [`secure`]. Logins go through the same lock-out as the
//! mail protocols (the caller's `login`).

mod admin;
mod mail;
mod mailbox;
mod pages;
mod sections;
mod settings;
pub mod state;
mod user_csv;
mod user_perms;

use crate::config::edit::EditError;
use crate::config::files::load_snapshot;
use crate::platform::datadir::DataDir;
use crate::services::app::Shared;
use mailroom_core::auth::AuthOutcome;
use mailroom_core::config::Config;
use mailroom_core::http::form::{cookie, Form};
use mailroom_core::http::session::{token_matches, Notice, COOKIE};
use mailroom_core::http::{HttpLimits, Request, Response};
use mailroom_core::Instant;
use state::WebState;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where the stylesheet is served from.
pub const STYLE_PATH: &str = "/static/style.css";
/// Where the icon is served from (browsers also ask for `/favicon.ico`).
pub const ICON_PATH: &str = "/static/favicon.svg";

/// The static assets, embedded in the binary: served without a session, with an ETag.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        STYLE_PATH,
        "text/css; charset=utf-8",
        include_str!("style.css"),
    ),
    (ICON_PATH, "image/svg+xml", include_str!("favicon.svg")),
    ("/favicon.ico", "image/svg+xml", include_str!("favicon.svg")),
];

/// The client of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub ip: IpAddr,
    /// HTTPS: cookies get `Secure`, and `Origin` must say `https`.
    pub tls: bool,
}

/// What the pages need from the running server.
pub struct Hooks<'a> {
    /// Check a user name and password through the server's shared lock-out.
    pub login: &'a dyn Fn(&str, &str) -> AuthOutcome,
    /// Make the server see a change at once (a user just added can log in on the
    /// next request), not at the reloader's next look.
    pub reload: &'a dyn Fn(),
}

/// Body limits per route, known from the head: forms are small, a pasted mapping CSV
/// or a rules file larger; nothing else has a body.
pub fn body_limit(method: &str, path: &str) -> usize {
    match (method, path) {
        (
            "POST",
            "/admin/mappings/import"
            | "/admin/users/import"
            | "/admin/rules"
            | "/admin/access"
            | "/admin/settings",
        ) => 1 << 20,
        ("POST", p) if p.starts_with("/mail/") => mail::body_limit(p),
        ("POST", _) => 16 * 1024,
        _ => 0,
    }
}

/// The HTTP session's limits under `config`.
pub fn limits(config: &Config) -> HttpLimits {
    HttpLimits {
        head_timeout: Duration::from_secs(u64::from(config.web.request_timeout_secs.max(1))),
        idle_timeout: Duration::from_secs(u64::from(config.web.idle_timeout_secs.max(1))),
        body_limit,
        ..HttpLimits::default()
    }
}

fn web_state(dd: &DataDir, config: &Config) -> Arc<WebState> {
    let idle = Duration::from_secs(u64::from(config.web.session_idle_minutes.max(1)) * 60);
    state::for_data_dir(dd.root(), idle, config.web.max_sessions.max(1) as usize)
}

/// A random token (session id, CSRF token): 32 bytes from the system, URL-safe.
fn token() -> Option<String> {
    use base64::Engine;
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// The logged-in user of a request.
pub(crate) struct Who {
    pub id: String,
    pub user: String,
    pub admin: bool,
    pub csrf: String,
    pub notice: Option<Notice>,
}

/// What one request is served with.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub dd: DataDir,
    pub web: Arc<WebState>,
    pub req: &'a Request,
    pub client: Client,
    pub now: Instant,
}

impl Ctx<'_> {
    /// Redirect after a POST, leaving `notice` for the page it leads to.
    pub fn done(&self, who: &Who, to: &str, ok: bool, lines: Vec<String>) -> Response {
        if !lines.is_empty() {
            self.web
                .sessions()
                .set_notice(&who.id, Notice { ok, lines });
        }
        redirect(to)
    }
}

/// What a form did: whether it worked, the lines to show, the page to go on to.
pub(crate) type Outcome = (bool, Vec<String>, String);

pub(crate) fn done(to: &str, r: Result<String, String>) -> Outcome {
    let to = to.to_string();
    match r {
        Ok(m) => (true, vec![m], to),
        Err(e) => (false, e.lines().map(str::to_string).collect(), to),
    }
}

pub(crate) fn edit_outcome(to: &str, r: Result<(), EditError>, ok: String) -> Outcome {
    let to = to.to_string();
    match r {
        Ok(()) => (true, vec![ok], to),
        Err(EditError::Io(e)) => (false, vec![e], to),
        Err(EditError::Problems(p)) => {
            let mut lines =
                vec!["Not changed: the configuration would not pass `mailroom check`:".to_string()];
            lines.extend(p.iter().map(ToString::to_string));
            (false, lines, to)
        }
    }
}

/// Answer one request.
pub fn serve(shared: &Arc<Shared>, req: &Request, client: Client, hooks: &Hooks<'_>) -> Response {
    let snap = shared.snapshot();
    let dd = shared.store.data_dir().clone();
    let ctx = Ctx {
        shared,
        web: web_state(&dd, &snap.config),
        dd,
        req,
        client,
        now: crate::platform::clock::now(),
    };
    // MAILHTTPALLOWED.DAT (§11.9): an address no line lets in gets nothing but this.
    if !snap.access.http.may_connect(client.ip) {
        tracing::info!(peer = %client.ip, "web: refused by MAILHTTPALLOWED.DAT");
        let mut r = pages::error(403, "Access denied.");
        r.close = true;
        return secure(r, false);
    }
    let response = route(&ctx, hooks);
    secure(response, asset(req.path()).is_some())
}

/// The headers every response carries. Pages behind the login are never cached. A
/// response that set its own policy (webmail's message frame, stricter still) keeps it.
fn secure(mut r: Response, asset: bool) -> Response {
    let own = |name: &str| r.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let (own_policy, own_framing) = (own("Content-Security-Policy"), own("X-Frame-Options"));
    let fixed = [
        (
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ];
    for (k, v) in fixed {
        if (own_policy && k == "Content-Security-Policy") || (own_framing && k == "X-Frame-Options")
        {
            continue;
        }
        r.headers.push((k.to_string(), v.to_string()));
    }
    if !asset {
        r.headers
            .push(("Cache-Control".to_string(), "no-store".to_string()));
    }
    r
}

pub(crate) fn redirect(to: &str) -> Response {
    Response::new(303).header("Location", to)
}

fn session_cookie(id: &str, client: Client, max_age: Option<u64>) -> String {
    let mut c = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    if client.tls {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// The session a request's cookie names, if it is alive and from this client.
fn who(ctx: &Ctx<'_>) -> Option<Who> {
    let id = cookie(ctx.req.header("cookie")?, COOKIE)?;
    let mut sessions = ctx.web.sessions();
    let s = match sessions.get(id, ctx.client.ip, ctx.now) {
        Ok(s) => s,
        Err(why) => {
            tracing::info!(peer = %ctx.client.ip, "web: session cookie refused: {why:?}");
            return None;
        }
    };
    let (user, admin, csrf) = (s.user.clone(), s.admin, s.csrf.clone());
    let notice = sessions.take_notice(id);
    Some(Who {
        id: id.to_string(),
        user,
        admin,
        csrf,
        notice,
    })
}

/// A POST comes from a page of this site: `Origin` (or, without it, `Referer`) names
/// this host. Browsers send `Origin` with every form POST.
fn same_origin(ctx: &Ctx<'_>) -> bool {
    let Some(host) = ctx.req.header("host") else {
        return false;
    };
    let scheme = if ctx.client.tls { "https" } else { "http" };
    let origin = format!("{scheme}://{host}");
    if let Some(o) = ctx.req.header("origin") {
        return o.eq_ignore_ascii_case(&origin);
    }
    match ctx.req.header("referer") {
        Some(r) => {
            r.len() > origin.len()
                && r.is_char_boundary(origin.len())
                && r[..origin.len()].eq_ignore_ascii_case(&origin)
                && r[origin.len()..].starts_with('/')
        }
        None => false,
    }
}

fn route(ctx: &Ctx<'_>, hooks: &Hooks<'_>) -> Response {
    let (method, path) = (ctx.req.method.as_str(), ctx.req.path());
    let get = method == "GET" || method == "HEAD";
    if let Some((content_type, body)) = asset(path) {
        return if get {
            serve_asset(ctx.req, content_type, body)
        } else {
            not_allowed("GET")
        };
    }
    if method == "POST" && !same_origin(ctx) {
        tracing::warn!(peer = %ctx.client.ip, path, "web: POST from another origin refused");
        return pages::error(403, "This form did not come from this server's pages.");
    }
    if path == "/login" {
        return match method {
            "GET" | "HEAD" => match who(ctx) {
                Some(w) => redirect(home(&w)),
                None => pages::login(None, ""),
            },
            "POST" => log_in(ctx, hooks.login),
            _ => not_allowed("GET, POST"),
        };
    }
    let Some(who) = who(ctx) else {
        return if get {
            redirect("/login")
        } else {
            pages::error(403, "Log in first.")
        };
    };
    if method == "POST" {
        let (form, files) = mail::posted(ctx.req);
        if !token_matches(&who.csrf, form.text("csrf")) {
            tracing::warn!(peer = %ctx.client.ip, user = %who.user, path, "web: CSRF token missing or wrong");
            return pages::error(
                403,
                "The form is out of date; reload the page and try again.",
            );
        }
        if path == "/logout" {
            ctx.web.sessions().remove(&who.id);
            tracing::info!(user = %who.user, peer = %ctx.client.ip, "web logout");
            return redirect("/login")
                .header("Set-Cookie", session_cookie("", ctx.client, Some(0)));
        }
        if let Some(rest) = path.strip_prefix("/admin/") {
            if !who.admin {
                return pages::error(403, "This page is for administrators.");
            }
            let response = admin::post(ctx, &who, rest, &form);
            (hooks.reload)();
            return response;
        }
        if let Some(rest) = path.strip_prefix("/mail/") {
            return mail::post(ctx, &who, rest, &form, files, hooks);
        }
        return pages::error(404, "No such page.");
    }
    if !get {
        return not_allowed("GET, POST");
    }
    if path == "/" {
        return redirect(home(&who));
    }
    if path == "/admin" {
        return redirect("/admin/");
    }
    if let Some(rest) = path.strip_prefix("/admin/") {
        if !who.admin {
            return pages::error(403, "This page is for administrators.");
        }
        return admin::get(ctx, &who, rest);
    }
    if path == "/mail" {
        return redirect("/mail/");
    }
    if let Some(rest) = path.strip_prefix("/mail/") {
        return mail::get(ctx, &who, rest);
    }
    pages::error(404, "No such page.")
}

fn home(who: &Who) -> &'static str {
    if who.admin {
        "/admin/"
    } else {
        "/mail/"
    }
}

fn not_allowed(allow: &str) -> Response {
    pages::error(405, "Method not allowed.").header("Allow", allow)
}

fn log_in(ctx: &Ctx<'_>, login: &dyn Fn(&str, &str) -> AuthOutcome) -> Response {
    let form = Form::parse(&ctx.req.body);
    let (user, password) = (form.text("user"), form.get("password").unwrap_or(""));
    if user.is_empty() || password.is_empty() {
        return pages::login(Some("Enter your name and password."), user).status(400);
    }
    let snap = ctx.shared.snapshot();
    if !snap.access.http.check(ctx.client.ip, Some(user)).allowed {
        tracing::info!(peer = %ctx.client.ip, user, "web: login refused by MAILHTTPALLOWED.DAT");
        return pages::login(Some("This account may not log in from your address."), user)
            .status(403);
    }
    let name = match login(user, password) {
        AuthOutcome::Ok(name) => name,
        AuthOutcome::Locked => {
            return pages::login(
                Some("This account is locked after too many failed logins; try again later or ask an administrator."),
                user,
            )
            .status(403)
        }
        _ => return pages::login(Some("Wrong name or password."), user).status(403),
    };
    // The admin flag as on disk now, not as the snapshot had it a second ago.
    let admin = load_snapshot(&ctx.dd)
        .ok()
        .and_then(|s| s.accounts.get(&name).map(|a| a.admin))
        .unwrap_or(false);
    let (Some(id), Some(csrf)) = (token(), token()) else {
        tracing::error!("web: no entropy for a session id");
        return pages::error(500, "The server cannot start a session now.");
    };
    let mut sessions = ctx.web.sessions();
    // A fresh id at every login: an id planted before login is worth nothing.
    if let Some(old) = ctx.req.header("cookie").and_then(|c| cookie(c, COOKIE)) {
        sessions.remove(old);
    }
    sessions.create(id.clone(), csrf, &name, admin, ctx.client.ip, ctx.now);
    drop(sessions);
    tracing::info!(user = %name, admin, peer = %ctx.client.ip, "web login");
    let to = if admin { "/admin/" } else { "/mail/" };
    redirect(to).header("Set-Cookie", session_cookie(&id, ctx.client, None))
}

fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, t, b)| (*t, *b))
}

/// A strong ETag: the first 96 bits of the content's SHA-256.
fn etag(body: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
    let hex: String = d.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

fn serve_asset(req: &Request, content_type: &str, body: &str) -> Response {
    let etag = etag(body);
    let cached = req
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let r = if cached {
        Response::new(304)
    } else {
        Response::new(200).body(content_type, body.as_bytes().to_vec())
    };
    r.header("ETag", etag)
        .header("Cache-Control", "public, max-age=0, must-revalidate")
}

/// Give a response another status (the same page, another outcome).
trait WithStatus {
    fn status(self, status: u16) -> Self;
}

impl WithStatus for Response {
    fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}
