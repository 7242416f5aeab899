//! CPU and GPU execution of a spiking network: chunks of blocks, each block one
//! `neuron_step` and one `deliver_spikes`; recordings of a chunk are read after it.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, RwLock};

use super::connect::Connectivity;
use super::kernel::{
    deliver_spikes, neuron_step, NetConfig, NetTables, NeuronState, Pois, PopInfo, Port, Proj,
    StepOut,
};
use super::params::NeuronCoef;
use crate::cpu::SpinBarrier;
use crate::error::Result;

/// Everything an engine needs besides per-chunk inputs.
#[derive(Debug, Clone)]
pub struct EngineSetup {
    /// `MODEL` override.
    pub model: u32,
    /// `NSTC` and `NSFA` overrides.
    pub nk: [u32; 2],
    /// Neurons in all replicas.
    pub n_total: u32,
    /// Initial V per table entry (combination x population).
    pub v_init: Vec<f32>,
    /// Initial V drawn per neuron, per population (kind 0: `v_init` for all), in mV, and
    /// what to subtract from a draw to get the state's V (E_L for the iaf models).
    pub v_dist: Vec<(super::synapse::SynDist, f32)>,
    /// Seed (the initial V's draws).
    pub seed: u64,
    /// Global neurons `own.0 .. own.1` this process updates (all but with MPI ranks sharing
    /// a spiking network's replicas; CPU path only).
    pub own: (u32, u32),
    /// (rank, ranks): MPI ranks sharing the neurons of every population of the replicas in
    /// `own`, rank k updating neurons `size k / ranks .. size (k + 1) / ranks` of each
    /// population and exchanging spikes once per block ((0, 1): not shared).
    pub split: (u32, u32),
    /// Neurons per replica.
    pub n_neurons: u32,
    /// Populations.
    pub n_pops: u32,
    /// Replicas per sweep combination.
    pub replicas_per_combo: u32,
    /// Ring slots x words per slot.
    pub ring_words: u64,
    /// Activity words per chunk (steps x replicas x populations).
    pub act_words: u64,
    /// Spike-list capacity per block.
    pub spk_cap: u32,
    /// Spike-record capacity per chunk.
    pub rec_cap: u32,
    /// Trace words per chunk.
    pub trace_words: u64,
    /// Step-current values per chunk.
    pub stim_words: u64,
    /// Blocks per chunk at most.
    pub max_blocks: usize,
    /// `POIS` override: 0 no Poisson input, 1 all means below 10, 2 any.
    pub pois: u32,
    /// Loop iterations of one neuron through one block, counted as the loop budget counts
    /// them (bounds the neurons per invocation on lavapipe).
    pub loop_iters_per_neuron: u64,
}

impl EngineSetup {
    /// The global neuron ranges `[a, b)` this process updates, ascending: `own`, or with
    /// ranks sharing the neurons (`split`), this rank's part of each population of each
    /// replica in `own`.
    pub fn owned_intervals(&self, pops: &[PopInfo]) -> Vec<(usize, usize)> {
        let (lo, hi) = (
            (self.own.0 as usize).min(self.n_total as usize),
            (self.own.1 as usize).min(self.n_total as usize),
        );
        if self.split.1 <= 1 {
            return vec![(lo, hi.max(lo))];
        }
        let n = self.n_neurons.max(1) as usize;
        let np = (self.n_pops as usize).min(pops.len());
        let mut v = Vec::new();
        for r in (lo / n)..hi.div_ceil(n) {
            for p in &pops[..np] {
                if p.own_hi > p.own_lo {
                    let at = r * n + p.offset as usize;
                    v.push((at + p.own_lo as usize, at + p.own_hi as usize));
                }
            }
        }
        v
    }

    /// Neurons this process holds state for (those of [`Self::owned_intervals`]).
    pub fn held(&self, pops: &[PopInfo]) -> u32 {
        self.owned_intervals(pops)
            .iter()
            .map(|&(a, b)| (b - a) as u32)
            .sum()
    }

    /// Initial V of neuron `g` (index over all replicas).
    pub fn initial_v(&self, pops: &[super::kernel::PopInfo], g: u32) -> f32 {
        let r = g / self.n_neurons.max(1);
        let i = g % self.n_neurons.max(1);
        let np = self.n_pops.max(1) as usize;
        let p = pops[..np.min(pops.len())]
            .iter()
            .rposition(|q| i >= q.offset)
            .unwrap_or(0);
        if let Some((d, off)) = self.v_dist.get(p).filter(|d| d.0.kind != 0) {
            // Drawn on the host for both paths: (seed; g, 0, Init).
            return d.draw(self.seed, g, 0) - off;
        }
        let e = (r / self.replicas_per_combo.max(1)) as usize * np + p;
        self.v_init.get(e).copied().unwrap_or(0.0)
    }
}

/// Runs chunks of blocks.
pub trait SpikingEngine {
    /// Advances through the blocks `cfgs` (one chunk) with step currents `stim`.
    fn run_chunk(&mut self, cfgs: &[NetConfig], stim: &[f32]) -> Result<()>;
    /// Spike counts `[step * n_rep_pops + replica * n_pops + p]` of the last chunk.
    fn activity(&mut self, len: usize) -> Result<Vec<u32>>;
    /// Recorded (step, neuron) spikes of the last chunk, sorted.
    fn recorded_spikes(&mut self) -> Result<Vec<[u32; 2]>>;
    /// Trace values of the last chunk.
    fn trace(&mut self, len: usize) -> Result<Vec<f32>>;
    /// Membrane potential of every neuron (tests).
    fn voltages(&mut self) -> Result<Vec<f32>>;
    /// Synapses per `syn*` binding (`NetConfig::syn_cap`).
    fn syn_cap(&self) -> u32;
}

/// Owned tables of a network.
#[derive(Debug, Clone)]
pub struct OwnedTables {
    /// Populations.
    pub pops: Vec<PopInfo>,
    /// Coefficients.
    pub coef: Vec<NeuronCoef>,
    /// Ports.
    pub ports: Vec<Port>,
    /// Poisson inputs.
    pub pois: Vec<Pois>,
    /// Projections.
    pub proj: Vec<Proj>,
    /// Connectivity: on the CPU path one per worker part (the synapses onto that part's
    /// targets, [`super::kernel::part_range`]); on the GPU one.
    pub conn: Vec<Connectivity>,
}

/// What one thread of the CPU path recorded in a chunk: (step, neuron) spikes, (index, V).
type ThreadRecords = (Vec<[u32; 2]>, Vec<(usize, f32)>);

/// The CPU reference path.
pub struct CpuEngine {
    setup: EngineSetup,
    tab: OwnedTables,
    states: Vec<NeuronState>,
    ring: Vec<AtomicU32>,
    act: Vec<AtomicU32>,
    rec: Vec<[u32; 2]>,
    trace: Vec<f32>,
}

impl CpuEngine {
    /// State at rest (V = the populations' initial V), held for this process's neurons only
    /// ([`EngineSetup::owned_intervals`], one after the other).
    pub fn new(setup: EngineSetup, mut tab: OwnedTables) -> Self {
        if tab.conn.is_empty() {
            tab.conn.push(Connectivity::default());
        }
        let states = setup
            .owned_intervals(&tab.pops)
            .into_iter()
            .flat_map(|(a, b)| a..b)
            .map(|g| NeuronState {
                v: setup.initial_v(&tab.pops, g as u32),
                ..NeuronState::default()
            })
            .collect();
        Self {
            ring: (0..setup.ring_words).map(|_| AtomicU32::new(0)).collect(),
            act: (0..setup.act_words).map(|_| AtomicU32::new(0)).collect(),
            rec: Vec::new(),
            trace: vec![0.0; setup.trace_words as usize],
            states,
            setup,
            tab,
        }
    }
}

impl SpikingEngine for CpuEngine {
    fn run_chunk(&mut self, cfgs: &[NetConfig], stim: &[f32]) -> Result<()> {
        self.act.iter().for_each(|a| a.store(0, Relaxed));
        self.rec.clear();
        // One table set per worker part: the same tables, the part's own synapses.
        let tabs: Vec<NetTables> = self
            .tab
            .conn
            .iter()
            .map(|c| NetTables {
                pops: &self.tab.pops,
                coef: &self.tab.coef,
                ports: &self.tab.ports,
                pois: &self.tab.pois,
                stim,
                proj: &self.tab.proj,
                rowptr: &c.rowptr,
                syn: &c.syn,
                syn16: c.syn16(),
            })
            .collect();
        let (model, nk) = (
            self.setup.model,
            [self.setup.nk[0] as usize, self.setup.nk[1] as usize],
        );
        // One thread per part of the neurons for the whole chunk. Each block: every thread
        // advances its neurons (which read and clear only their own ring words), then, after
        // a barrier, delivers every thread's spikes to its own part of the targets (disjoint
        // ring words: plain increments), and waits at a barrier before the next block.
        // With MPI ranks sharing the neurons, the spikes of every rank are gathered between
        // the two (on the calling thread, which runs part 0: MPI is called from one thread).
        let split = self.setup.split;
        let intervals = self.setup.owned_intervals(&self.tab.pops);
        // As many threads as connectivity parts (each delivers to its part's targets).
        let threads = tabs.len().max(1);
        let mut segments: Vec<Vec<(usize, &mut [NeuronState])>> =
            (0..threads).map(|_| Vec::new()).collect();
        {
            // Every interval (held one after the other) split into `threads` contiguous
            // pieces, piece t to thread t.
            let mut rest: &mut [NeuronState] = &mut self.states;
            for &(a, b) in &intervals {
                let (mut mine, tail) = std::mem::take(&mut rest).split_at_mut(b - a);
                rest = tail;
                let per = (b - a).div_ceil(threads).max(1);
                let mut g = a;
                for seg in segments.iter_mut() {
                    if mine.is_empty() {
                        break;
                    }
                    let (piece, more) = std::mem::take(&mut mine).split_at_mut(per.min(b - g));
                    let len = piece.len();
                    seg.push((g, piece));
                    g += len;
                    mine = more;
                }
            }
        }
        let parts = threads;
        let outs: Vec<RwLock<StepOut>> = (0..parts).map(|_| RwLock::default()).collect();
        // Every rank's spikes of the current block (with MPI ranks sharing the neurons).
        let gathered: RwLock<Vec<[u32; 2]>> = RwLock::default();
        let results: Mutex<Vec<ThreadRecords>> = Mutex::new(Vec::new());
        let barrier = SpinBarrier::new(parts);
        let (ring, act) = (&self.ring, &self.act);
        let work = |part: usize, mut segs: Vec<(usize, &mut [NeuronState])>| {
            let tab = &tabs[part];
            let (mut rec, mut trace) = (Vec::new(), Vec::new());
            for cfg in cfgs {
                {
                    let mut o = outs[part].write().unwrap_or_else(|e| e.into_inner());
                    o.spikes.clear();
                    for (g0, states) in segs.iter_mut() {
                        neuron_step(cfg, tab, model, nk, *g0, states, ring, act, &mut o);
                    }
                    rec.append(&mut o.rec);
                    trace.append(&mut o.trace);
                }
                barrier.wait();
                if split.1 > 1 {
                    if part == 0 {
                        let mut mine = Vec::new();
                        for o in &outs {
                            let o = o.read().unwrap_or_else(|e| e.into_inner());
                            mine.extend(o.spikes.iter().flatten());
                        }
                        let all = crate::ranks::all_gather_words(&mine);
                        let mut g = gathered.write().unwrap_or_else(|e| e.into_inner());
                        g.clear();
                        g.extend(all.chunks_exact(2).map(|w| [w[0], w[1]]));
                    }
                    barrier.wait();
                    let g = gathered.read().unwrap_or_else(|e| e.into_inner());
                    deliver_spikes(cfg, tab, &g, ring, part as u32, parts as u32);
                } else {
                    for o in &outs {
                        let o = o.read().unwrap_or_else(|e| e.into_inner());
                        deliver_spikes(cfg, tab, &o.spikes, ring, part as u32, parts as u32);
                    }
                }
                barrier.wait();
            }
            if let Ok(mut r) = results.lock() {
                r.push((rec, trace));
            }
        };
        std::thread::scope(|s| {
            let mut segments = segments.into_iter().enumerate();
            // Part 0 runs here (with ranks sharing the neurons, the thread that calls MPI).
            let first = segments.next();
            for (part, segs) in segments {
                let work = &work;
                s.spawn(move || work(part, segs));
            }
            if let Some((part, segs)) = first {
                work(part, segs);
            }
        });
        for (rec, trace) in results.into_inner().unwrap_or_default() {
            self.rec.extend(rec);
            for (i, v) in trace {
                self.trace[i] = v;
            }
        }
        Ok(())
    }

    fn activity(&mut self, len: usize) -> Result<Vec<u32>> {
        Ok(self.act[..len].iter().map(|a| a.load(Relaxed)).collect())
    }

    fn recorded_spikes(&mut self) -> Result<Vec<[u32; 2]>> {
        let mut v = std::mem::take(&mut self.rec);
        v.sort_unstable();
        Ok(v)
    }

    fn trace(&mut self, len: usize) -> Result<Vec<f32>> {
        Ok(self.trace[..len].to_vec())
    }

    fn voltages(&mut self) -> Result<Vec<f32>> {
        Ok(self.states.iter().map(|s| s.v).collect())
    }

    fn syn_cap(&self) -> u32 {
        u32::MAX
    }
}

#[cfg(feature = "gpu")]
pub use gpu::{check_synapses, connect_on_device, synapse_capacity_bytes, GpuEngine};

#[cfg(feature = "gpu")]
mod gpu {
    use std::sync::Arc;

    use wgpu::util::DeviceExt;

    use super::super::connect::{ConnConfig, DeviceProjection, COUNT_DESC, FILL_DESC};
    use super::super::kernel::{NetConfig, DELIVER_DESC, NEURON_DESC};
    use super::super::params::MAX_KERNELS;
    use super::{EngineSetup, OwnedTables, SpikingEngine};
    use crate::error::{Error, Result};
    use crate::gpu::{BufferSpec, GpuContext, Pipeline};
    use crate::kernels::UNIFORM_STRIDE;

    /// A table with at least one element (a binding of a struct array cannot be smaller
    /// than one struct).
    fn at_least_one<T: Default + Clone>(v: &[T]) -> Vec<T> {
        if v.is_empty() {
            vec![T::default()]
        } else {
            v.to_vec()
        }
    }

    /// Most bindings the synapse array may be split over (`syn0` .. `syn3`).
    pub const MAX_SYN_BINDINGS: usize = 4;

    /// Synapses per binding: the device's binding limit in u32 words (below 2^31, so row
    /// positions stay in u32 arithmetic).
    fn syn_cap(ctx: &GpuContext) -> u64 {
        // Even, so a two-word synapse never straddles two bindings.
        (ctx.limits().max_storage_buffer_binding_size / 4).min(u64::from(u32::MAX / 2)) & !1
    }

    /// Bytes of stored synapses the device's synapse bindings hold.
    pub fn synapse_capacity_bytes(ctx: &GpuContext) -> u64 {
        syn_cap(ctx) * 4 * MAX_SYN_BINDINGS as u64
    }

    /// Fails, before anything is built, when `synapses` stored synapses cannot fit the
    /// device's synapse bindings (`MAX_SYN_BINDINGS` of [`syn_cap`] synapses each).
    pub fn check_synapses(ctx: &GpuContext, synapses: f64) -> Result<()> {
        let available = syn_cap(ctx) * 4 * MAX_SYN_BINDINGS as u64;
        if synapses * 4.0 > available as f64 {
            return Err(Error::BufferTooLarge {
                label: "spiking.synapses (stored connectivity; pairwise_bernoulli or all_to_all projections can be procedural and store none)".into(),
                needed: (synapses * 4.0) as u64,
                available,
                limit: "4 x max_storage_buffer_binding_size",
            });
        }
        Ok(())
    }

    /// Whether `fixed_indegree` projections are built on the device: on GPUs, yes; on CPU
    /// adapters (lavapipe) the host's native threads build faster (80 M synapses: 2 s on the
    /// host, 5 s through lavapipe), so no. `NEUROPOP_CONNECT=device` or `host` overrides.
    pub fn connect_on_device(ctx: &GpuContext) -> bool {
        match std::env::var("NEUROPOP_CONNECT").as_deref() {
            Ok("device") => true,
            Ok("host") => false,
            _ => ctx.info().device_type != "Cpu",
        }
    }

    /// Builds the `fixed_indegree` projections left to the device: `connect_count`, the row
    /// starts on the host (written into their reserved `rowptr` entries), then
    /// `connect_fill` into the synapse bindings.
    fn build_on_device(
        ctx: &GpuContext,
        device: &[DeviceProjection],
        syn_cap: u32,
        rowptr: &mut [u32],
        syn: &[wgpu::Buffer],
    ) -> Result<()> {
        if device.is_empty() {
            return Ok(());
        }
        let count = ctx.pipeline(&COUNT_DESC)?;
        let fill = ctx.pipeline(&FILL_DESC)?;
        for d in device {
            let cfg = ConnConfig { syn_cap, ..d.cfg };
            let rows = (cfg.replicas * cfg.n_src) as usize;
            let ubuf = ctx.uniform_buffer("spiking.connect.cfg", &cfg)?;
            let counts =
                ctx.storage_buffer("spiking.connect.counts", rows as u64 * 4, BufferSpec::State)?;
            count.run_once(ctx, &[&ubuf, &counts], cfg.threads())?;
            let c: Vec<u32> = ctx.read(&counts, 0, rows)?;
            let mut acc = d.syn_at;
            for (i, n) in c.iter().enumerate() {
                rowptr[d.rowptr_at + i] = acc as u32;
                acc += u64::from(*n);
            }
            rowptr[d.rowptr_at + rows] = acc as u32;
            if acc != d.syn_at + cfg.synapses() {
                return Err(Error::Gpu(format!(
                    "connect_count of projection {} counted {} synapses, expected {}",
                    cfg.proj,
                    acc - d.syn_at,
                    cfg.synapses()
                )));
            }
            let next = ctx.storage_buffer_init(
                "spiking.connect.next",
                &rowptr[d.rowptr_at..d.rowptr_at + rows],
                BufferSpec::State,
            )?;
            fill.run_once(
                ctx,
                &[&ubuf, &next, &syn[0], &syn[1], &syn[2], &syn[3]],
                cfg.threads(),
            )?;
        }
        Ok(())
    }

    /// The shader path: every buffer allocated once, one submit per chunk.
    pub struct GpuEngine {
        ctx: Arc<GpuContext>,
        neuron: Arc<Pipeline>,
        deliver: Arc<Pipeline>,
        neuron_bind: wgpu::BindGroup,
        deliver_bind: wgpu::BindGroup,
        cfg: wgpu::Buffer,
        stim: wgpu::Buffer,
        v_m: wgpu::Buffer,
        ctl: wgpu::Buffer,
        act: wgpu::Buffer,
        rec: wgpu::Buffer,
        trace: wgpu::Buffer,
        spk: wgpu::Buffer,
        n_total: u32,
        n_groups: u32,
        /// MPI ranks share the neurons: one submit per block, spikes exchanged between.
        split: bool,
        big_list: bool,
        spk_cap: u32,
        rec_cap: u32,
        syn_cap: u32,
        has_stim: bool,
    }

    impl GpuEngine {
        /// Uploads the tables and connectivity, allocates state and recording buffers.
        pub fn new(ctx: Arc<GpuContext>, s: &EngineSetup, mut tab: OwnedTables) -> Result<Self> {
            // One connectivity on the device (all of this process's targets).
            let mut conn = std::mem::take(&mut tab.conn)
                .into_iter()
                .next()
                .unwrap_or_default();
            let wg = ctx.workgroup_for(&NEURON_DESC);
            // Neurons per invocation: each invocation has a fixed cost on CPU adapters.
            let npt = if ctx.info().device_type == "Cpu" {
                (crate::kernels::GPU_LOOP_BUDGET / s.loop_iters_per_neuron.max(1)).clamp(1, 16)
                    as u32
            } else {
                1
            };
            let has_stim = s.stim_words > 0;
            let big_list = s.spk_cap > 65_535;
            let trace_on = s.trace_words > 0;
            let neuron = ctx.pipeline_with(
                &NEURON_DESC,
                &[
                    ("MODEL", f64::from(s.model)),
                    ("NSTC", f64::from(s.nk[0])),
                    ("NSFA", f64::from(s.nk[1])),
                    ("WG", f64::from(wg)),
                    ("STIM", f64::from(u8::from(has_stim))),
                    ("TRACE", f64::from(u8::from(trace_on))),
                    ("POIS", f64::from(s.pois)),
                    ("BIG_LIST", f64::from(u8::from(big_list))),
                    ("NPT", f64::from(npt)),
                ],
            )?;
            // Synapses split over up to four bindings of at most the binding limit each.
            // Host-built synapses first, then those the device builds.
            let total_syn = conn.words() as usize;
            check_synapses(&ctx, total_syn as f64)?;
            let syn_cap = syn_cap(&ctx) as usize;
            let syn = &conn.syn;
            let nsyn = total_syn.div_ceil(syn_cap).max(1);
            let dwg = ctx.workgroup_for(&DELIVER_DESC);
            let deliver = ctx.pipeline_with(
                &DELIVER_DESC,
                &[
                    ("WG", f64::from(dwg)),
                    ("NSYN", nsyn as f64),
                    ("BIG_LIST", f64::from(u8::from(big_list))),
                    (
                        "PROCEDURAL",
                        f64::from(u8::from(
                            tab.proj
                                .iter()
                                .any(|p| p.mode != super::super::kernel::proj_mode::STORED),
                        )),
                    ),
                    (
                        "DRAWN",
                        f64::from(u8::from(tab.proj.iter().any(|p| {
                            p.words > 1 || p.dbits > 0 || p.wdist.kind != 0 || p.ddist.kind != 0
                        }))),
                    ),
                ],
            )?;
            // State for this device's neurons only, in the order the tables' `own_base` and
            // `own_stride` give (every neuron on one process).
            let n = s.held(&tab.pops) as usize;
            let cfg = ctx.scoped("allocating the block parameters", || {
                ctx.device().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("spiking.cfg"),
                    size: UNIFORM_STRIDE * s.max_blocks.max(1) as u64,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })?;
            // Whole workgroups per table entry (a population of one sweep combination, all
            // its replicas), so a workgroup's population and parameters are uniform.
            let v0: Vec<f32> = s
                .owned_intervals(&tab.pops)
                .into_iter()
                .flat_map(|(a, b)| a..b)
                .map(|g| s.initial_v(&tab.pops, g as u32))
                .collect();
            let mut n_groups = 0u32;
            for p in &mut tab.pops {
                p.wg0 = n_groups;
                n_groups += ((p.own_hi - p.own_lo) * s.replicas_per_combo).div_ceil(wg * npt);
            }
            let pops = ctx.storage_buffer_init(
                "spiking.pops",
                &at_least_one(&tab.pops),
                BufferSpec::Input,
            )?;
            let coef = ctx.storage_buffer_init(
                "spiking.coef",
                &at_least_one(&tab.coef),
                BufferSpec::Input,
            )?;
            let ports = ctx.storage_buffer_init(
                "spiking.ports",
                &at_least_one(&tab.ports),
                BufferSpec::Input,
            )?;
            let pois = ctx.storage_buffer_init(
                "spiking.pois",
                &at_least_one(&tab.pois),
                BufferSpec::Input,
            )?;
            let proj = ctx.storage_buffer_init(
                "spiking.proj",
                &at_least_one(&tab.proj),
                BufferSpec::Input,
            )?;
            let stim = ctx.storage_buffer("spiking.stim", s.stim_words * 4, BufferSpec::Input)?;
            let v_m = ctx.storage_buffer_init("spiking.v_m", &v0, BufferSpec::State)?;
            let i_syn = ctx.storage_buffer("spiking.i_syn", n as u64 * 8, BufferSpec::State)?;
            let refr = ctx.storage_buffer("spiking.refr", n as u64 * 4, BufferSpec::State)?;
            let adapt_words = if s.nk != [0, 0] {
                2 * MAX_KERNELS * n
            } else {
                1
            };
            let adapt =
                ctx.storage_buffer("spiking.adapt", adapt_words as u64 * 4, BufferSpec::State)?;
            let ring = ctx.storage_buffer("spiking.ring", s.ring_words * 4, BufferSpec::State)?;
            let y0 = u32::from(!big_list);
            let ctl_init: [u32; 12] = [0, y0, 1, 0, 0, y0, 1, 0, 0, 0, 0, 0];
            let ctl = ctx.scoped("allocating the spike-list counters", || {
                ctx.device()
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("spiking.ctl"),
                        contents: bytemuck::cast_slice(&ctl_init),
                        usage: wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::INDIRECT
                            | wgpu::BufferUsages::COPY_SRC
                            | wgpu::BufferUsages::COPY_DST,
                    })
            })?;
            let spk = ctx.storage_buffer(
                "spiking.spike_list",
                u64::from(s.spk_cap) * 8,
                BufferSpec::State,
            )?;
            let act = ctx.storage_buffer("spiking.activity", s.act_words * 4, BufferSpec::State)?;
            let rec = ctx.storage_buffer(
                "spiking.spike_record",
                u64::from(s.rec_cap.max(1)) * 8,
                BufferSpec::State,
            )?;
            let trace =
                ctx.storage_buffer("spiking.trace", s.trace_words * 4, BufferSpec::State)?;
            let mut syn_bufs = Vec::new();
            for b in 0..MAX_SYN_BINDINGS {
                let lo = (b * syn_cap).min(total_syn);
                let hi = ((b + 1) * syn_cap).min(total_syn);
                let buf = ctx.storage_buffer(
                    &format!("spiking.synapses{b}"),
                    (hi - lo) as u64 * 4,
                    BufferSpec::Input,
                )?;
                let (hlo, hhi) = (lo.min(syn.len()), hi.min(syn.len()));
                if hhi > hlo {
                    ctx.write(&buf, 0, &syn[hlo..hhi]);
                }
                syn_bufs.push(buf);
            }
            // Row starts, completed on the device for the projections it builds.
            let mut rowptr_host = std::mem::take(&mut conn.rowptr);
            build_on_device(
                &ctx,
                &conn.device,
                syn_cap as u32,
                &mut rowptr_host,
                &syn_bufs,
            )?;
            let rowptr =
                ctx.storage_buffer_init("spiking.rowptr", &rowptr_host, BufferSpec::Input)?;
            drop(rowptr_host);
            drop(tab);
            let neuron_bind = neuron.bind(
                &ctx,
                &[
                    &cfg, &pops, &coef, &ports, &pois, &stim, &v_m, &i_syn, &refr, &adapt, &ring,
                    &ctl, &spk, &act, &rec, &trace,
                ],
            )?;
            let deliver_bind = deliver.bind(
                &ctx,
                &[
                    &cfg,
                    &pops,
                    &proj,
                    &ctl,
                    &spk,
                    &rowptr,
                    &ring,
                    &syn_bufs[0],
                    &syn_bufs[1],
                    &syn_bufs[2],
                    &syn_bufs[3],
                ],
            )?;
            Ok(Self {
                ctx,
                neuron,
                deliver,
                neuron_bind,
                deliver_bind,
                cfg,
                stim,
                v_m,
                ctl,
                act,
                rec,
                trace,
                spk,
                n_total: n as u32,
                n_groups,
                split: s.split.1 > 1,
                big_list,
                spk_cap: s.spk_cap,
                rec_cap: s.rec_cap,
                syn_cap: syn_cap as u32,
                has_stim,
            })
        }
    }

    impl GpuEngine {
        /// The `neuron_step` grid: whole workgroups per table entry.
        fn neuron_grid(&self) -> [u32; 3] {
            crate::kernels::dispatch_grid(
                u64::from(self.n_groups) * u64::from(self.neuron.workgroup()),
                self.neuron.workgroup(),
                self.ctx.limits().max_compute_workgroups_per_dimension,
            )
        }

        /// Block `i`'s `deliver_spikes`, sized by its spike-list counter set.
        fn dispatch_delivery(&self, pass: &mut wgpu::ComputePass<'_>, i: usize, c: &NetConfig) {
            let off = [(i as u64 * UNIFORM_STRIDE) as u32];
            self.deliver.dispatch_indirect_with(
                pass,
                &self.deliver_bind,
                &off,
                &self.ctl,
                16 * u64::from(c.parity),
            );
        }

        /// The blocks of a chunk when MPI ranks share the neurons: each block's
        /// `neuron_step` in its own submit, its spike list read back and all-gathered, every
        /// rank's spikes written back as the list `deliver_spikes` reads (delivered only to
        /// this device's targets, the tables' `tgt_lo .. tgt_hi`).
        fn run_shared_blocks(&mut self, cfgs: &[NetConfig]) -> Result<()> {
            let grid = self.neuron_grid();
            for (i, c) in cfgs.iter().enumerate() {
                let off = [(i as u64 * UNIFORM_STRIDE) as u32];
                let encoder = |label: &str| {
                    self.ctx
                        .device()
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some(label),
                        })
                };
                let mut enc = encoder("spiking block: neurons");
                {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("neuron_step"),
                        timestamp_writes: None,
                    });
                    self.neuron
                        .dispatch_grid_with(&mut pass, &self.neuron_bind, &off, grid);
                }
                self.ctx.queue().submit([enc.finish()]);
                // This block's counter set: [x, y, z, count] (BIG_LIST) or [count, 1, 1, -].
                let cset = 4 * u64::from(c.parity);
                let counters: Vec<u32> = self.ctx.read(&self.ctl, cset, 4)?;
                let n = counters
                    .get(if self.big_list { 3 } else { 0 })
                    .copied()
                    .unwrap_or(0)
                    .min(self.spk_cap) as usize;
                let mine: Vec<u32> = self.ctx.read(&self.spk, 0, 2 * n)?;
                let all = crate::ranks::all_gather_words(&mine);
                let m = (all.len() / 2).min(self.spk_cap as usize);
                if m > 0 {
                    self.ctx.write(&self.spk, 0, &all[..2 * m]);
                }
                let m = m as u32;
                let set = if self.big_list {
                    [m.min(65_535), m.div_ceil(65_535), 1, m]
                } else {
                    [m, 1, 1, 0]
                };
                self.ctx.write(&self.ctl, cset * 4, &set);
                let mut enc = encoder("spiking block: delivery");
                {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some("deliver_spikes"),
                        timestamp_writes: None,
                    });
                    self.dispatch_delivery(&mut pass, i, c);
                }
                self.ctx.queue().submit([enc.finish()]);
            }
            Ok(())
        }
    }

    impl SpikingEngine for GpuEngine {
        fn run_chunk(&mut self, cfgs: &[NetConfig], stim: &[f32]) -> Result<()> {
            let mut bytes = vec![0u8; UNIFORM_STRIDE as usize * cfgs.len()];
            for (i, c) in cfgs.iter().enumerate() {
                let o = i * UNIFORM_STRIDE as usize;
                bytes[o..o + std::mem::size_of::<NetConfig>()]
                    .copy_from_slice(bytemuck::bytes_of(c));
            }
            self.ctx.queue().write_buffer(&self.cfg, 0, &bytes);
            if self.has_stim && !stim.is_empty() {
                self.ctx.write(&self.stim, 0, stim);
            }
            // Spike-record counter.
            self.ctx.write(&self.ctl, 32, &[0u32]);
            let mut encoder =
                self.ctx
                    .device()
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("spiking chunk"),
                    });
            encoder.clear_buffer(&self.act, 0, None);
            if self.split {
                self.ctx.queue().submit([encoder.finish()]);
                return self.run_shared_blocks(cfgs);
            }
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("spiking chunk"),
                    timestamp_writes: None,
                });
                let grid = self.neuron_grid();
                for (i, c) in cfgs.iter().enumerate() {
                    let off = [(i as u64 * UNIFORM_STRIDE) as u32];
                    self.neuron
                        .dispatch_grid_with(&mut pass, &self.neuron_bind, &off, grid);
                    self.dispatch_delivery(&mut pass, i, c);
                }
            }
            self.ctx.queue().submit([encoder.finish()]);
            Ok(())
        }

        fn activity(&mut self, len: usize) -> Result<Vec<u32>> {
            self.ctx.read(&self.act, 0, len)
        }

        fn recorded_spikes(&mut self) -> Result<Vec<[u32; 2]>> {
            let n: Vec<u32> = self.ctx.read(&self.ctl, 8, 1)?;
            let n = n[0].min(self.rec_cap) as usize;
            let flat: Vec<u32> = self.ctx.read(&self.rec, 0, 2 * n)?;
            let mut v: Vec<[u32; 2]> = flat.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
            v.sort_unstable();
            Ok(v)
        }

        fn trace(&mut self, len: usize) -> Result<Vec<f32>> {
            self.ctx.read(&self.trace, 0, len)
        }

        fn voltages(&mut self) -> Result<Vec<f32>> {
            self.ctx.read(&self.v_m, 0, self.n_total as usize)
        }

        fn syn_cap(&self) -> u32 {
            self.syn_cap
        }
    }
}
