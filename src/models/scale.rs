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
    // An initial V_m drawn per neuron does not matter here.
    let mut params = pop.params.clone();
    if params.get("V_m").is_some_and(toml::Value::is_table) {
        params.remove("V_m");
    }
    Ok(match NeuronParams::from_table(model, &params)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_follows_nests_microcircuit_example() {
        let text = r#"
[simulation]
dt = 0.1
t_end = 100.0
[scale]
neurons = 0.5
indegrees = 0.25
rates = { E = 5.0, I = 10.0 }
[[population]]
name = "E"
model = "iaf_psc_exp"
size = 1001
params = { tau_syn_ex = 0.5, tau_syn_in = 2.0, I_e = 1.0, V_m = { dist = "normal", mean = -60.0, std = 5.0 } }
[[population]]
name = "I"
model = "iaf_psc_exp"
size = 250
[[projection]]
source = "E"
target = "E"
rule = "fixed_indegree"
indegree = 100
weight = { dist = "normal", mean = 10.0, std = 1.0 }
[[projection]]
source = "I"
target = "E"
rule = "fixed_total_number"
N = 50050
weight = -40.0
[[stimulus]]
kind = "poisson"
target = "E"
rate = 1000.0
weight = 20.0
[record]
spikes = [{ population = "E", first = 1001 }]
"#;
        let spec = Spec::parse(text, "t.toml").expect("spec");
        let s = apply(&spec).expect("scaled");
        assert!(s.scale.is_none());
        // Sizes: 500.5 rounds half to even, as NumPy's round.
        assert_eq!((s.populations[0].size, s.populations[1].size), (500, 125));
        assert_eq!(s.record.spikes[0].first, 500);
        assert_eq!(s.projections[0].indegree, Some(25));
        // N x neurons x indegrees = 50050 x 0.125 = 6256.25.
        assert_eq!(s.projections[1].n, Some(6256));
        // Weights / sqrt(0.25) = x 2, the distribution's parameters with them.
        let d = s.projections[0].weight.dist().expect("drawn");
        assert_eq!((d.mean, d.std), (Some(20.0), Some(2.0)));
        assert_eq!(s.projections[1].weight.fixed(), Some(-80.0));
        let Stimulus::Poisson { rate, weight, .. } = &s.stimuli[0] else {
            panic!("poisson")
        };
        assert_eq!((*rate, *weight), (250.0, 40.0));
        // DC: (1 - sqrt k) x sum of w K rate tau_syn (pA): E->E 10 x 100 x 5 Hz x 0.5 ms,
        // I->E -40 x (50050 / 1001) x 10 Hz x 2 ms, Poisson 20 x 1000 Hz x 0.5 ms.
        let input = 10.0 * 100.0 * 5e-3 * 0.5 - 40.0 * 50.0 * 10e-3 * 2.0 + 20.0 * 1.0 * 0.5;
        let i_e = s.populations[0].params["I_e"].as_float().expect("I_e");
        assert!((i_e - (1.0 + 0.5 * input)).abs() < 1e-9, "{i_e}");
        // Without `rates` for a source, indegrees != 1 is refused.
        let e = Spec::parse(
            &text.replace("rates = { E = 5.0, I = 10.0 }", "rates = { E = 5.0 }"),
            "t.toml",
        )
        .expect_err("missing rate");
        assert!(e.to_string().contains("scale.rates.I"), "{e}");
    }
}
