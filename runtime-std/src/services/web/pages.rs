//! The pages' HTML (maud: every value is escaped unless marked otherwise, and nothing
//! here marks one). No inline script or style: the Content-Security-Policy forbids
//! both.

use super::{Who, ICON_PATH, STYLE_PATH};
use mailroom_core::http::Response;
use maud::{html, Markup, DOCTYPE};

pub(crate) fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " - Mailroom" }
                link rel="stylesheet" href=(STYLE_PATH);
                link rel="icon" href=(ICON_PATH) type="image/svg+xml";
            }
            body { (body) }
        }
    }
}

pub(crate) fn respond(status: u16, m: Markup) -> Response {
    let mut r = Response::new(status).body("text/html; charset=utf-8", m.into_string());
    r.status = status;
    r
}

pub(crate) fn error(status: u16, text: &str) -> Response {
    respond(
        status,
        page(
            "Error",
            html! {
                main.narrow {
                    h1 { (status) " " (mailroom_core::http::reason(status)) }
                    p { (text) }
                    p { a href="/login" { "Log in" } " · " a href="/admin/" { "Status" } }
                }
            },
        ),
    )
}

pub(crate) fn login(message: Option<&str>, user: &str) -> Response {
    respond(
        200,
        page(
            "Log in",
            html! {
                main.narrow {
                    h1 { "Mailroom" }
                    @if let Some(m) = message { p.notice.bad role="alert" { (m) } }
                    form method="post" action="/login" {
                        label { "User name" input type="text" name="user" value=(user) autocomplete="username" required autofocus; }
                        label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                        button type="submit" { "Log in" }
                    }
                }
            },
        ),
    )
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf(who: &Who) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.csrf); }
}

const NAV: [(&str, &str); 14] = [
    ("/admin/", "Status"),
    ("/admin/users", "Users"),
    ("/admin/groups", "Groups"),
    ("/admin/mappings", "Mappings"),
    ("/admin/lists", "Lists"),
    ("/admin/local-mail", "Local Mail"),
    ("/admin/inmail", "In Mail"),
    ("/admin/connections", "Connections"),
    ("/admin/schedules", "Schedules"),
    ("/admin/queue", "Queue"),
    ("/admin/rules", "Rules"),
    ("/admin/access", "Access"),
    ("/admin/settings", "Settings"),
    ("/admin/logs", "Logs"),
];

/// An admin page: navigation, the notice left by the last form, then `body`.
pub(crate) fn admin(who: &Who, current: &str, title: &str, body: Markup) -> Response {
    respond(200, framed(who, &NAV, current, title, body))
}

/// A page behind the login: the bar with `nav` (the link `current` marked) and the
/// logout form, the notice left by the last form, then `body`. Admin pages and
/// webmail share it.
pub(crate) fn framed(
    who: &Who,
    nav: &[(&str, &str)],
    current: &str,
    title: &str,
    body: Markup,
) -> Markup {
    page(
        title,
        html! {
            header {
                span.brand { "Mailroom" }
                nav {
                    @for (href, name) in nav {
                        @if *href == current { a.current href=(href) aria-current="page" { (name) } }
                        @else { a href=(href) { (name) } }
                    }
                }
                form.logout method="post" action="/logout" {
                    (csrf(who))
                    span { (who.user) }
                    button type="submit" { "Log out" }
                }
            }
            main {
                h1 { (title) }
                @if let Some(n) = &who.notice {
                    div class=(if n.ok { "notice ok" } else { "notice bad" }) role="status" {
                        @for l in &n.lines { p { (l) } }
                    }
                }
                (body)
            }
        },
    )
}
