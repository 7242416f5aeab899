//! Pieces every population model shares: parameter tables, step-current schedules, windows,
//! spectra and the `sweep.npy` record.

use crate::error::Result;
use crate::output::{ArrayInfo, Data, Dtype, Recorder};
use crate::spec::{Spec, Stimulus, SweepGrid};

/// A model's parameter struct from a spec's `params` table (serde: unknown keys rejected,
/// missing ones defaulted), with toml's message for the first bad key.
pub fn parse_params<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
) -> std::result::Result<T, String> {
    toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}

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
            .filter_map(|st| {
                let Stimulus::StepCurrent {
                    target,
                    times,
                    amplitudes,
                } = st
                else {
                    return None;
                };
                let pop = spec.population_index(target).unwrap_or(0);
                Some((
                    pop,
                    times
                        .iter()
                        .zip(amplitudes)
                        .map(|(&t, &a)| ((t / dt).round() as u64, a))
                        .collect(),
                ))
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

/// A time window for summaries, in recording bins `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Start, ms.
    pub t0: f64,
    /// End, ms.
    pub t1: f64,
    /// First bin.
    pub lo: u64,
    /// One past the last bin.
    pub hi: u64,
}

/// The `[record] windows` of a spec as `[start, end]` in ms, each checked against `t_end`
/// (ms) and at most `max_win` of them; the whole run when the spec gives none.
pub fn window_pairs(spec: &Spec, max_win: usize, t_end: f64) -> Result<Vec<[f64; 2]>> {
    let rec = &spec.record;
    let pairs = if rec.windows.is_empty() {
        vec![[0.0, t_end]]
    } else {
        rec.windows.clone()
    };
    if pairs.len() > max_win {
        return Err(spec.error(
            "record.windows",
            format!("{} windows: at most {max_win}", pairs.len()),
        ));
    }
    for (i, &[t0, t1]) in pairs.iter().enumerate() {
        if !(t0.is_finite() && t1.is_finite() && 0.0 <= t0 && t0 < t1 && t1 <= t_end + 1e-9) {
            return Err(spec.error(
                format!("record.windows[{i}]"),
                format!("[{t0}, {t1}]: need 0 <= start < end <= t_end ({t_end} ms)"),
            ));
        }
    }
    Ok(pairs)
}

/// The population-activity part of `[record]`: bin, recorded replicas, summary windows.
#[derive(Debug, Clone)]
pub struct ActivityRecord {
    /// Steps per activity bin.
    pub bin_steps: u64,
    /// Replicas whose activity is written bin by bin.
    pub replicas: u32,
    /// Summary windows (the whole run when the spec gives none).
    pub windows: Vec<Window>,
}

impl ActivityRecord {
    /// Reads `activity_bin`, `activity_replicas` and `windows` (at most `max_win`).
    pub fn from_spec(spec: &Spec, max_win: usize) -> Result<Self> {
        let rec = &spec.record;
        let dt = spec.simulation.dt;
        let bin = rec.activity_bin.unwrap_or(dt);
        let bin_steps = (bin / dt).round().max(1.0) as u64;
        if ((bin_steps as f64) * dt - bin).abs() > 1e-9 * bin {
            return Err(spec.error(
                "record.activity_bin",
                format!("{bin} ms: must be a whole number of time steps ({dt} ms)"),
            ));
        }
        let total = spec.total_replicas()?;
        let replicas = rec.activity_replicas.unwrap_or(total.min(10));
        if replicas > total {
            return Err(spec.error(
                "record.activity_replicas",
                format!("{replicas}: must be <= the run's {total} replicas"),
            ));
        }
        let t_end = spec.steps() as f64 * dt;
        let bin_ms = bin_steps as f64 * dt;
        let mut windows = Vec::new();
        for (i, [t0, t1]) in window_pairs(spec, max_win, t_end)?.into_iter().enumerate() {
            let lo = (t0 / bin_ms - 1e-9).ceil().max(0.0) as u64;
            let hi = (t1 / bin_ms + 1e-9).floor() as u64;
            if hi <= lo {
                return Err(spec.error(
                    format!("record.windows[{i}]"),
                    format!("[{t0}, {t1}] holds no whole bin of {bin_ms} ms"),
                ));
            }
            windows.push(Window { t0, t1, lo, hi });
        }
        Ok(Self {
            bin_steps,
            replicas: replicas as u32,
            windows,
        })
    }
}

/// Rejects `[[stimulus]]` kinds a model family cannot take (Poisson trains go into spiking
/// neurons only), naming the stimulus.
pub fn only_step_currents(spec: &Spec, model: &str) -> Result<()> {
    if let Some(i) = spec
        .stimuli
        .iter()
        .position(|s| !matches!(s, Stimulus::StepCurrent { .. }))
    {
        return Err(spec.error(
            format!("stimulus[{i}].kind"),
            format!(
                "`poisson` drives spiking neurons; `{model}` populations take `step_current` only"
            ),
        ));
    }
    Ok(())
}

/// Writes `windows.npy`: each window `[start, end)` in ms (whole bins of `bin_ms`).
pub fn record_windows(rec: &mut dyn Recorder, windows: &[Window], bin_ms: f64) -> Result<()> {
    let table: Vec<f64> = windows
        .iter()
        .flat_map(|w| [w.lo as f64 * bin_ms, w.hi as f64 * bin_ms])
        .collect();
    rec.whole(
        ArrayInfo::new(
            "windows",
            vec![windows.len() as u64, 2],
            Dtype::F64,
            "summary windows [start, end) in ms, whole bins",
        ),
        Data::F64(&table),
    )
}

/// Writes `activity_t.npy` (start of each of `bins` activity bins of `bin_ms`) and returns
/// those times.
pub fn record_activity_times(rec: &mut dyn Recorder, bins: u64, bin_ms: f64) -> Result<Vec<f64>> {
    let times: Vec<f64> = (0..bins).map(|b| b as f64 * bin_ms).collect();
    rec.whole(
        ArrayInfo::new(
            "activity_t",
            vec![bins],
            Dtype::F64,
            "start time of each activity bin, ms",
        ),
        Data::F64(&times),
    )?;
    Ok(times)
}

/// The Welch power spectrum of A_N of each of `series` (one activity trace per replica, Hz,
/// bins of `bin_ms`) from bin `from` on: their mean as `spectrum_<name>.npy` (columns
/// frequency, density) and each replica's as `spectrum_<name>_replicas.npy` (shape
/// `[replica, frequency]`, densities only), so a sweep's spectra can be compared replica by
/// replica. Returns the mean (frequencies, densities), or `None` when the traces are too short.
pub fn record_spectrum(
    rec: &mut dyn Recorder,
    name: &str,
    series: &[Vec<f64>],
    from: usize,
    bin_ms: f64,
) -> Result<Option<(Vec<f64>, Vec<f64>)>> {
    let bins = series.first().map_or(0, Vec::len);
    let seg = 1024
        .min(bins.saturating_sub(from).next_power_of_two() / 2)
        .max(4);
    let mut freqs = Vec::new();
    let mut each: Vec<Vec<f64>> = Vec::with_capacity(series.len());
    for x in series {
        let (f, pw) = crate::stats::welch(&x[from.min(x.len())..], bin_ms / 1000.0, seg);
        if f.is_empty() {
            return Ok(None);
        }
        freqs = f;
        each.push(pw);
    }
    if each.is_empty() {
        return Ok(None);
    }
    let mut pw = vec![0.0; freqs.len()];
    for e in &each {
        pw.iter_mut().zip(e).for_each(|(x, y)| *x += y);
    }
    pw.iter_mut().for_each(|v| *v /= each.len() as f64);
    let table: Vec<f64> = freqs.iter().zip(&pw).flat_map(|(a, b)| [*a, *b]).collect();
    rec.whole(
        ArrayInfo::new(
            format!("spectrum_{name}"),
            vec![freqs.len() as u64, 2],
            Dtype::F64,
            format!("power spectral density of A_N of {name} (Welch, {seg}-bin Hann segments, mean over the recorded replicas): columns frequency (Hz), density (Hz^2/Hz)"),
        ),
        Data::F64(&table),
    )?;
    let flat: Vec<f64> = each.concat();
    rec.whole(
        ArrayInfo::new(
            format!("spectrum_{name}_replicas"),
            vec![each.len() as u64, freqs.len() as u64],
            Dtype::F64,
            format!("power spectral density of A_N of {name} per recorded replica (Hz^2/Hz), at the frequencies of spectrum_{name}.npy"),
        ),
        Data::F64(&flat),
    )?;
    Ok(Some((freqs, pw)))
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
