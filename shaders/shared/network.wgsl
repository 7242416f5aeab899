// Structs shared by the spiking-network kernels (neuron_step, deliver_spikes).
// Keep in sync with models::spiking::kernel.

const MAX_POPS: u32 = 16u;

// Parameters of one block of steps; one struct per block in a buffer bound with a dynamic
// offset. Keep in sync with models::spiking::kernel::NetConfig.
struct NetConfig {
    seed_lo: u32,
    seed_hi: u32,
    // Neurons per replica.
    n_neurons: u32,
    // Neurons whose state this device holds (all replicas' neurons unless MPI ranks share
    // them): the stride of the adaptation kernels' state.
    n_total: u32,
    n_pops: u32,
    // First step of the block, steps in it, first step of the chunk (recordings).
    step0: u32,
    n_steps: u32,
    chunk_step0: u32,
    // Ring of spike counts: slots and words per slot.
    ring_len: u32,
    ring_row: u32,
    // Which spike-list counter set this block appends to (0 or 1).
    parity: u32,
    // Traced neurons (replica 0) and the trace interval in steps.
    n_trace: u32,
    trace_every: u32,
    // Capacities of the spike list (entries) and of the spike record (entries).
    spk_cap: u32,
    rec_cap: u32,
    // Synapses per `syn*` binding.
    syn_cap: u32,
    // Always 0; `keep()` XORs with it so the compiler cannot regroup sums.
    zero: u32,
    // Replicas x populations (one activity row per step).
    n_rep_pops: u32,
    // Replicas of each sweep combination (replica r belongs to combination r / this).
    replicas_per_combo: u32,
    // Population-table entries: sweep combinations x populations.
    n_entries: u32,
}

// One population of one sweep combination (entry combo * n_pops + pop; the first n_pops
// entries double as the population layout). Keep in sync with
// models::spiking::kernel::PopInfo.
struct PopInfo {
    // First neuron (index within a replica) and size.
    offset: u32,
    size: u32,
    // Incoming projections: ports[port0 .. port0 + n_ports].
    port0: u32,
    n_ports: u32,
    // Poisson inputs: pois[pois0 .. pois0 + n_pois].
    pois0: u32,
    n_pois: u32,
    // Outgoing projections: proj[out0 .. out0 + n_out].
    out0: u32,
    n_out: u32,
    // Spikes of neurons 0 .. rec_spikes of replica 0 are recorded.
    rec_spikes: u32,
    // V of neurons 0 .. trace_first of replica 0 go to trace columns trace_base + i.
    trace_first: u32,
    trace_base: u32,
    // First workgroup of this entry in neuron_step (set by the GPU engine).
    wg0: u32,
    // Population index and sweep combination of this entry.
    pop: u32,
    combo: u32,
    // The neurons [own_lo, own_hi) of the population (every replica) this device updates:
    // all unless MPI ranks share the neurons.
    own_lo: u32,
    own_hi: u32,
    // The state of neuron `local` of replica r is entry r * own_stride + own_base + local -
    // own_lo of the state arrays (the global index on one process).
    own_base: u32,
    own_stride: u32,
}
