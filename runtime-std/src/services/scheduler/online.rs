//! Which connections are online now, for the web admin's status banner (§10): set by
//! the driver as the scheduler reports them up and down.

use std::collections::BTreeSet;
use std::sync::Mutex;

static ONLINE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

pub fn set(name: &str, online: bool) {
    let mut set = ONLINE.lock().unwrap_or_else(|p| p.into_inner());
    if online {
        set.insert(name.to_string());
    } else {
        set.remove(name);
    }
}

pub fn is_online(name: &str) -> bool {
    ONLINE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(name)
}
