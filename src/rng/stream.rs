//! [`Rng`]: one counter-based stream, the twin of `struct Rng` in `shaders/shared/rng.wgsl`.

use super::philox::philox4x32_10;

/// Splits a 64-bit seed into the Philox key `(lo, hi)`.
pub const fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// The draws of one `(seed, element, step, purpose)` in draw-index order: draw `d` is lane
/// `d % 4` of the Philox block with counter `(element, step, purpose, d / 4)`.
#[derive(Debug, Clone)]
pub struct Rng {
    key: [u32; 2],
    ctr: [u32; 4],
    buf: [u32; 4],
    used: u32,
}

impl Rng {
    /// `rng_init` in WGSL.
    pub const fn new(seed: u64, element: u32, step: u32, purpose: u32) -> Self {
        Self {
            key: seed_key(seed),
            ctr: [element, step, purpose, 0],
            buf: [0; 4],
            used: 4,
        }
    }

    /// `rng_next_u32` in WGSL: the next raw draw.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.used >= 4 {
            self.buf = philox4x32_10(self.ctr, self.key);
            self.ctr[3] = self.ctr[3].wrapping_add(1);
            self.used = 0;
        }
        let i = self.used;
        self.used = i + 1;
        self.buf[i as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_reads_blocks_in_order() {
        let seed = 0x0123_4567_89ab_cdef_u64;
        let mut r = Rng::new(seed, 7, 11, 3);
        let b0 = philox4x32_10([7, 11, 3, 0], seed_key(seed));
        let b1 = philox4x32_10([7, 11, 3, 1], seed_key(seed));
        let got: Vec<u32> = (0..8).map(|_| r.next_u32()).collect();
        assert_eq!(&got[..4], &b0);
        assert_eq!(&got[4..], &b1);
    }
}
