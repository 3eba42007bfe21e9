//! The daily digest tick of mailing lists (§14.6.1.2.1; docs/LISTS.md): a thread that
//! looks at once and then every minute whether a digest is due. Apart from
//! `services::lists` because it needs the running server and routing, which both
//! call that module.

use std::sync::Arc;
use std::time::Duration;

use mailroom_core::router::Source;

use crate::platform::clock::now;
use crate::services::app::Shared;
use crate::services::deliver::list_routing;
use crate::services::lists::digest_tick;

/// How often the thread looks; each look is cheap when nothing is due.
const LOOK: Duration = Duration::from_secs(60);

pub fn spawn(shared: Arc<Shared>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("list-digests".into())
        .spawn(move || loop {
            let snap = shared.snapshot();
            let store = &shared.store;
            let r = list_routing(store, &snap, &Source::Local, |routing| {
                digest_tick(store, &snap, now(), routing)
            });
            if let Err(e) = r {
                tracing::error!("list digests: {e}");
            }
            std::thread::sleep(LOOK);
        })
        .map(|_| ())
}
