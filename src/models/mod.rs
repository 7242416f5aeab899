//! The models and the registry that maps a spec's `model = "..."` to them.

pub mod common;
pub mod gif_pop;
pub mod levels;
pub mod lif;
pub mod moments;
pub mod rate;
pub mod scale;
pub mod spiking;

/// Models neuropop implements, by spec name.
pub const MODELS: &[&str] = &[
    "rate",
    "gif_pop_psc_exp",
    "gif_psc_exp",
    "iaf_psc_exp",
    "iaf_psc_delta",
    "lif",
];

/// Models planned but not implemented yet (so the error can say so).
const PLANNED: &[&str] = &[];

/// Checks a model name, with a message listing the known ones.
pub fn check_model_name(name: &str) -> Result<(), String> {
    if MODELS.contains(&name) {
        return Ok(());
    }
    if PLANNED.contains(&name) {
        return Err(format!(
            "`{name}` is not implemented yet (implemented: {})",
            MODELS.join(", ")
        ));
    }
    Err(format!(
        "unknown model `{name}` (known: {})",
        MODELS.join(", ")
    ))
}
