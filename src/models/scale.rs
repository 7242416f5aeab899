//! `[scale]`: a network written at full size, run with fewer neurons or smaller in-degrees
//! as NEST's cortical microcircuit example scales it (`N_scaling`, `K_scaling`; Potjans &
//! Diesmann 2014, and van Albada, Helias & Diesmann 2015 for the compensation). The spec is
//! rewritten before any model sees it; `meta.json` keeps the spec as written.

use crate::error::Result;
use crate::models::gif_pop::params::GifPopParams;
use crate::models::spiking::params::{NeuronModel, NeuronParams};
use crate::spec::{Dist, DistKind, Rule, Spec, Stimulus, Value};

/// The spec with `[scale]` applied (and removed); the spec itself when it has none.
pub fn apply(spec: &Spec) -> Result<Spec> {
    let mut out = spec.clone();
    let Some(sc) = out.scale.take() else {
        return Ok(out);
    };
    let (n, k) = (sc.neurons, sc.indegrees);
    let full_sizes: Vec<f64> = spec.populations.iter().map(|p| p.size as f64).collect();
    // The mean synaptic current of the full network per target population (pA), for the
    // DC compensation: sum of weight x in-degree x source rate x (PSC integral per pA).
    let mut input = vec![0.0f64; spec.populations.len()];
    if k != 1.0 {
        for (i, pr) in spec.projections.iter().enumerate() {
            let src = spec.population_index(&pr.source).unwrap_or(0);
            let tgt = spec.population_index(&pr.target).unwrap_or(0);
            let indegree = match pr.rule {
                Rule::FixedIndegree => pr.indegree.unwrap_or(0) as f64,
                Rule::FixedTotalNumber => pr.n.unwrap_or(0) as f64 / full_sizes[tgt],
                Rule::PairwiseBernoulli => pr.p.unwrap_or(0.0) * full_sizes[src],
                Rule::AllToAll => full_sizes[src],
                Rule::OneToOne => 1.0,
            };
            let w = pr.weight.mean_drawn(true);
            let rate = sc.rates.get(&pr.source).copied().unwrap_or(0.0);
            let per = charge_per_weight(spec, tgt, w)
                .map_err(|m| spec.error(format!("projection[{i}]"), m))?;
            input[tgt] += w * indegree * rate * 1e-3 * per;
        }
        for (i, st) in spec.stimuli.iter().enumerate() {
            if let Stimulus::Poisson {
                target,
                rate,
                weight,
            } = st
            {
                let tgt = spec.population_index(target).unwrap_or(0);
                let per = charge_per_weight(spec, tgt, *weight)
                    .map_err(|m| spec.error(format!("stimulus[{i}]"), m))?;
                input[tgt] += weight * rate * 1e-3 * per;
            }
        }
    }
    let wf = 1.0 / k.sqrt();
    for (p, extra) in out.populations.iter_mut().zip(&input) {
        p.size = ((p.size as f64 * n).round_ties_even() as u64).max(1);
        if k != 1.0 && *extra != 0.0 {
            let old = p.params.get("I_e").and_then(toml_f64).unwrap_or(0.0);
            p.params.insert(
                "I_e".into(),
                toml::Value::Float(old + (1.0 - k.sqrt()) * extra),
            );
        }
    }
    for (i, pr) in out.projections.iter_mut().enumerate() {
        match pr.rule {
            Rule::FixedIndegree => {
                pr.indegree = pr.indegree.map(|d| (d as f64 * k).round_ties_even() as u64);
            }
            Rule::FixedTotalNumber => {
                pr.n = pr.n.map(|m| (m as f64 * n * k).round_ties_even() as u64);
            }
            Rule::PairwiseBernoulli => {
                let p = pr.p.unwrap_or(0.0) * k / n;
                if p > 1.0 {
                    return Err(spec.error(
                        format!("projection[{i}].p"),
                        format!("{p}: above 1 after scaling by indegrees / neurons ({k} / {n})"),
                    ));
                }
                pr.p = Some(p);
            }
            Rule::AllToAll | Rule::OneToOne => {}
        }
        if k != 1.0 {
            pr.weight = scale_value(&pr.weight, wf);
        }
    }
    for st in &mut out.stimuli {
        if let Stimulus::Poisson { rate, weight, .. } = st {
            *rate *= k;
            if k != 1.0 {
                *weight *= wf;
            }
        }
    }
    // Recordings of the first neurons keep to the scaled sizes.
    for s in &mut out.record.spikes {
        if let Some(p) = out.populations.iter().find(|p| p.name == s.population) {
            s.first = s.first.min(p.size);
        }
    }
    for t in &mut out.record.traces {
        if let (Some(p), Some(f)) = (
            out.populations.iter().find(|p| p.name == t.population),
            t.first,
        ) {
            t.first = Some(f.min(p.size));
        }
    }
    Ok(out)
}

fn toml_f64(v: &toml::Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

/// A weight or distribution of weights multiplied by `f` (> 0).
fn scale_value(v: &Value, f: f64) -> Value {
    match v {
        Value::Fixed(w) => Value::Fixed(w * f),
        Value::Drawn(d) => {
            let mut d: Dist = d.clone();
            let mul = |x: Option<f64>| x.map(|x| x * f);
            match d.kind() {
                Ok(DistKind::Lognormal) => {
                    d.mean = d.mean.map(|m| m + f.ln());
                    d.min = mul(d.min);
                    d.max = mul(d.max);
                }
                _ => {
                    d.mean = mul(d.mean);
                    d.std = mul(d.std);
                    d.min = mul(d.min);
                    d.max = mul(d.max);
                    d.beta = mul(d.beta);
                }
            }
            Value::Drawn(d)
        }
    }
}

/// The time integral of one input of weight `w` onto population `tgt` per unit of weight:
/// the PSC time constant (ms) for current-based exponential synapses (excitatory for w > 0),
/// C_m (pF) for `iaf_psc_delta` (a jump of w mV carries C_m w fC).
fn charge_per_weight(spec: &Spec, tgt: usize, w: f64) -> std::result::Result<f64, String> {
    let pop = &spec.populations[tgt];
    if pop.model == "gif_pop_psc_exp" {
        let p = GifPopParams::from_table(&pop.params)?;
        return Ok(if w >= 0.0 { p.tau_syn_ex } else { p.tau_syn_in });
    }
    let model = NeuronModel::from_name(&pop.model)
        .ok_or_else(|| format!("`{}` has no synapses to scale", pop.model))?;
    Ok(match NeuronParams::from_table(model, &pop.params)? {
        NeuronParams::Iaf(p) if model == NeuronModel::IafPscDelta => p.C_m,
        NeuronParams::Iaf(p) => {
            if w >= 0.0 {
                p.tau_syn_ex
            } else {
                p.tau_syn_in
            }
        }
        NeuronParams::Gif(p) => {
            if w >= 0.0 {
                p.tau_syn_ex
            } else {
                p.tau_syn_in
            }
        }
    })
}
