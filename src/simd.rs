//! Which SIMD instructions the CPU path runs with, chosen at run time.
//!
//! The vectorised CPU twins are written once, as loops over arrays of independent lanes
//! (replicas, or the 64 age chunks of a mesoscopic walk) whose bodies use only operations
//! that IEEE 754 rounds exactly (add, multiply, divide, sqrt, floor, compare, select, integer
//! and bit operations). The compiler turns those loops into vector instructions of whatever
//! width the enabled features allow, and since Rust never contracts `a * b + c` into a fused
//! multiply-add, every lane computes the same bits at every width: AVX-512, AVX2, the
//! baseline instruction set and the shader all agree. [`dispatch`] compiles a kernel
//! ([`Lanes`]) once per [`Level`] and runs the best one the CPU has; `NEUROPOP_SIMD` (or
//! [`dispatch_at`]) caps the level, which is how the tests compare the levels.

use std::sync::OnceLock;

/// An instruction-set level of the CPU path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The target's baseline instructions (SSE2 on x86-64, NEON on AArch64).
    Baseline,
    /// x86-64 with AVX2 and FMA (8 f32 lanes; FMA is never used for `a * b + c`).
    Avx2,
    /// x86-64 with AVX-512 F/VL/DQ/BW (16 f32 lanes).
    Avx512,
}

impl Level {
    /// The name `NEUROPOP_SIMD` takes.
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// f32 lanes of one vector register at this level.
    pub fn lanes(self) -> usize {
        match self {
            Level::Baseline => 4,
            Level::Avx2 => 8,
            Level::Avx512 => 16,
        }
    }

    /// Every level this CPU can run, lowest first.
    pub fn available() -> Vec<Level> {
        let best = detected();
        [Level::Baseline, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| *l <= best)
            .collect()
    }

    fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "baseline" | "scalar" | "none" => Some(Level::Baseline),
            "avx2" => Some(Level::Avx2),
            "avx512" => Some(Level::Avx512),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The best level this CPU supports.
pub fn detected() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Level::Avx2;
            }
        }
        Level::Baseline
    })
}

/// The level the CPU path uses: [`detected`], capped by `NEUROPOP_SIMD`
/// (`baseline`, `avx2`, `avx512`) when set.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let best = detected();
        match std::env::var("NEUROPOP_SIMD")
            .ok()
            .as_deref()
            .map(Level::parse)
        {
            Some(Some(cap)) => cap.min(best),
            _ => best,
        }
    })
}

/// A computation compiled once per [`Level`]: `run` must be `#[inline(always)]` (and so
/// must what it calls in its hot loops), so that it is compiled inside each level's
/// function with that level's instructions. `W` is the level's f32 lanes per register, for
/// kernels that keep a block of lanes in registers.
pub trait Lanes {
    /// What the computation returns.
    type Output;
    /// Runs it with blocks of `W` lanes.
    fn run<const W: usize>(self) -> Self::Output;
}

/// Runs `k` at [`level`].
pub fn dispatch<K: Lanes>(k: K) -> K::Output {
    dispatch_at(level(), k)
}

/// Runs `k` at `level`, or at the best level below it that this CPU has.
pub fn dispatch_at<K: Lanes>(level: Level, k: K) -> K::Output {
    match level.min(detected()) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `detected()` found AVX-512 F/VL/DQ/BW on this CPU.
        Level::Avx512 => unsafe { run_avx512(k) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `detected()` found AVX2 and FMA on this CPU.
        Level::Avx2 => unsafe { run_avx2(k) },
        _ => k.run::<4>(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn run_avx512<K: Lanes>(k: K) -> K::Output {
    k.run::<16>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<K: Lanes>(k: K) -> K::Output {
    k.run::<8>()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Exps<'a>(&'a mut [f32]);
    impl Lanes for Exps<'_> {
        type Output = ();
        #[inline(always)]
        fn run<const W: usize>(self) {
            for x in self.0.iter_mut() {
                *x = crate::math::exp(*x);
            }
        }
    }

    #[test]
    fn every_level_computes_the_same_bits() {
        let x: Vec<f32> = (0..4099).map(|i| (i as f32 - 2000.0) * 0.0473).collect();
        let mut reference = x.clone();
        for v in reference.iter_mut() {
            *v = crate::math::exp(*v);
        }
        for level in Level::available() {
            let mut y = x.clone();
            dispatch_at(level, Exps(&mut y));
            let same = y
                .iter()
                .zip(&reference)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{level}");
        }
        assert!(Level::available().contains(&detected()));
    }
}
