//! 16-bit PCM mono WAV files (RIFF), written in a few lines: V traces as sound.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Scales `v` linearly so that its minimum and maximum map to -32767 and 32767 (all zeros
/// for a constant or empty signal; non-finite values map to 0).
pub fn scale_to_i16(v: &[f32]) -> Vec<i16> {
    let (lo, hi) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(f64::from(x)), b.max(f64::from(x)))
        });
    if hi.is_nan() || lo.is_nan() || hi <= lo {
        return vec![0; v.len()];
    }
    let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo));
    v.iter()
        .map(|&x| {
            if x.is_finite() {
                ((f64::from(x) - mid) / half * 32767.0)
                    .round()
                    .clamp(-32767.0, 32767.0) as i16
            } else {
                0
            }
        })
        .collect()
}

/// Writes `samples` as a 16-bit PCM mono WAV file with `sample_rate` Hz.
pub fn write_wav_i16(path: &Path, sample_rate: u32, samples: &[i16]) -> Result<()> {
    let data_len = u32::try_from(samples.len() * 2)
        .ok()
        .filter(|&n| n <= u32::MAX - 36)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{}: {} samples do not fit a WAV file",
                path.display(),
                samples.len()
            ))
        })?;
    let mut b = Vec::with_capacity(44 + samples.len() * 2);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&sample_rate.to_le_bytes());
    b.extend_from_slice(&(sample_rate.saturating_mul(2)).to_le_bytes()); // byte rate
    b.extend_from_slice(&2u16.to_le_bytes()); // block align
    b.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(&b).map_err(|e| Error::io(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_uses_the_full_range() {
        assert_eq!(scale_to_i16(&[0.0, 10.0, 20.0]), vec![-32767, 0, 32767]);
        assert_eq!(scale_to_i16(&[3.0, 3.0]), vec![0, 0]);
    }
}
