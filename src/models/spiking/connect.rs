//! Connectivity: each projection's synapses as compressed rows by source (CSR), built on the
//! host from the counter-based RNG so both paths deliver to exactly the same targets.
//!
//! Every draw is a pure function of (seed, element, projection, purpose `Connect`): for
//! `fixed_indegree` the element is the global target neuron (replica x neurons + index) and
//! its stream gives its `indegree` sources; for `pairwise_bernoulli` the element is the
//! global source neuron and its stream gives the gaps between its targets; for
//! `fixed_total_number` the out-degrees are a multinomial draw per replica and synapse d of
//! source g has its target in lane d % 4 of the Philox block (g, projection, Connect, d / 4),
//! so a row can also be drawn again at delivery (procedural). Synapses may carry a delay and a
//! weight drawn per synapse ([`super::synapse`]). Rows list targets in increasing order.
//! Only the integer sums delivered through them matter to the models, so the order inside a
//! row never changes a result.
//!
//! On the GPU path `fixed_indegree` projections (with multapses) are built on the device
//! instead: `connect_count` (shaders/connect_count.wgsl) counts each source's targets, the
//! host turns the counts into row starts, and `connect_fill` writes the targets; both draw
//! exactly the host's streams, so the synapses are the same and only the order inside a row
//! differs. The functions of the same names below are their CPU twins, and the host build uses
//! them too.

use super::kernel::part_range;
use super::synapse::SynDist;
use crate::cpu::par_chunks_mut;
use crate::error::{Error, Result};
use crate::kernels::{Binding, BindingKind, KernelDesc, Layout};
use crate::rng::{Purpose, Rng};
use crate::spec::Rule;

/// Largest in-degree built on the device: each invocation draws `indegree` sources (plus the
/// Philox loops) within lavapipe's loop budget ([`crate::kernels::GPU_LOOP_BUDGET`]).
pub const DEVICE_MAX_INDEGREE: u32 = 10_000;

/// Parameters of `connect_count` / `connect_fill` for one projection. Keep in sync with
/// `struct ConnConfig` in shaders/shared/connect.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConnConfig {
    /// Replicas (each its own draws).
    pub replicas: u32,
    /// Source population size.
    pub n_src: u32,
    /// Target population size.
    pub n_tgt: u32,
    /// Sources per target.
    pub indegree: u32,
    /// Seed, low word.
    pub seed_lo: u32,
    /// Seed, high word.
    pub seed_hi: u32,
    /// Projection index (the stream's step word).
    pub proj: u32,
    /// Neurons per replica.
    pub n_neurons: u32,
    /// First neuron of the target population within a replica.
    pub tgt0: u32,
    /// 1 when a neuron may not connect to itself (same population, no autapses).
    pub forbid_self: u32,
    /// Synapses per `syn*` binding (`connect_fill`).
    pub syn_cap: u32,
    /// Padding.
    pub _pad: u32,
}

impl ConnConfig {
    /// The parameters of projection `k` (rule `fixed_indegree`).
    pub fn new(c: &ConnSpec, k: u32, seed: u64, replicas: u32, n_neurons: u32) -> Self {
        Self {
            replicas,
            n_src: c.src.1,
            n_tgt: c.tgt.1,
            indegree: c.indegree,
            seed_lo: seed as u32,
            seed_hi: (seed >> 32) as u32,
            proj: k,
            n_neurons,
            tgt0: c.tgt.0,
            forbid_self: u32::from(c.same_population() && !c.autapses),
            syn_cap: u32::MAX,
            _pad: 0,
        }
    }

    /// Threads (targets over all replicas) of one pass.
    pub fn threads(&self) -> u64 {
        u64::from(self.replicas) * u64::from(self.n_tgt)
    }

    /// Synapses of the projection over all replicas.
    pub fn synapses(&self) -> u64 {
        self.threads() * u64::from(self.indegree)
    }
}

/// `connect_stream`: the random stream of target `j` of replica `r`.
fn connect_stream(c: &ConnConfig, r: u32, j: u32) -> Rng {
    let seed = u64::from(c.seed_lo) | (u64::from(c.seed_hi) << 32);
    Rng::new(
        seed,
        r * c.n_neurons + c.tgt0 + j,
        c.proj,
        Purpose::Connect.word(),
    )
}

/// `connect_next_source`: the next source of target `j`.
fn connect_next_source(c: &ConnConfig, rng: &mut Rng, j: u32) -> u32 {
    let mut s = below(rng.next_u32(), c.n_src);
    while c.forbid_self != 0 && s == j {
        s = below(rng.next_u32(), c.n_src);
    }
    s
}

/// CPU twin of `connect_count` for thread `t` (target `t % n_tgt` of replica `t / n_tgt`):
/// adds its sources to `counts[r * n_src + s]`.
pub fn connect_count(cfg: &ConnConfig, t: u32, counts: &mut [u32]) {
    let r = t / cfg.n_tgt;
    let j = t % cfg.n_tgt;
    let mut rng = connect_stream(cfg, r, j);
    for _ in 0..cfg.indegree {
        let s = connect_next_source(cfg, &mut rng, j);
        counts[(r * cfg.n_src + s) as usize] += 1;
    }
}

/// CPU twin of `connect_fill` for thread `t`: appends its target to the row of each of its
/// sources at `next[r * n_src + s]` (the shader splits `syn` over bindings of `syn_cap`).
pub fn connect_fill(cfg: &ConnConfig, t: u32, next: &mut [u32], syn: &mut [u32]) {
    let r = t / cfg.n_tgt;
    let j = t % cfg.n_tgt;
    let mut rng = connect_stream(cfg, r, j);
    for _ in 0..cfg.indegree {
        let s = connect_next_source(cfg, &mut rng, j);
        let pos = &mut next[(r * cfg.n_src + s) as usize];
        syn[*pos as usize] = j;
        *pos += 1;
    }
}

/// Descriptor of the `connect_count` kernel.
pub const COUNT_DESC: KernelDesc = KernelDesc {
    name: "connect_count",
    shader: "connect_count.wgsl",
    entry: "connect_count",
    workgroup_size: [64, 1, 1],
    overrides: &[],
    bindings: &[
        Binding::uniform::<ConnConfig>("cfg"),
        Binding::new("counts", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// Descriptor of the `connect_fill` kernel.
pub const FILL_DESC: KernelDesc = KernelDesc {
    name: "connect_fill",
    shader: "connect_fill.wgsl",
    entry: "connect_fill",
    workgroup_size: [64, 1, 1],
    overrides: &[],
    bindings: &[
        Binding::uniform::<ConnConfig>("cfg"),
        Binding::new("next", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("syn0", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("syn1", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("syn2", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("syn3", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// Out-degrees of the `ns` sources of one projection onto the targets `targets.0 ..
/// targets.1`: `count(j, counts)` adds target `j`'s sources; the targets are split over the
/// CPU threads, each with its own counts, summed in thread order (integers: the split never
/// changes the result).
fn count_sources(
    ns: usize,
    targets: (u32, u32),
    count: impl Fn(u32, &mut [u32]) + Sync,
) -> Vec<u32> {
    let threads = crate::cpu::threads().max(1);
    let mut counts = vec![vec![0u32; ns]; threads];
    let (j0, nt) = (
        targets.0 as usize,
        targets.1.saturating_sub(targets.0) as usize,
    );
    let per = nt.div_ceil(threads).max(1);
    par_chunks_mut(&mut counts, 1, |t0, chunk| {
        for (dt, cnt) in chunk.iter_mut().enumerate() {
            let t = t0 + dt;
            for j in (j0 + t * per)..(j0 + ((t + 1) * per).min(nt)) {
                count(j as u32, cnt);
            }
        }
    });
    let mut total = vec![0u32; ns];
    for cnt in &counts {
        total.iter_mut().zip(cnt).for_each(|(a, b)| *a += b);
    }
    total
}

/// Appends the row starts of sources with out-degrees `counts` (their synapses from `base`
/// on) to `conn.rowptr`, grows `conn.syn` to hold them, and returns each row's first free
/// position relative to `base` (the fill's cursors).
fn row_starts(conn: &mut Connectivity, counts: &[u32], base: usize) -> Vec<u32> {
    let mut next = Vec::with_capacity(counts.len());
    let mut acc = base as u64;
    for &n in counts {
        conn.rowptr.push(acc as u32);
        next.push((acc as usize - base) as u32);
        acc += u64::from(n);
    }
    conn.syn.resize(acc as usize, 0);
    next
}

/// One projection to build.
#[derive(Debug, Clone, Copy)]
pub struct ConnSpec {
    /// Connection rule.
    pub rule: Rule,
    /// First neuron of the source population within a replica, and its size.
    pub src: (u32, u32),
    /// First neuron of the target population within a replica, and its size.
    pub tgt: (u32, u32),
    /// `fixed_indegree`: sources per target.
    pub indegree: u32,
    /// `fixed_total_number`: synapses in all (per replica).
    pub n_total: u64,
    /// `pairwise_bernoulli`: connection probability.
    pub p: f64,
    /// Whether a neuron may connect to itself (only matters when source = target).
    pub autapses: bool,
    /// Whether a pair may be connected more than once (`fixed_indegree`).
    pub multapses: bool,
    /// Targets regenerated at delivery (`deliver_spikes`), nothing stored.
    pub procedural: bool,
    /// Words per stored synapse: 1 (target), 2 (target, weight in quanta).
    pub words: u32,
    /// Low bits of a synapse's first word holding its delay (steps above the shortest);
    /// the target index sits above them. 0 unless delays are drawn.
    pub dbits: u32,
    /// Weights drawn per synapse (kind 0: one weight, not stored).
    pub wdist: SynDist,
    /// Delays drawn per synapse (kind 0: one delay).
    pub ddist: SynDist,
}

impl ConnSpec {
    fn same_population(&self) -> bool {
        self.src == self.tgt
    }

    /// Synapses of one replica: exact for every rule but `pairwise_bernoulli` (expected).
    pub fn expected_synapses(&self) -> f64 {
        let (ns, nt) = (f64::from(self.src.1), f64::from(self.tgt.1));
        let self_pairs = if self.same_population() && !self.autapses {
            ns
        } else {
            0.0
        };
        match self.rule {
            Rule::AllToAll => ns * nt - self_pairs,
            Rule::OneToOne => nt - self_pairs,
            Rule::FixedIndegree => f64::from(self.indegree) * nt,
            Rule::FixedTotalNumber => self.n_total as f64,
            Rule::PairwiseBernoulli => self.p * (ns * nt - self_pairs),
        }
    }

    /// Whether synapses carry more than their target (a drawn weight or delay), or the rule
    /// is only built by [`build_drawn`].
    fn drawn(&self) -> bool {
        self.words > 1 || self.dbits > 0 || self.rule == Rule::FixedTotalNumber
    }

    /// The most synapses of this projection onto one target neuron over `replicas` replicas
    /// (what a target's summed weights must hold): exact for `fixed_indegree` and
    /// `fixed_total_number` (whose synapses are drawn here as [`build`] and delivery draw
    /// them, counting the targets), the source count for the rules drawn per pair.
    pub fn max_indegree(&self, seed: u64, k: u32, replicas: u32, n_neurons: u32) -> u64 {
        match self.rule {
            Rule::FixedIndegree => u64::from(self.indegree),
            Rule::FixedTotalNumber => (0..replicas)
                .map(|r| total_number_indegrees(self, seed, k, r, n_neurons))
                .map(|d| d.into_iter().max().unwrap_or(0))
                .max()
                .map_or(0, u64::from),
            Rule::OneToOne => 1,
            Rule::AllToAll | Rule::PairwiseBernoulli => u64::from(self.src.1),
        }
    }
}

/// RNG purpose word of the out-degrees of `fixed_total_number` (element = replica,
/// step = projection): above every segment purpose of procedural rows.
const DEGREE_PURPOSE: u32 = Purpose::Connect.word() + 256 * 0x00FF_FFFF;

/// The out-degrees of a `fixed_total_number` projection in replica `r`: `N` synapses spread
/// over the sources as a multinomial (source s takes a binomial share of what the sources
/// before it left, with probability 1 / (sources left)), one stream per replica and
/// projection. Each synapse then draws its target uniformly ([`total_number_target`]), so
/// every synapse joins a uniformly drawn pair, as NEST's `fixed_total_number`; a source's
/// targets can be drawn again at delivery (procedural), as GeNN does.
pub fn total_number_degrees(c: &ConnSpec, seed: u64, k: u32, r: u32) -> Vec<u32> {
    let ns = c.src.1;
    let mut rng = Rng::new(seed, r, k, DEGREE_PURPOSE);
    let mut left = c.n_total.min(u64::from(u32::MAX)) as u32;
    let mut out = Vec::with_capacity(ns as usize);
    for s in 0..ns {
        let rest = ns - s;
        let ks = if rest == 1 {
            left
        } else {
            rng.binomial(left, (1.0 / f64::from(rest)) as f32).min(left)
        };
        out.push(ks);
        left -= ks;
    }
    out
}

/// The target (index in the target population) of a `fixed_total_number` synapse from raw
/// draw `x`: uniform over the target population, or over all but the source itself
/// (`local`) when autapses are not allowed. Draw d of source g is lane d % 4 of the Philox
/// block (g, projection, Connect, d / 4): any synapse of a row can be drawn on its own.
#[inline(always)]
pub fn total_number_target(x: u32, nt: u32, forbid_self: bool, local: u32) -> u32 {
    if forbid_self {
        let t = below(x, nt - 1);
        t + u32::from(t >= local)
    } else {
        below(x, nt)
    }
}

/// In-degrees of a `fixed_total_number` projection in replica `r` (sources split over the
/// threads, each with its own counts, summed in thread order).
fn total_number_indegrees(c: &ConnSpec, seed: u64, k: u32, r: u32, n_neurons: u32) -> Vec<u32> {
    let degrees = total_number_degrees(c, seed, k, r);
    let (ns, nt) = (c.src.1 as usize, c.tgt.1 as usize);
    let threads = crate::cpu::threads().max(1);
    let per = ns.div_ceil(threads).max(1);
    let mut counts = vec![vec![0u32; nt]; threads];
    let key = crate::rng::seed_key(seed);
    let forbid_self = c.same_population() && !c.autapses;
    par_chunks_mut(&mut counts, 1, |t0, chunk| {
        for (dt, cnt) in chunk.iter_mut().enumerate() {
            let t = t0 + dt;
            let (s0, s1) = ((t * per).min(ns), ((t + 1) * per).min(ns));
            for (s, &deg) in degrees.iter().enumerate().take(s1).skip(s0) {
                let g = r * n_neurons + c.src.0 + s as u32;
                total_number_row(key, g, k, deg, c.tgt.1, forbid_self, s as u32, |_, j| {
                    cnt[j as usize] += 1;
                });
            }
        }
    });
    let mut total = vec![0u32; nt];
    for cnt in &counts {
        total.iter_mut().zip(cnt).for_each(|(a, b)| *a += b);
    }
    total
}

/// Calls `f(d, target)` for the `deg` synapses of source `g` (index `local` in its
/// population) of a `fixed_total_number` projection `k`, in draw order.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn total_number_row(
    key: [u32; 2],
    g: u32,
    k: u32,
    deg: u32,
    nt: u32,
    forbid_self: bool,
    local: u32,
    mut f: impl FnMut(u32, u32),
) {
    for b in 0..deg.div_ceil(4) {
        let x = crate::rng::philox4x32_10([g, k, Purpose::Connect.word(), b], key);
        for (i, &xi) in x.iter().enumerate() {
            let d = 4 * b + i as u32;
            if d >= deg {
                break;
            }
            f(d, total_number_target(xi, nt, forbid_self, local));
        }
    }
}

/// The CSR of every projection of every replica: projection `k`'s rows start at
/// `row0[k]` in `rowptr`, one row per (replica, source neuron), and hold indices into `syn`
/// (targets as indices within the target population).
#[derive(Debug, Clone, Default)]
pub struct Connectivity {
    /// Row starts, `R * N_src + 1` entries per projection.
    pub rowptr: Vec<u32>,
    /// First `rowptr` entry of each projection.
    pub row0: Vec<u32>,
    /// Every synapse built on the host: its target (one word), or with values drawn per
    /// synapse its target and delay offset (`target << dbits | delay - shortest`) and, with
    /// drawn weights, a second word with the weight in quanta. Rows of two-word synapses
    /// start at even positions.
    pub syn: Vec<u32>,
    /// With `Some(n)`, `syn` holds `n` 16-bit targets, two per word ([`Connectivity::narrow`],
    /// read through [`Connectivity::syn16`]).
    pub narrowed: Option<usize>,
    /// Synapses built on the host.
    pub count: u64,
    /// Projections left to build on the device: their `rowptr` entries are reserved (zero)
    /// and their synapses follow those in `syn`.
    pub device: Vec<DeviceProjection>,
}

/// A projection to build on the device.
#[derive(Debug, Clone, Copy)]
pub struct DeviceProjection {
    /// The kernels' parameters.
    pub cfg: ConnConfig,
    /// Index in `rowptr` of its first row start.
    pub rowptr_at: usize,
    /// Position of its first synapse.
    pub syn_at: u64,
}

impl Connectivity {
    /// Synapses built on the host and on the device.
    pub fn synapses(&self) -> u64 {
        self.count + self.device.iter().map(|d| d.cfg.synapses()).sum::<u64>()
    }

    /// Stores the synapses in 16 bits (`syn16`) when every stored synapse is one word (its
    /// target: no drawn weight or delay) below 2^16 and nothing is left to a device, for the
    /// CPU path, which then streams half the bytes per synaptic event.
    /// Packed in place (entry i moves to the 16 bits at byte 2i, which only ever overwrites
    /// entries already moved), so no second array is allocated.
    pub fn narrow(&mut self, specs: &[ConnSpec]) {
        let one_word = specs
            .iter()
            .all(|c| c.procedural || (c.words == 1 && c.dbits == 0 && c.tgt.1 <= 1 << 16));
        if !one_word || !self.device.is_empty() || self.narrowed.is_some() {
            return;
        }
        let n = self.syn.len();
        {
            let halves: &mut [u16] = bytemuck::cast_slice_mut(&mut self.syn[..]);
            let low = usize::from(cfg!(target_endian = "big"));
            for i in 0..n {
                halves[i] = halves[2 * i + low];
            }
        }
        self.syn.truncate(n.div_ceil(2));
        self.syn.shrink_to_fit();
        self.narrowed = Some(n);
    }

    /// The 16-bit targets of a narrowed connectivity (empty otherwise).
    pub fn syn16(&self) -> &[u16] {
        match self.narrowed {
            Some(n) => &bytemuck::cast_slice::<u32, u16>(&self.syn)[..n],
            None => &[],
        }
    }

    /// Words of the synapse array: those built on the host (with padding) and on the device.
    pub fn words(&self) -> u64 {
        self.syn.len() as u64 + self.device.iter().map(|d| d.cfg.synapses()).sum::<u64>()
    }
}

/// Whether projection `c` can be built on the device (`fixed_indegree` with multapses; the
/// others are cheap on the host or procedural).
pub fn device_buildable(c: &ConnSpec) -> bool {
    !c.procedural
        && !c.drawn()
        && c.rule == Rule::FixedIndegree
        && c.multapses
        && c.indegree <= DEVICE_MAX_INDEGREE
}

/// A uniform integer in `[0, n)` from one draw (multiply-shift; bias below n / 2^32).
fn below(x: u32, n: u32) -> u32 {
    ((u64::from(x) * u64::from(n)) >> 32) as u32
}

/// The sources of target `j` (index within its population) of replica `r`.
fn indegree_sources(
    c: &ConnSpec,
    seed: u64,
    k: u32,
    r: u32,
    n_neurons: u32,
    j: u32,
    out: &mut Vec<u32>,
) {
    sources_of(c, c.indegree, seed, k, r, n_neurons, j, out);
}

/// `count` sources of target `j` of replica `r` (the `fixed_indegree` draw).
#[allow(clippy::too_many_arguments)]
fn sources_of(
    c: &ConnSpec,
    count: u32,
    seed: u64,
    k: u32,
    r: u32,
    n_neurons: u32,
    j: u32,
    out: &mut Vec<u32>,
) {
    out.clear();
    let element = r * n_neurons + c.tgt.0 + j;
    let mut rng = Rng::new(seed, element, k, Purpose::Connect.word());
    let ns = c.src.1;
    let forbid_self = c.same_population() && !c.autapses;
    while out.len() < count as usize {
        let s = below(rng.next_u32(), ns);
        if forbid_self && s == j {
            continue;
        }
        if !c.multapses && out.contains(&s) {
            continue;
        }
        out.push(s);
    }
}

/// The targets of source `s` of replica `r` under `pairwise_bernoulli` (geometric gaps).
fn bernoulli_targets(
    c: &ConnSpec,
    seed: u64,
    k: u32,
    r: u32,
    n_neurons: u32,
    s: u32,
    out: &mut Vec<u32>,
) {
    out.clear();
    if c.p <= 0.0 {
        return;
    }
    let element = r * n_neurons + c.src.0 + s;
    let mut rng = Rng::new(seed, element, k, Purpose::Connect.word());
    let nt = c.tgt.1;
    let forbid_self = c.same_population() && !c.autapses;
    if c.p >= 1.0 {
        out.extend((0..nt).filter(|&j| !(forbid_self && j == s)));
        return;
    }
    let log_q = (1.0 - c.p).ln();
    let mut j: i64 = -1;
    loop {
        // u in (0, 1] from 32 bits; gap >= 0.
        let u = (f64::from(rng.next_u32()) + 1.0) / 4_294_967_296.0;
        let gap = (u.ln() / log_q).floor();
        if !gap.is_finite() || j as f64 + gap + 1.0 >= f64::from(nt) {
            break;
        }
        j += gap as i64 + 1;
        if !(forbid_self && j as u32 == s) {
            out.push(j as u32);
        }
    }
}

/// The words of one synapse of `c` onto target `j`: target and delay offset, weight in
/// quanta (1 when not drawn), its values drawn from the streams keyed (element, step).
#[inline]
fn synapse_words(c: &ConnSpec, seed: u64, element: u32, step: u32, j: u32) -> [u32; 2] {
    let mut w0 = j.checked_shl(c.dbits).unwrap_or(0);
    if c.ddist.kind != 0 {
        w0 |= c.ddist.steps(c.ddist.draw(seed, element, step)) - c.ddist.base;
    }
    let w1 = if c.wdist.kind != 0 {
        c.wdist.quantum(c.wdist.draw(seed, element, step))
    } else {
        1
    };
    [w0, w1]
}

/// Builds replica `r` of a projection whose synapses carry drawn values (or of a
/// `fixed_total_number` projection); returns its synapse count. `fixed_indegree` counts the
/// out-degrees first (targets split over the threads), then draws the synapses of batches of
/// targets in parallel and writes them in target order, so rows stay sorted by target;
/// `fixed_total_number` draws its rows by source in parallel (each sorted by target); rules
/// drawn per pair go source by source.
fn build_drawn(
    conn: &mut Connectivity,
    c: &ConnSpec,
    seed: u64,
    k: u32,
    r: u32,
    n_neurons: u32,
    targets: (u32, u32),
) -> u64 {
    let own = |j: u32| targets.0 <= j && j < targets.1;
    const BATCH: usize = 8192;
    let words = c.words as usize;
    let base = conn.syn.len();
    let (ns, nt) = (c.src.1 as usize, c.tgt.1 as usize);
    match c.rule {
        Rule::FixedTotalNumber => {
            // Rows by source: out-degrees first, then each row's synapses drawn and sorted by
            // target, rows split over the threads (each writes its own contiguous words).
            let degrees = total_number_degrees(c, seed, k, r);
            let key = crate::rng::seed_key(seed);
            let forbid_self = c.same_population() && !c.autapses;
            if crate::cpu::threads() == 1 {
                // One thread (one worker part of several): row after row, each drawn once,
                // its synapses onto the targets built here sorted and appended.
                let mut row: Vec<(u32, u32, [u32; 2])> = Vec::new();
                let mut total = 0u64;
                for (s, &deg) in degrees.iter().enumerate() {
                    conn.rowptr.push(conn.syn.len() as u32);
                    let g = r * n_neurons + c.src.0 + s as u32;
                    row.clear();
                    total_number_row(key, g, k, deg, c.tgt.1, forbid_self, s as u32, |d, j| {
                        if own(j) {
                            row.push((j, d, synapse_words(c, seed, g, d, j)));
                        }
                    });
                    // By target, then draw: one order whoever builds the row.
                    row.sort_unstable_by_key(|e| (e.0, e.1));
                    for (_, _, w) in &row {
                        conn.syn.extend_from_slice(&w[..words]);
                    }
                    total += row.len() as u64;
                }
                return total;
            }
            // Synapses per row onto the targets built here (all, unless MPI ranks share the
            // neurons: then a first pass draws the rows' targets to count this rank's).
            let kept: Vec<u32> = if targets == (0, c.tgt.1) {
                degrees.clone()
            } else {
                let mut kept = vec![0u32; ns];
                par_chunks_mut(&mut kept, 1, |s0, chunk| {
                    for (ds, n) in chunk.iter_mut().enumerate() {
                        let s = s0 + ds;
                        let g = r * n_neurons + c.src.0 + s as u32;
                        let local = s as u32;
                        total_number_row(
                            key,
                            g,
                            k,
                            degrees[s],
                            c.tgt.1,
                            forbid_self,
                            local,
                            |_, j| {
                                *n += u32::from(own(j));
                            },
                        );
                    }
                });
                kept
            };
            let total: u64 = kept.iter().map(|&n| u64::from(n)).sum();
            let word_counts: Vec<u32> = kept.iter().map(|&n| n * c.words).collect();
            row_starts(conn, &word_counts, base);
            let threads = crate::cpu::threads().max(1);
            let per = ns.div_ceil(threads).max(1);
            let mut rest = &mut conn.syn[base..];
            std::thread::scope(|sc| {
                for t in 0..threads {
                    let (s0, s1) = ((t * per).min(ns), ((t + 1) * per).min(ns));
                    let len: usize = word_counts[s0..s1].iter().map(|&w| w as usize).sum();
                    let (mine, tail) = std::mem::take(&mut rest).split_at_mut(len);
                    rest = tail;
                    let degrees = &degrees;
                    sc.spawn(move || {
                        let mut row: Vec<(u32, u32, [u32; 2])> = Vec::new();
                        let mut at = 0usize;
                        for (s, &deg) in degrees.iter().enumerate().take(s1).skip(s0) {
                            let g = r * n_neurons + c.src.0 + s as u32;
                            row.clear();
                            total_number_row(
                                key,
                                g,
                                k,
                                deg,
                                c.tgt.1,
                                forbid_self,
                                s as u32,
                                |d, j| {
                                    if own(j) {
                                        row.push((j, d, synapse_words(c, seed, g, d, j)));
                                    }
                                },
                            );
                            // By target, then draw: one order whoever builds the row.
                            row.sort_unstable_by_key(|e| (e.0, e.1));
                            for (_, _, w) in &row {
                                mine[at..at + words].copy_from_slice(&w[..words]);
                                at += words;
                            }
                        }
                    });
                }
            });
            total
        }
        Rule::FixedIndegree => {
            let degrees: Vec<u32> = vec![c.indegree; nt];
            let counts = count_sources(ns, targets, |j, cnt| {
                let mut buf = Vec::new();
                sources_of(c, degrees[j as usize], seed, k, r, n_neurons, j, &mut buf);
                for &s in &buf {
                    cnt[s as usize] += 1;
                }
            });
            let total: u64 = counts.iter().map(|&n| u64::from(n)).sum();
            let word_counts: Vec<u32> = counts.iter().map(|&n| n * c.words).collect();
            let mut next = row_starts(conn, &word_counts, base);
            let threads = crate::cpu::threads().max(1);
            let (lo, hi) = (targets.0 as usize, (targets.1 as usize).min(nt));
            for b0 in (lo..hi).step_by(BATCH) {
                let b1 = (b0 + BATCH).min(hi);
                let per = (b1 - b0).div_ceil(threads);
                let mut parts: Vec<Vec<(u32, [u32; 2])>> = vec![Vec::new(); threads];
                par_chunks_mut(&mut parts, 1, |t0, chunk| {
                    let mut buf = Vec::new();
                    for (dt, out) in chunk.iter_mut().enumerate() {
                        let t = t0 + dt;
                        let (j0, j1) = (b0 + t * per, (b0 + (t + 1) * per).min(b1));
                        for (j, &deg) in degrees.iter().enumerate().take(j1).skip(j0) {
                            sources_of(c, deg, seed, k, r, n_neurons, j as u32, &mut buf);
                            let element = r * n_neurons + c.tgt.0 + j as u32;
                            for (d, &s) in buf.iter().enumerate() {
                                out.push((s, synapse_words(c, seed, element, d as u32, j as u32)));
                            }
                        }
                    }
                });
                let rows = &mut conn.syn[base..];
                for part in &parts {
                    for &(s, w) in part {
                        let p = next[s as usize] as usize;
                        rows[p] = w[0];
                        if words == 2 {
                            rows[p + 1] = w[1];
                        }
                        next[s as usize] += c.words;
                    }
                }
            }
            total
        }
        _ => {
            let forbid_self = c.same_population() && !c.autapses;
            let mut buf = Vec::new();
            let mut total = 0u64;
            for s in 0..ns as u32 {
                conn.rowptr.push(conn.syn.len() as u32);
                buf.clear();
                match c.rule {
                    Rule::AllToAll => {
                        buf.extend((0..nt as u32).filter(|&j| !(forbid_self && j == s)));
                    }
                    Rule::OneToOne => {
                        if !forbid_self {
                            buf.push(s);
                        }
                    }
                    _ => bernoulli_targets(c, seed, k, r, n_neurons, s, &mut buf),
                }
                let g = r * n_neurons + c.src.0 + s;
                for &j in buf.iter().filter(|&&j| own(j)) {
                    let w = synapse_words(c, seed, g, j, j);
                    conn.syn.extend_from_slice(&w[..words]);
                    total += 1;
                }
            }
            total
        }
    }
}

/// Builds every projection for `replicas` replicas of a network of `n_neurons` neurons, except
/// those with `on_device[k]`, which get their `rowptr` entries reserved and a
/// [`DeviceProjection`]. Errors when the synapses would not fit 32-bit indices.
pub fn build(
    specs: &[ConnSpec],
    replicas: u32,
    n_neurons: u32,
    seed: u64,
    on_device: &[bool],
) -> Result<Connectivity> {
    build_range(
        specs,
        replicas,
        (0, replicas),
        (0, 1),
        (0, 1),
        n_neurons,
        seed,
        on_device,
    )
}

/// [`build`] with synapses only in replicas `own.0 .. own.1` (the rows of the others are
/// empty), and of those only the synapses onto the targets that worker part `part.0` of
/// `part.1` of rank `split.0` of `split.1` delivers to ([`super::kernel::part_range`] of
/// each population): what one delivery thread of an MPI rank that simulates those replicas,
/// or that part of their neurons, needs.
#[allow(clippy::too_many_arguments)]
pub fn build_range(
    specs: &[ConnSpec],
    replicas: u32,
    own: (u32, u32),
    split: (u32, u32),
    part: (u32, u32),
    n_neurons: u32,
    seed: u64,
    on_device: &[bool],
) -> Result<Connectivity> {
    let mine = |r: u32| own.0 <= r && r < own.1;
    let total: f64 = specs
        .iter()
        .filter(|c| !c.procedural)
        .map(|c| c.expected_synapses() * f64::from(c.words))
        .sum::<f64>()
        * f64::from(replicas);
    if total > f64::from(u32::MAX) * 0.95 {
        return Err(Error::InvalidArgument(format!(
            "the network has about {total:.3e} synapse words: at most {:.3e} (32-bit synapse indices)",
            f64::from(u32::MAX) * 0.95
        )));
    }
    let mut conn = Connectivity::default();
    for (k, c) in specs.iter().enumerate() {
        conn.row0.push(conn.rowptr.len() as u32);
        if c.procedural && c.rule == Rule::FixedTotalNumber {
            // Only the out-degrees: row starts counted in synapses from 0 (no words stored).
            let mut acc = 0u64;
            for r in 0..replicas {
                if !mine(r) {
                    conn.rowptr
                        .extend(std::iter::repeat_n(acc as u32, c.src.1 as usize));
                    continue;
                }
                for d in total_number_degrees(c, seed, k as u32, r) {
                    conn.rowptr.push(acc as u32);
                    acc += u64::from(d);
                }
            }
            if acc > u64::from(u32::MAX) {
                return Err(Error::InvalidArgument(format!(
                    "projection {k}: {acc} synapses over all replicas: at most {} per procedural fixed_total_number projection",
                    u32::MAX
                )));
            }
            conn.rowptr.push(acc as u32);
            continue;
        }
        if c.procedural {
            continue;
        }
        if on_device.get(k).copied().unwrap_or(false) {
            let cfg = ConnConfig::new(c, k as u32, seed, replicas, n_neurons);
            conn.device.push(DeviceProjection {
                cfg,
                rowptr_at: conn.rowptr.len(),
                syn_at: 0,
            });
            conn.rowptr
                .resize(conn.rowptr.len() + (replicas * c.src.1) as usize + 1, 0);
            continue;
        }
        let k = k as u32;
        let ns = c.src.1 as usize;
        // The targets whose synapses this process stores (all unless ranks share neurons).
        let targets = part_range(c.tgt.1, split, part);
        let own = |j: u32| targets.0 <= j && j < targets.1;
        let before = conn.syn.len();
        // Rows of replicas this process does not simulate: empty.
        let skip = |conn: &mut Connectivity| {
            let at = conn.syn.len() as u32;
            conn.rowptr.extend(std::iter::repeat_n(at, ns));
        };
        if c.drawn() {
            if c.words == 2 && conn.syn.len() % 2 == 1 {
                // Two-word rows start at even positions (every row has an even length).
                conn.syn.push(0);
            }
            for r in 0..replicas {
                if mine(r) {
                    conn.count += build_drawn(&mut conn, c, seed, k, r, n_neurons, targets);
                } else {
                    skip(&mut conn);
                }
            }
            conn.rowptr.push(conn.syn.len() as u32);
            continue;
        }
        for r in 0..replicas {
            if !mine(r) {
                skip(&mut conn);
                continue;
            }
            let base = conn.syn.len();
            match c.rule {
                Rule::FixedIndegree if c.multapses => {
                    // The device kernels' twins, one replica at a time: the replica folded
                    // into the first target so that thread j draws target j's stream.
                    let mut cfg = ConnConfig::new(c, k, seed, 1, n_neurons);
                    cfg.tgt0 += r * n_neurons;
                    let counts = count_sources(ns, targets, |j, cnt| connect_count(&cfg, j, cnt));
                    let mut next = row_starts(&mut conn, &counts, base);
                    let rows = &mut conn.syn[base..];
                    for j in targets.0 as usize..targets.1 as usize {
                        connect_fill(&cfg, j as u32, &mut next, rows);
                    }
                }
                Rule::FixedIndegree => {
                    // Without multapses (draws are rejected against the target's earlier
                    // ones). Pass 1: out-degrees (targets in parallel); pass 2: fill rows in
                    // target order by regenerating the same draws.
                    let counts = count_sources(ns, targets, |j, cnt| {
                        let mut buf = Vec::new();
                        indegree_sources(c, seed, k, r, n_neurons, j, &mut buf);
                        for &s in &buf {
                            cnt[s as usize] += 1;
                        }
                    });
                    let mut next = row_starts(&mut conn, &counts, base);
                    let rows = &mut conn.syn[base..];
                    let mut buf = Vec::new();
                    for j in targets.0 as usize..targets.1 as usize {
                        indegree_sources(c, seed, k, r, n_neurons, j as u32, &mut buf);
                        for &s in &buf {
                            rows[next[s as usize] as usize] = j as u32;
                            next[s as usize] += 1;
                        }
                    }
                }
                _ => {
                    let mut buf = Vec::new();
                    for s in 0..ns as u32 {
                        conn.rowptr.push(conn.syn.len() as u32);
                        let forbid_self = c.same_population() && !c.autapses;
                        match c.rule {
                            Rule::AllToAll => conn.syn.extend(
                                (targets.0..targets.1).filter(|&j| !(forbid_self && j == s)),
                            ),
                            Rule::OneToOne => {
                                if !forbid_self && own(s) {
                                    conn.syn.push(s);
                                }
                            }
                            _ => {
                                bernoulli_targets(c, seed, k, r, n_neurons, s, &mut buf);
                                conn.syn.extend(buf.iter().filter(|&&j| own(j)));
                            }
                        }
                    }
                }
            }
        }
        conn.count += (conn.syn.len() - before) as u64;
        conn.rowptr.push(conn.syn.len() as u32);
    }
    let mut at = conn.syn.len() as u64;
    for d in &mut conn.device {
        d.syn_at = at;
        at += d.cfg.synapses();
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::super::kernel::rank_part;
    use super::*;

    fn spec(rule: Rule) -> ConnSpec {
        ConnSpec {
            rule,
            src: (0, 50),
            tgt: (0, 50),
            indegree: 10,
            p: 0.2,
            autapses: false,
            multapses: false,
            procedural: false,
            n_total: 0,
            words: 1,
            dbits: 0,
            wdist: SynDist::default(),
            ddist: SynDist::default(),
        }
    }

    /// (replica, source, target) of every synapse of projection 0.
    fn pairs(c: &Connectivity, ns: u32, r: u32) -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        for s in 0..ns {
            let row = (c.row0[0] + r * ns + s) as usize;
            for &j in &c.syn[c.rowptr[row] as usize..c.rowptr[row + 1] as usize] {
                v.push((s, j));
            }
        }
        v
    }

    #[test]
    fn fixed_indegree_gives_every_target_its_sources() {
        let c = build(&[spec(Rule::FixedIndegree)], 2, 50, 7, &[]).expect("build");
        for r in 0..2 {
            let p = pairs(&c, 50, r);
            assert_eq!(p.len(), 500);
            for j in 0..50 {
                let mut src: Vec<u32> = p.iter().filter(|x| x.1 == j).map(|x| x.0).collect();
                assert_eq!(src.len(), 10);
                assert!(!src.contains(&j), "autapse");
                src.dedup();
                src.sort_unstable();
                src.dedup();
                assert_eq!(src.len(), 10, "multapse");
            }
        }
        // Replicas differ, the same seed gives the same network.
        assert_ne!(pairs(&c, 50, 0), pairs(&c, 50, 1));
        let again = build(&[spec(Rule::FixedIndegree)], 2, 50, 7, &[]).expect("build");
        assert_eq!(c.syn, again.syn);
    }

    #[test]
    fn kernel_twins_draw_the_host_streams_with_multapses() {
        let mut c = spec(Rule::FixedIndegree);
        c.multapses = true;
        c.indegree = 30;
        let conn = build(&[c], 2, 50, 11, &[]).expect("build");
        for r in 0..2 {
            let p = pairs(&conn, 50, r);
            assert_eq!(p.len(), 50 * 30);
            for j in 0..50u32 {
                // The same sources (with repeats) as the per-target reference draw.
                let mut got: Vec<u32> = p.iter().filter(|x| x.1 == j).map(|x| x.0).collect();
                let mut want = Vec::new();
                indegree_sources(&c, 11, 0, r, 50, j, &mut want);
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "replica {r}, target {j}");
                assert!(!got.contains(&j), "autapse");
            }
        }
        // Left to the device: rows reserved, synapses counted, none stored.
        let dev = build(&[c], 2, 50, 11, &[true]).expect("build");
        assert!(dev.syn.is_empty());
        assert_eq!(dev.rowptr.len(), 2 * 50 + 1);
        assert_eq!(dev.synapses(), 2 * 50 * 30);
        assert_eq!(dev.device[0].syn_at, 0);
    }

    #[test]
    fn bernoulli_density_and_all_to_all() {
        let mut s = spec(Rule::PairwiseBernoulli);
        s.src = (0, 400);
        s.tgt = (0, 400);
        let c = build(&[s], 1, 400, 3, &[]).expect("build");
        let n = c.syn.len() as f64;
        let expect = 0.2 * 400.0 * 399.0;
        // Binomial sd is about 160.
        assert!((n - expect).abs() < 800.0, "{n} vs {expect}");
        let a = build(&[spec(Rule::AllToAll)], 1, 50, 3, &[]).expect("build");
        assert_eq!(a.syn.len(), 50 * 49);
    }

    #[test]
    fn ranks_sharing_the_neurons_store_the_rows_of_one_process_between_them() {
        // Every stored rule, with and without drawn values: for K ranks, rank k's rows hold
        // exactly the synapses of the single-process rows onto its targets, in order.
        let mut specs = Vec::new();
        for rule in [
            Rule::FixedIndegree,
            Rule::FixedTotalNumber,
            Rule::PairwiseBernoulli,
            Rule::AllToAll,
            Rule::OneToOne,
        ] {
            let mut c = spec(rule);
            c.tgt = (50, 37);
            c.n_total = 600;
            c.autapses = true;
            specs.push(c);
            c.multapses = true;
            specs.push(c);
            c.words = 2;
            c.wdist = SynDist {
                kind: 1,
                a: 1.0,
                b: 0.2,
                lo: 0.0,
                hi: 2.0,
                scale: 64.0,
                purpose: 7,
                base: 0,
            };
            specs.push(c);
        }
        // Row `row` of projection `k`: its words.
        let row = |c: &Connectivity, k: usize, row: usize| -> Vec<u32> {
            let at = (c.row0[k] as usize) + row;
            c.syn[c.rowptr[at] as usize..c.rowptr[at + 1] as usize].to_vec()
        };
        let whole = build_range(&specs, 2, (0, 2), (0, 1), (0, 1), 87, 5, &[]).expect("build");
        for ranks in [2u32, 3] {
            let parts: Vec<Connectivity> = (0..ranks)
                .map(|k| {
                    build_range(&specs, 2, (0, 2), (k, ranks), (0, 1), 87, 5, &[]).expect("build")
                })
                .collect();
            assert_eq!(
                parts.iter().map(|c| c.synapses()).sum::<u64>(),
                whole.synapses(),
                "{ranks} ranks"
            );
            // Built on one thread (as a worker part is): the same rows.
            for (k, p) in parts.iter().enumerate() {
                let one = crate::cpu::with_threads(1, || {
                    build_range(&specs, 2, (0, 2), (k as u32, ranks), (0, 1), 87, 5, &[])
                })
                .expect("build");
                assert_eq!((&one.rowptr, &one.syn), (&p.rowptr, &p.syn), "rank {k}");
            }
            for (k, c) in specs.iter().enumerate() {
                let words = c.words as usize;
                for r in 0..2 * c.src.1 as usize {
                    let joined: Vec<u32> = parts.iter().flat_map(|p| row(p, k, r)).collect();
                    assert_eq!(joined, row(&whole, k, r), "projection {k}, row {r}");
                    for (rank, p) in parts.iter().enumerate() {
                        let (lo, hi) = rank_part(c.tgt.1, (rank as u32, ranks));
                        let mine = row(p, k, r);
                        assert!(mine.chunks(words).all(|w| lo <= w[0] && w[0] < hi));
                    }
                }
            }
        }
    }

    #[test]
    fn narrowed_rows_hold_the_same_targets_in_half_the_words() {
        let mut c = spec(Rule::FixedIndegree);
        c.tgt = (0, 50);
        let mut conn = build(&[c], 3, 50, 9, &[]).expect("build");
        let wide = conn.syn.clone();
        conn.narrow(&[c]);
        assert_eq!(conn.narrowed, Some(wide.len()));
        assert_eq!(conn.syn.len(), wide.len().div_ceil(2));
        let narrow: Vec<u32> = conn.syn16().iter().map(|&j| u32::from(j)).collect();
        assert_eq!(narrow, wide);
        // Drawn values (two words) stay as they are.
        let mut d = c;
        d.words = 2;
        d.wdist.kind = 1;
        let mut two = build(&[d], 1, 50, 9, &[]).expect("build");
        two.narrow(&[d]);
        assert_eq!(two.narrowed, None);
        assert!(two.syn16().is_empty());
    }
}
