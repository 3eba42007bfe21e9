//! The server's defences of docs/DEFENSE.md, on top of core's evaluators: the IDS/IPS
//! block list (`mailroom_core::ids`) kept in `DIR/state/ids-blocklist` and shared
//! with the CLI, the connection counts of every listener
//! (`mailroom_core::connlimit`), and DNS blocklist lookups through the outbound
//! sender's resolver type and its TTL cache.

use crate::platform::datadir::DataDir;
use crate::platform::durable::{self, Access};
use crate::services::outbound::dns::Resolver;
use mailroom_core::config::{Config, Dns};
use mailroom_core::connlimit::{Busy, ConnCounts};
use mailroom_core::dns::{dnsbl, RecordKind};
use mailroom_core::ids::{Block, Gate, Ids};
use mailroom_core::Instant;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant as StdInstant, SystemTime};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is one step: a panicking holder leaves a usable value.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What identifies one version of the block list file.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(dd: &DataDir) -> Stamp {
    let m = fs::metadata(dd.ids_block_file()).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Read the block list file (none = empty), holding nothing.
fn read_file(dd: &DataDir, now: Instant) -> io::Result<Ids> {
    let path = dd.ids_block_file();
    match fs::read_to_string(&path) {
        Ok(text) => {
            let (ids, bad) = Ids::from_text(&text, now);
            for line in bad {
                tracing::warn!(
                    "{}:{line}: not `ADDRESS UNTIL REASON`; skipped",
                    path.display()
                );
            }
            Ok(ids)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ids::new()),
        Err(e) => Err(e),
    }
}

fn write_file(dd: &DataDir, ids: &Ids, now: Instant) -> io::Result<()> {
    fs::create_dir_all(dd.state_dir())?;
    durable::replace(
        &dd.ids_block_file(),
        ids.to_text(now).as_bytes(),
        Access::Normal,
    )
}

/// Change the block list file under its lock (the CLI's `ids block` / `unblock`);
/// a running server sees the change at its next connection.
pub fn edit_block_list<R>(dd: &DataDir, f: impl FnOnce(&mut Ids, Instant) -> R) -> io::Result<R> {
    fs::create_dir_all(dd.state_dir())?;
    let file = crate::platform::lock::open(&dd.ids_block_lock())?;
    let _held = crate::platform::lock::exclusive(&file)?;
    let now = crate::platform::clock::now();
    let mut ids = read_file(dd, now)?;
    let r = f(&mut ids, now);
    write_file(dd, &ids, now)?;
    Ok(r)
}

/// The block list as the file has it now (`ids list`).
pub fn read_block_list(dd: &DataDir) -> io::Result<(Ids, Instant)> {
    let now = crate::platform::clock::now();
    Ok((read_file(dd, now)?, now))
}

struct IdsState {
    ids: Ids,
    /// The file version `ids` has the blocks of.
    seen: Stamp,
}

/// The defences' state for the whole server.
pub struct Defense {
    dd: DataDir,
    ids: Mutex<IdsState>,
    conns: Mutex<ConnCounts>,
    resolver: Mutex<Option<(Dns, Arc<Resolver>)>>,
}

/// A connection counted against its service's limits; the count drops with it.
pub struct ConnTicket {
    defense: Arc<Defense>,
    service: &'static str,
    ip: IpAddr,
}

impl Drop for ConnTicket {
    fn drop(&mut self) {
        lock(&self.defense.conns).release(self.service, self.ip);
    }
}

impl Defense {
    pub fn new(dd: &DataDir) -> Defense {
        let now = crate::platform::clock::now();
        let ids = read_file(dd, now).unwrap_or_else(|e| {
            tracing::error!("cannot read the IDS block list: {e}; starting with none");
            Ids::new()
        });
        Defense {
            dd: dd.clone(),
            ids: Mutex::new(IdsState {
                ids,
                seen: stamp(dd),
            }),
            conns: Mutex::new(ConnCounts::new()),
            resolver: Mutex::new(None),
        }
    }

    /// The IDS verdict on a new connection from `ip`. Picks up edits of the block
    /// list file (the CLI) first: one `stat` per connection.
    pub fn gate(&self, config: &Config, ip: IpAddr, now: Instant) -> Gate {
        let mut st = lock(&self.ids);
        let current = stamp(&self.dd);
        if current != st.seen {
            match read_file(&self.dd, now) {
                Ok(file) => st.ids.replace_blocks(file),
                Err(e) => tracing::error!("cannot read the IDS block list: {e}"),
            }
            st.seen = current;
        }
        st.ids.gate(ip, now, &config.ids)
    }

    /// A session from `ip` ended with `errors` client errors: add them to its score,
    /// and put it on the block list (kept on disk) when they reach `block_after`.
    pub fn record(&self, config: &Config, ip: IpAddr, errors: u32, now: Instant) {
        if errors == 0 {
            return;
        }
        let block = lock(&self.ids).ids.record(ip, errors, now, &config.ids);
        if let Some(block) = block {
            self.persist_block(ip, &block, now);
        }
    }

    /// Add a new block to the file under its lock, merged with what the CLI may have
    /// written meanwhile. This fsyncs where the session ended (on smol, the executor
    /// thread): it happens once per new block, and the alternative, a block that a
    /// crash forgets, would let the attacker straight back in.
    fn persist_block(&self, ip: IpAddr, block: &Block, now: Instant) {
        let mins = block.until.saturating_since(now).as_secs() / 60;
        tracing::warn!(client = %ip, minutes = mins, "IDS: blocked after {}", block.reason);
        let written = edit_block_list(&self.dd, |file, now| {
            file.block(ip, block.until, &block.reason, now);
        });
        let mut st = lock(&self.ids);
        match written {
            Ok(()) => st.seen = None, // re-read (with the CLI's edits) at the next gate
            Err(e) => tracing::error!(
                "cannot write the IDS block list: {e}; the block holds until a restart"
            ),
        }
    }

    /// Count a connection to the `[services]` key `service` from `ip` if `[limits]`
    /// allows it. A `trusted` address (`[ids] never_block`) has no per-client cap:
    /// loopback tools and a LAN gateway may open many; the service's cap holds for all.
    pub fn admit(
        self: &Arc<Self>,
        config: &Config,
        service: &'static str,
        ip: IpAddr,
        trusted: bool,
    ) -> Result<ConnTicket, Busy> {
        let mut limit = config.limits.of(service);
        if trusted {
            limit.max_per_client = 0;
        }
        lock(&self.conns).admit(service, ip, limit)?;
        Ok(ConnTicket {
            defense: self.clone(),
            service,
            ip,
        })
    }

    /// The `[smtp] dnsbl` zone that lists `ip`, asked within `[smtp] dnsbl_timeout`
    /// for all zones together. No answer, a failure or a timeout count as not listed.
    pub fn dnsbl(&self, config: &Config, ip: IpAddr) -> Option<String> {
        let zones = &config.smtp.dnsbl;
        if zones.is_empty() {
            return None;
        }
        let resolver = self.resolver(&config.dns);
        let deadline = StdInstant::now() + config.smtp.dnsbl_timeout.0;
        for zone in zones {
            let name = dnsbl::query_name(ip, zone);
            match resolver.cached_until(&name, RecordKind::A, deadline) {
                Ok(answer) if dnsbl::listed(&answer) => {
                    tracing::info!(client = %ip, zone = %zone, "DNSBL: listed");
                    return Some(zone.clone());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(client = %ip, zone = %zone, "DNSBL lookup failed, taken as not listed: {}", e.0);
                }
            }
        }
        None
    }

    /// The resolver for `[dns]` as configured now (made again when it changes).
    fn resolver(&self, dns: &Dns) -> Arc<Resolver> {
        let mut r = lock(&self.resolver);
        match &*r {
            Some((cfg, res)) if cfg == dns => res.clone(),
            _ => {
                let res = Arc::new(Resolver::from_config(dns));
                *r = Some((dns.clone(), res.clone()));
                res
            }
        }
    }
}
