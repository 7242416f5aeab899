//! Pieces every population model shares: step-current schedules and the `sweep.npy` record.

use crate::error::Result;
use crate::output::{ArrayInfo, Data, Dtype, Recorder};
use crate::spec::{Spec, Stimulus, SweepGrid};

/// The `[[stimulus]]` step currents of a spec on the time grid: each switch time rounded to
/// its step, as NEST aligns device times to the grid.
#[derive(Debug, Clone, Default)]
pub struct StepStimuli {
    /// (target population, [(first step, amplitude)]) per stimulus.
    per: Vec<(usize, Vec<(u64, f64)>)>,
    /// Populations per replica.
    pops: usize,
}

impl StepStimuli {
    /// The stimuli of a validated spec.
    pub fn from_spec(spec: &Spec) -> Self {
        let dt = spec.simulation.dt;
        let per = spec
            .stimuli
            .iter()
            .map(|st| {
                let Stimulus::StepCurrent {
                    target,
                    times,
                    amplitudes,
                } = st;
                let pop = spec.population_index(target).unwrap_or(0);
                (
                    pop,
                    times
                        .iter()
                        .zip(amplitudes)
                        .map(|(&t, &a)| ((t / dt).round() as u64, a))
                        .collect(),
                )
            })
            .collect();
        Self {
            per,
            pops: spec.populations.len(),
        }
    }

    /// True when the spec has no stimulus.
    pub fn is_empty(&self) -> bool {
        self.per.is_empty()
    }

    /// Summed input of every population at steps `k0 .. k0 + n`, `[j * pops + p]` (summed in
    /// f64, rounded once); empty when there are no stimuli.
    pub fn table(&self, k0: u64, n: u64) -> Vec<f32> {
        if self.per.is_empty() {
            return Vec::new();
        }
        let mut out = vec![0f64; n as usize * self.pops];
        for (pop, points) in &self.per {
            for j in 0..n {
                let i = points.partition_point(|&(s, _)| s <= k0 + j);
                if i > 0 {
                    out[j as usize * self.pops + pop] += points[i - 1].1;
                }
            }
        }
        out.into_iter().map(|v| v as f32).collect()
    }
}

/// Writes `sweep.npy` (one row of swept values per combination) when the grid is not empty.
pub fn record_sweep(
    rec: &mut dyn Recorder,
    grid: &SweepGrid,
    replicas_per_combo: u64,
) -> Result<()> {
    if grid.axes.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = grid.axes.iter().map(|a| a.key.as_str()).collect();
    rec.whole(
        ArrayInfo::new(
            "sweep",
            vec![grid.combinations(), keys.len() as u64],
            Dtype::F64,
            format!(
                "sweep grid, one row per combination, columns: {}; replica i belongs to combination i / {replicas_per_combo}",
                keys.join(", ")
            ),
        ),
        Data::F64(&grid.table()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stimuli_switch_on_the_rounded_step_and_add_up() {
        let text = "[simulation]\ndt = 0.1\nt_end = 1.0\n[[population]]\nname = \"A\"\nmodel = \"rate\"\n[[population]]\nname = \"B\"\nmodel = \"rate\"\n\
            [[stimulus]]\nkind = \"step_current\"\ntarget = \"B\"\ntimes = [0.3, 0.5]\namplitudes = [1.0, 2.0]\n\
            [[stimulus]]\nkind = \"step_current\"\ntarget = \"B\"\ntimes = [0.4]\namplitudes = [0.5]\n";
        let s = StepStimuli::from_spec(&Spec::parse(text, "t.toml").expect("spec"));
        let t = s.table(2, 4); // steps 2, 3, 4, 5
        let b: Vec<f32> = t.chunks(2).map(|r| r[1]).collect();
        assert_eq!(b, vec![0.0, 1.0, 1.5, 2.5]);
        assert!(t.chunks(2).all(|r| r[0] == 0.0));
    }
}
