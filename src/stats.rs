//! Small statistics used on recordings: power spectra (Welch's method with a radix-2 FFT).

/// In-place radix-2 FFT of (re, im); the length must be a power of two.
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = -2.0 * std::f64::consts::PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (s, c) = (ang * k as f64).sin_cos();
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * c - im[b] * s;
                let ti = re[b] * s + im[b] * c;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// One-sided power spectral density of `x` sampled every `dt_s` seconds, by Welch's method:
/// Hann-windowed segments of `seg` samples (a power of two, at most the length) with 50 %
/// overlap, mean removed per segment. Returns (frequencies in Hz, density in units^2/Hz).
pub fn welch(x: &[f64], dt_s: f64, seg: usize) -> (Vec<f64>, Vec<f64>) {
    let mut seg = seg.next_power_of_two().min(x.len().next_power_of_two());
    while seg > x.len() {
        seg /= 2;
    }
    if seg < 4 {
        return (Vec::new(), Vec::new());
    }
    let w: Vec<f64> = (0..seg)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / seg as f64).cos())
        .collect();
    let wss: f64 = w.iter().map(|v| v * v).sum();
    let mut psd = vec![0.0; seg / 2 + 1];
    let mut count = 0;
    let mut start = 0;
    while start + seg <= x.len() {
        let s = &x[start..start + seg];
        let mean = s.iter().sum::<f64>() / seg as f64;
        let mut re: Vec<f64> = s.iter().zip(&w).map(|(v, wi)| (v - mean) * wi).collect();
        let mut im = vec![0.0; seg];
        fft(&mut re, &mut im);
        for (k, p) in psd.iter_mut().enumerate() {
            let one_sided = if k == 0 || k == seg / 2 { 1.0 } else { 2.0 };
            *p += one_sided * (re[k] * re[k] + im[k] * im[k]) * dt_s / wss;
        }
        count += 1;
        start += seg / 2;
    }
    for p in &mut psd {
        *p /= count as f64;
    }
    let f = (0..=seg / 2)
        .map(|k| k as f64 / (seg as f64 * dt_s))
        .collect();
    (f, psd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_noise_has_a_flat_spectrum_with_the_right_level() {
        // Variance 1 sampled at 1 kHz: one-sided density 2 sigma^2 dt = 0.002 per Hz.
        let mut r = crate::rng::Rng::new(1, 0, 0, 0);
        let x: Vec<f64> = (0..1 << 16).map(|_| f64::from(r.normal2()[0])).collect();
        let (f, p) = welch(&x, 1e-3, 256);
        assert_eq!(f.len(), 129);
        assert!((f[128] - 500.0).abs() < 1e-9);
        let mid: f64 = p[10..118].iter().sum::<f64>() / 108.0;
        assert!((mid - 0.002).abs() < 0.0002, "{mid}");
    }

    #[test]
    fn a_sine_peaks_at_its_frequency() {
        let x: Vec<f64> = (0..4096)
            .map(|i| (2.0 * std::f64::consts::PI * 50.0 * i as f64 * 1e-3).sin())
            .collect();
        let (f, p) = welch(&x, 1e-3, 1024);
        let peak = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| f[i])
            .unwrap_or(0.0);
        assert!((peak - 50.0).abs() < 1.0, "{peak}");
    }
}
