//! The `purpose` word of the Philox counter: which use inside a model a stream serves.
//!
//! Two uses of randomness in one element and step (say the OU noise and a spike decision)
//! must never share draws; giving each its own purpose keeps them independent whatever order
//! the code draws them in. Keep the numbers in sync with the `PURPOSE_*` constants of the
//! shaders that use them.

/// Named purposes. The numeric values are part of the reproducibility contract: changing
/// one changes every result drawn under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// Raw streams for tests and benchmarks.
    Test = 0,
    /// Ornstein-Uhlenbeck or white-noise input.
    Noise = 1,
    /// Spike emission (escape noise, finite-size spike counts).
    Spike = 2,
    /// Connectivity generation.
    Connect = 3,
    /// External Poisson drive.
    PoissonInput = 4,
    /// Initial conditions.
    Init = 5,
    /// Noise shared by a group of elements (the common input `c` of correlated `lif`
    /// neurons: element = the group's global index).
    Common = 6,
    /// Synaptic weights drawn per synapse (`+ 256 k` for projection k).
    Weight = 7,
    /// Synaptic delays drawn per synapse (`+ 256 k` for projection k).
    Delay = 8,
}

impl Purpose {
    /// The value that goes into counter word 2.
    pub const fn word(self) -> u32 {
        self as u32
    }
}
