//! Process-wide allocator settings.
//!
//! Each password check (argon2id) allocates 19 MiB and frees it again. glibc's malloc
//! raises its mmap threshold after the first such free, so from then on those blocks
//! come from heap arenas that are rarely given back: every thread that ever checked a
//! password keeps ~19 MiB resident. Measured with 10 open POP3 sessions, that is 18 MB
//! per session instead of 0.6 MB. A fixed threshold keeps large blocks on mmap, so
//! they return to the system the moment they are freed.

/// Blocks from this size up are mapped and unmapped individually.
pub const MMAP_THRESHOLD: usize = 1 << 20;

/// Apply the settings; call once at startup, before the server's threads exist.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's parameters; it is called before the
        // server starts its threads, and any value is accepted or refused (return 0).
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
        if ok == 0 {
            tracing::warn!("could not set the allocator's mmap threshold");
        }
        // One heap arena per core, not glibc's eight: with a thread per connection
        // (mailroom-lite) each further arena keeps its own free pages, about 1 kB per
        // idle connection more (measured with 200: 16.5 kB each with the default, 15.4
        // with one arena per core on 2 cores); contention stays low because small
        // blocks come from each thread's own cache first.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: as above; called before the server's threads exist.
        if unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) } == 0 {
            tracing::warn!("could not set the allocator's arena count");
        }
    }
}

/// Give back the pages of the calling thread's stack below the current frame: a
/// connection thread that parsed a deep command keeps the pages it touched resident
/// for as long as it lives, most of its memory while it waits (docs/PERFORMANCE.md
/// §10). Pages given back read as zeros when touched again, so nothing live is lost:
/// only memory below this frame, less a margin, is released.
pub fn trim_stack() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const PAGE: usize = 4096;
        // Kept below this frame: anything between this local and the stack pointer.
        const MARGIN: usize = 1024;
        // SAFETY: pthread_getattr_np fills a zeroed attr for the calling thread, which
        // is destroyed again; madvise(MADV_DONTNEED) is given only whole pages of
        // this thread's stack mapping strictly below the live frames (a local's
        // address less MARGIN), which no code reads before writing again.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return;
            }
            let mut base: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let got = libc::pthread_attr_getstack(&attr, &mut base, &mut size) == 0;
            libc::pthread_attr_destroy(&mut attr);
            let here = std::ptr::addr_of!(attr) as usize;
            let low = (base as usize).div_ceil(PAGE) * PAGE;
            let high = here.saturating_sub(MARGIN) / PAGE * PAGE;
            if got && here >= base as usize && high > low {
                libc::madvise(low as *mut libc::c_void, high - low, libc::MADV_DONTNEED);
            }
        }
    }
}
