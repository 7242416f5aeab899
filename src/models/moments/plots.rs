//! `neuropop moments --plot DIR`: heat maps of the four outputs over (mu_bar, sigma_bar), as
//! the tutorial draws them, and the same arrays as .npy for further analysis.

use std::io::Write;

use npyz::WriterBuilder;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::plot::{Figure, HeatMap};

use super::engine::MomentGrid;

fn write_npy(path: &Path, shape: &[u64], data: &[f64]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(|e| Error::io(path, e))?;
    w.extend(data.iter().copied())
        .map_err(|e| Error::io(path, e))?;
    w.finish().map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// Writes `rate.png`, `std.png`, `fano.png`, `chi.png` and `rate.npy`, `std.npy`, `fano.npy`,
/// `chi.npy` (shape `[sigma_bar, mu_bar]`), `mu_bar.npy`, `sigma_bar.npy` into `dir`.
pub fn write_grid(grid: &MomentGrid, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    let shape = [grid.sigma_bar.len() as u64, grid.mu_bar.len() as u64];
    let maps: [(&str, &str, &str, &Vec<f64>); 4] = [
        ("rate", "Mean firing rate", "spikes/ms", &grid.rate),
        (
            "std",
            "Firing variability (output std)",
            "spikes/sqrt(ms)",
            &grid.std,
        ),
        ("fano", "Fano factor", "Fano", &grid.fano),
        ("chi", "Linear response coefficient chi", "chi", &grid.chi),
    ];
    for (name, title, z, data) in maps {
        let png = dir.join(format!("{name}.png"));
        HeatMap {
            title: title.into(),
            x_label: "input mean mu_bar (mV/ms)".into(),
            y_label: "input std sigma_bar (mV/sqrt(ms))".into(),
            z_label: z.into(),
            x: grid.mu_bar.clone(),
            y: grid.sigma_bar.clone(),
            z: data.to_vec(),
        }
        .save(&png)?;
        files.push(png);
        let npy = dir.join(format!("{name}.npy"));
        write_npy(&npy, &shape, data)?;
        files.push(npy);
    }
    for (name, v) in [("mu_bar", &grid.mu_bar), ("sigma_bar", &grid.sigma_bar)] {
        let npy = dir.join(format!("{name}.npy"));
        write_npy(&npy, &[v.len() as u64], v)?;
        files.push(npy);
    }
    let readme = dir.join("README.txt");
    let mut f = std::fs::File::create(&readme).map_err(|e| Error::io(&readme, e))?;
    writeln!(
        f,
        "LIF moment activation (neuropop moments). Arrays rate/std/fano/chi have shape \
         [len(sigma_bar), len(mu_bar)]; rate in spikes/ms, std in spikes/sqrt(ms)."
    )
    .map_err(|e| Error::io(&readme, e))?;
    files.push(readme);
    Ok(files)
}
