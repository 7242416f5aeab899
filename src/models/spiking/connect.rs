//! Connectivity: each projection's synapses as compressed rows by source (CSR), built on the
//! host from the counter-based RNG so both paths deliver to exactly the same targets.
//!
//! Every draw is a pure function of (seed, element, projection, purpose `Connect`): for
//! `fixed_indegree` the element is the global target neuron (replica x neurons + index) and
//! its stream gives its `indegree` sources; for `pairwise_bernoulli` the element is the
//! global source neuron and its stream gives the gaps between its targets. Rows list targets
//! in increasing order. Only the spike counts delivered through them matter to the models,
//! so the order inside a row never changes a result.

use crate::cpu::par_chunks_mut;
use crate::error::{Error, Result};
use crate::rng::{Purpose, Rng};
use crate::spec::Rule;

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
    /// `pairwise_bernoulli`: connection probability.
    pub p: f64,
    /// Whether a neuron may connect to itself (only matters when source = target).
    pub autapses: bool,
    /// Whether a pair may be connected more than once (`fixed_indegree`).
    pub multapses: bool,
    /// Targets regenerated at delivery (`deliver_spikes`), nothing stored.
    pub procedural: bool,
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
            Rule::PairwiseBernoulli => self.p * (ns * nt - self_pairs),
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
    /// Target of every synapse.
    pub syn: Vec<u32>,
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
    out.clear();
    let element = r * n_neurons + c.tgt.0 + j;
    let mut rng = Rng::new(seed, element, k, Purpose::Connect.word());
    let ns = c.src.1;
    let forbid_self = c.same_population() && !c.autapses;
    while out.len() < c.indegree as usize {
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

/// Builds every projection for `replicas` replicas of a network of `n_neurons` neurons.
/// Errors when the synapses would not fit 32-bit indices.
pub fn build(specs: &[ConnSpec], replicas: u32, n_neurons: u32, seed: u64) -> Result<Connectivity> {
    let total: f64 = specs
        .iter()
        .filter(|c| !c.procedural)
        .map(|c| c.expected_synapses())
        .sum::<f64>()
        * f64::from(replicas);
    if total > f64::from(u32::MAX) * 0.95 {
        return Err(Error::InvalidArgument(format!(
            "the network has about {total:.3e} synapses: at most {:.3e} (32-bit synapse indices)",
            f64::from(u32::MAX) * 0.95
        )));
    }
    let mut conn = Connectivity::default();
    for (k, c) in specs.iter().enumerate() {
        conn.row0.push(conn.rowptr.len() as u32);
        if c.procedural {
            continue;
        }
        let k = k as u32;
        let (ns, nt) = (c.src.1 as usize, c.tgt.1 as usize);
        for r in 0..replicas {
            let base = conn.syn.len();
            match c.rule {
                Rule::FixedIndegree => {
                    // Pass 1: out-degrees (targets in parallel); pass 2: fill rows in target
                    // order by regenerating the same draws.
                    let threads = crate::cpu::threads().max(1);
                    let mut counts = vec![vec![0u32; ns]; threads];
                    let per = nt.div_ceil(threads).max(1);
                    par_chunks_mut(&mut counts, 1, |t0, chunk| {
                        let mut buf = Vec::new();
                        for (dt, cnt) in chunk.iter_mut().enumerate() {
                            let t = t0 + dt;
                            for j in (t * per)..((t + 1) * per).min(nt) {
                                indegree_sources(c, seed, k, r, n_neurons, j as u32, &mut buf);
                                for &s in &buf {
                                    cnt[s as usize] += 1;
                                }
                            }
                        }
                    });
                    let mut next = Vec::with_capacity(ns);
                    let mut acc = base as u64;
                    for s in 0..ns {
                        conn.rowptr.push(acc as u32);
                        next.push(acc as usize - base);
                        acc += counts.iter().map(|cn| u64::from(cn[s])).sum::<u64>();
                    }
                    drop(counts);
                    conn.syn.resize(acc as usize, 0);
                    let rows = &mut conn.syn[base..];
                    let mut buf = Vec::new();
                    for j in 0..nt {
                        indegree_sources(c, seed, k, r, n_neurons, j as u32, &mut buf);
                        for &s in &buf {
                            rows[next[s as usize]] = j as u32;
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
                            Rule::AllToAll => conn
                                .syn
                                .extend((0..nt as u32).filter(|&j| !(forbid_self && j == s))),
                            Rule::OneToOne => {
                                if !forbid_self {
                                    conn.syn.push(s);
                                }
                            }
                            _ => {
                                bernoulli_targets(c, seed, k, r, n_neurons, s, &mut buf);
                                conn.syn.extend_from_slice(&buf);
                            }
                        }
                    }
                }
            }
        }
        conn.rowptr.push(conn.syn.len() as u32);
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
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
        let c = build(&[spec(Rule::FixedIndegree)], 2, 50, 7).expect("build");
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
        let again = build(&[spec(Rule::FixedIndegree)], 2, 50, 7).expect("build");
        assert_eq!(c.syn, again.syn);
    }

    #[test]
    fn bernoulli_density_and_all_to_all() {
        let mut s = spec(Rule::PairwiseBernoulli);
        s.src = (0, 400);
        s.tgt = (0, 400);
        let c = build(&[s], 1, 400, 3).expect("build");
        let n = c.syn.len() as f64;
        let expect = 0.2 * 400.0 * 399.0;
        // Binomial sd is about 160.
        assert!((n - expect).abs() < 800.0, "{n} vs {expect}");
        let a = build(&[spec(Rule::AllToAll)], 1, 50, 3).expect("build");
        assert_eq!(a.syn.len(), 50 * 49);
    }
}
