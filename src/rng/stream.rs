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

/// A neuropop stream is a `rand_core` generator, so any `rand` / `rand_distr` distribution can
/// draw from it: `next_u32` is the stream's next draw, `next_u64` two draws (the first in the
/// low word), `fill_bytes` draws in little-endian order. `rand_core`'s `Rng` (formerly
/// `RngCore`) comes with it.
impl rand_core::TryRng for Rng {
    type Error = core::convert::Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(Rng::next_u32(self))
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let lo = Rng::next_u32(self);
        let hi = Rng::next_u32(self);
        Ok(u64::from(lo) | (u64::from(hi) << 32))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(4) {
            let b = Rng::next_u32(self).to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        Ok(())
    }
}

/// Seeds name a stream: 20 bytes, little endian, `(seed: u64, element: u32, step: u32,
/// purpose: u32)`, the arguments of [`Rng::new`]; `seed_from_u64(s)` is the stream
/// `(s, 0, 0, 0)`.
impl rand_core::SeedableRng for Rng {
    type Seed = [u8; 20];

    fn from_seed(seed: Self::Seed) -> Self {
        let word = |i: usize| u32::from_le_bytes([seed[i], seed[i + 1], seed[i + 2], seed[i + 3]]);
        let s = u64::from(word(0)) | (u64::from(word(4)) << 32);
        Rng::new(s, word(8), word(12), word(16))
    }

    fn seed_from_u64(state: u64) -> Self {
        Rng::new(state, 0, 0, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand_core_draws_the_same_stream() {
        use rand_core::{Rng as _, SeedableRng};
        let seed = 0x0123_4567_89ab_cdef_u64;
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
        bytes[12..16].copy_from_slice(&11u32.to_le_bytes());
        bytes[16..].copy_from_slice(&3u32.to_le_bytes());
        let mut a = <Rng as SeedableRng>::from_seed(bytes);
        let mut b = Rng::new(seed, 7, 11, 3);
        let (x0, x1) = (b.next_u32(), b.next_u32());
        assert_eq!(
            rand_core::Rng::next_u64(&mut a),
            u64::from(x0) | (u64::from(x1) << 32)
        );
        let mut buf = [0u8; 6];
        a.fill_bytes(&mut buf);
        let (x2, x3) = (b.next_u32(), b.next_u32());
        assert_eq!(&buf[..4], &x2.to_le_bytes());
        assert_eq!(&buf[4..], &x3.to_le_bytes()[..2]);
        let mut c = <Rng as SeedableRng>::seed_from_u64(5);
        assert_eq!(
            rand_core::Rng::next_u32(&mut c),
            Rng::new(5, 0, 0, 0).next_u32()
        );
    }

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
