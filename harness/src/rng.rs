//! A small deterministic PRNG (SplitMix64): no entropy, the same numbers for the same
//! seed on every machine. Components get their own stream with [`Rng::fork`], so
//! adding draws in one component does not change what another sees.

#[derive(Debug, Clone)]
pub struct Rng {
    seed: u64,
    state: u64,
}

/// FNV-1a, for turning labels into stream numbers.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { seed, state: seed }
    }

    /// An independent stream for a named component, derived from the seed only.
    pub fn fork(&self, label: &str) -> Rng {
        let mut r = Rng::new(self.seed ^ fnv(label.as_bytes()).rotate_left(17));
        r.next_u64();
        Rng::new(r.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the tiny bias is irrelevant for a simulation.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p` (0.0..=1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let n = items.len() as u64;
        (n > 0).then(|| &items[self.below(n) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_differ() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let mut r = Rng::new(7);
        assert_eq!(a, (0..5).map(|_| r.next_u64()).collect::<Vec<_>>());
        let root = Rng::new(7);
        assert_ne!(root.fork("link").next_u64(), root.fork("relay").next_u64());
        assert_eq!(
            root.fork("link").next_u64(),
            Rng::new(7).fork("link").next_u64()
        );
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            assert!(r.range(3, 9) >= 3 && r.range(3, 9) <= 9);
            assert!(r.below(10) < 10);
        }
    }
}
