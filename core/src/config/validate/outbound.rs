//! Checks for `[outbound]`, `[dns]`, `[lan_forward]` and the Out Mail options of each
//! `[connection.outmail]`.

use super::{check_domain_name, Errors, Index, Key};
use crate::address::Mailbox;
use crate::config::{Config, OutMethod, OutTls, ReturnAddress, TlsVerify};
use crate::outbound::DomainFilter;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub(super) fn check(e: &mut Errors<'_>, cfg: &Config) {
    outbound(e, cfg);
    dns(e, cfg);
    lan_forward(e, cfg);
    outmails(e, cfg);
}

fn at_least(e: &mut Errors<'_>, table: &'static str, key: &'static str, v: Duration, min: u64) {
    if v < Duration::from_secs(min) {
        e.at(
            &[Key(table), Key(key)],
            format!("[{table}] {key} is too short; the least is {min}s"),
        );
    }
}

fn outbound(e: &mut Errors<'_>, cfg: &Config) {
    let o = &cfg.outbound;
    at_least(e, "outbound", "retry", o.retry.0, 60);
    at_least(e, "outbound", "warn_after", o.warn_after.0, 60);
    at_least(e, "outbound", "bounce_after", o.bounce_after.0, 600);
    at_least(e, "outbound", "connect_timeout", o.connect_timeout.0, 1);
    at_least(e, "outbound", "timeout", o.timeout.0, 10);
    at_least(e, "outbound", "data_timeout", o.data_timeout.0, 10);
    if o.warn_after >= o.bounce_after {
        e.at(
            &[Key("outbound"), Key("warn_after")],
            "[outbound] warn_after must be shorter than bounce_after (a warning after the bounce says nothing)",
        );
    }
    for (k, v, max) in [
        ("max_sessions", o.max_sessions, 500),
        ("per_destination", o.per_destination, 100),
    ] {
        if v == 0 || v > max {
            e.at(
                &[Key("outbound"), Key(k)],
                format!("[outbound] {k} = {v}: use 1 to {max}"),
            );
        }
    }
    if o.direct_port == 0 {
        e.at(
            &[Key("outbound"), Key("direct_port")],
            "[outbound] direct_port cannot be 0",
        );
    }
    if let Some(h) = &o.helo_name {
        if let Err(why) = check_domain_name(h) {
            e.at(
                &[Key("outbound"), Key("helo_name")],
                format!("[outbound] helo_name {why}"),
            );
        }
    }
}

/// A DNS server: an IP address, optionally with a port.
pub(crate) fn dns_server(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    s.parse::<SocketAddr>().ok()
}

fn dns(e: &mut Errors<'_>, cfg: &Config) {
    let d = &cfg.dns;
    for (i, s) in d.servers.iter().enumerate() {
        if dns_server(s).is_none() {
            e.at(
                &[Key("dns"), Key("servers"), Index(i)],
                format!("[dns] servers: {s:?} is not an IP address (with an optional :port)"),
            );
        }
    }
    at_least(e, "dns", "timeout", d.timeout.0, 1);
    if d.timeout.0 > Duration::from_secs(60) {
        e.at(
            &[Key("dns"), Key("timeout")],
            "[dns] timeout is longer than the limit of 60s",
        );
    }
    if d.attempts == 0 || d.attempts > 10 {
        e.at(
            &[Key("dns"), Key("attempts")],
            format!("[dns] attempts = {}: use 1 to 10", d.attempts),
        );
    }
    if d.cache_size > 1_000_000 {
        e.at(
            &[Key("dns"), Key("cache_size")],
            "[dns] cache_size is more than 1000000",
        );
    }
}

fn lan_forward(e: &mut Errors<'_>, cfg: &Config) {
    let l = &cfg.lan_forward;
    at_least(e, "lan_forward", "retry", l.retry.0, 60);
    at_least(e, "lan_forward", "fail_after", l.fail_after.0, 600);
    for (k, v) in [("threads", l.threads), ("per_target", l.per_target)] {
        if v == 0 || v > 100 {
            e.at(
                &[Key("lan_forward"), Key(k)],
                format!("[lan_forward] {k} = {v}: use 1 to 100"),
            );
        }
    }
    for (target, n) in &l.limits {
        if *n == 0 || *n > 100 || !target.contains(':') {
            e.at(
                &[Key("lan_forward"), Key("limits")],
                format!("[lan_forward] limits: \"{target}\" = {n}: write \"host:port\" = 1 to 100"),
            );
        }
    }
}

fn outmails(e: &mut Errors<'_>, cfg: &Config) {
    for (i, c) in cfg.connections.iter().enumerate() {
        let Some(o) = &c.outmail else { continue };
        let at = |k: &'static str| [Key("connection"), Index(i), Key("outmail"), Key(k)];
        let who = format!("[[connection]] {:?}", c.name.trim());
        if o.max_recipients > 10_000 {
            e.at(
                &at("max_recipients"),
                format!("{who}: max_recipients is more than 10000"),
            );
        }
        if let Err(why) = DomainFilter::parse(&o.domain_filter) {
            e.at(
                &at("domain_filter"),
                format!("{who}: domain_filter entry {why}"),
            );
        }
        if let Some(r) = &o.return_address {
            let a = match r {
                ReturnAddress::Always(a) | ReturnAddress::NonLocal(a) => a,
            };
            if Mailbox::parse(a).is_err() {
                e.at(
                    &at("return_address"),
                    format!("{who}: return_address {a:?} is not an address"),
                );
            }
        }
        if o.tls == OutTls::Off && o.tls_verify == TlsVerify::Always {
            e.at(
                &at("tls_verify"),
                format!("{who}: tls_verify = \"always\" needs TLS (tls is \"off\")"),
            );
        }
        if o.method == OutMethod::Direct && (o.auth_user.is_some() || o.ca_file.is_some()) {
            e.at(
                &at("method"),
                format!("{who}: auth_user and ca_file are for relays (method = \"relay\")"),
            );
        }
        if o.ca_file.as_deref().is_some_and(|f| f.trim().is_empty()) {
            e.at(&at("ca_file"), format!("{who}: ca_file is empty"));
        }
        pop_before_smtp(e, o, &at, &who);
    }
}

/// OUT-2: `pop_before_smtp` needs a relay, a `host:port` and a login.
fn pop_before_smtp(
    e: &mut Errors<'_>,
    o: &crate::config::OutMail,
    at: &dyn Fn(&'static str) -> [super::Seg<'static>; 4],
    who: &str,
) {
    if o.pop_user.is_some() != o.pop_password.is_some() {
        e.at(
            &at("pop_user"),
            format!("{who}: pop_user and pop_password go together"),
        );
    }
    let Some(server) = &o.pop_before_smtp else {
        if o.pop_user.is_some() {
            e.at(
                &at("pop_user"),
                format!("{who}: pop_user is only used with pop_before_smtp"),
            );
        }
        return;
    };
    if o.method == OutMethod::Direct {
        e.at(
            &at("pop_before_smtp"),
            format!("{who}: pop_before_smtp is for relays (method = \"relay\")"),
        );
    }
    let (host, port) = server.rsplit_once(':').unwrap_or((server, ""));
    if host.trim().is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        e.at(
            &at("pop_before_smtp"),
            format!("{who}: pop_before_smtp {server:?}: write \"host:port\", e.g. \"pop.isp.example:110\""),
        );
    }
    if o.pop_user.is_none() && o.auth_user.is_none() {
        e.at(
            &at("pop_before_smtp"),
            format!("{who}: pop_before_smtp needs pop_user and pop_password (or auth_user and auth_password)"),
        );
    }
}
