//! The WGSL sources, embedded in the binary, and the `// #import` composer.
//!
//! WGSL has no include mechanism. A kernel file names the shared files it needs with lines
//! `// #import shared/<file>.wgsl` (comments, so each file still reads as WGSL); [`compose`]
//! splices each imported file in once, in order of first import. Both the GPU runtime and the
//! naga validation test go through [`compose`], so what is validated is what runs.

use crate::error::{Error, Result};

macro_rules! shader {
    ($path:literal) => {
        ($path, include_str!(concat!("../shaders/", $path)))
    };
}

/// Every `.wgsl` file under `shaders/`, by path relative to that folder. A test checks that
/// this list and the folder agree.
pub const SOURCES: &[(&str, &str)] = &[
    shader!("shared/math.wgsl"),
    shader!("shared/rng.wgsl"),
    shader!("shared/grid.wgsl"),
    shader!("shared/network.wgsl"),
    shader!("shared/connect.wgsl"),
    shader!("shared/synapse.wgsl"),
    shader!("rng_u32.wgsl"),
    shader!("rng_sample.wgsl"),
    shader!("math_eval.wgsl"),
    shader!("scatter_add.wgsl"),
    shader!("rate_step.wgsl"),
    shader!("lif_step.wgsl"),
    shader!("gif_pop_step.wgsl"),
    shader!("neuron_step.wgsl"),
    shader!("deliver_spikes.wgsl"),
    shader!("connect_count.wgsl"),
    shader!("connect_fill.wgsl"),
    shader!("moment_activation.wgsl"),
];

const IMPORT: &str = "// #import ";

/// The raw text of one shader file.
pub fn source(path: &str) -> Result<&'static str> {
    SOURCES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, s)| *s)
        .ok_or_else(|| Error::Shader {
            shader: path.to_string(),
            message: "no such file under shaders/ (is it listed in shaders::SOURCES?)".into(),
        })
}

/// The file with its imports spliced in (each shared file once), ready for naga or wgpu.
pub fn compose(path: &str) -> Result<String> {
    let mut out = String::new();
    let mut seen = Vec::new();
    splice(path, &mut out, &mut seen, 0)?;
    Ok(out)
}

fn splice(path: &str, out: &mut String, seen: &mut Vec<String>, depth: usize) -> Result<()> {
    if depth > 8 {
        return Err(Error::Shader {
            shader: path.to_string(),
            message: "imports nested more than 8 deep (a cycle?)".into(),
        });
    }
    // Kernel work: NEUROPOP_SHADER_DIR reads shaders from disk instead of the embedded
    // copies, so a shader change can be measured without rebuilding.
    let disk = std::env::var_os("NEUROPOP_SHADER_DIR")
        .and_then(|d| std::fs::read_to_string(std::path::Path::new(&d).join(path)).ok());
    let text = match &disk {
        Some(t) => t.as_str(),
        None => source(path)?,
    };
    for line in text.lines() {
        if let Some(dep) = line.trim().strip_prefix(IMPORT) {
            let dep = dep.trim();
            if !seen.iter().any(|s| s == dep) {
                seen.push(dep.to_string());
                out.push_str(&format!("// ---- begin {dep} ----\n"));
                splice(dep, out, seen, depth + 1)?;
                out.push_str(&format!("// ---- end {dep} ----\n"));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_splices_each_import_once() {
        let s = compose("rng_sample.wgsl").expect("compose");
        assert_eq!(s.matches("fn philox4x32_10(").count(), 1);
        assert_eq!(s.matches("fn linear_index(").count(), 1);
        assert!(!s.contains(IMPORT));
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let e = compose("nope.wgsl").unwrap_err().to_string();
        assert!(e.contains("nope.wgsl") && e.contains("no such file"), "{e}");
    }
}
