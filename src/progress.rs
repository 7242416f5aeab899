//! Progress of long runs on stderr (indicatif), hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over a count of work units (e.g. replica-steps).
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// No output (library use, tests, `validate`).
    pub fn hidden() -> Self {
        Self(None)
    }

    /// A bar labelled `label` over `total` units, drawn on stderr when it is a terminal.
    pub fn bar(label: &str, total: u64) -> Self {
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(label.to_string());
        Self(Some(pb))
    }

    /// Adds `n` finished units.
    pub fn inc(&self, n: u64) {
        if let Some(pb) = &self.0 {
            pb.inc(n);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}
