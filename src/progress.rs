//! Progress of long runs: a bar on stderr (indicatif, hidden when stderr is not a
//! terminal), nothing, or a callback (the Python module's progress bar), which may also stop
//! the run between two chunks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};

/// Called with (units done, units in all) after every chunk; returning `false` stops the run
/// with [`Error::Interrupted`].
pub type ProgressFn = Box<dyn Fn(u64, u64) -> bool + Send + Sync>;

/// Progress over a count of work units (e.g. replica-steps).
pub struct Progress(Kind);

enum Kind {
    Hidden,
    Bar(ProgressBar),
    Callback {
        f: ProgressFn,
        done: AtomicU64,
        total: u64,
    },
}

impl Progress {
    /// No output (library use, tests, `validate`).
    pub fn hidden() -> Self {
        Self(Kind::Hidden)
    }

    /// `f(done, total)` after every chunk of `total` units; `f` returning `false` stops the
    /// run.
    pub fn callback(total: u64, f: ProgressFn) -> Self {
        Self(Kind::Callback {
            f,
            done: AtomicU64::new(0),
            total,
        })
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
        Self(Kind::Bar(pb))
    }

    /// Adds `n` finished units; an error when a callback asked to stop.
    pub fn inc(&self, n: u64) -> Result<()> {
        match &self.0 {
            Kind::Hidden => Ok(()),
            Kind::Bar(pb) => {
                pb.inc(n);
                Ok(())
            }
            Kind::Callback { f, done, total } => {
                let d = done.fetch_add(n, Relaxed) + n;
                if f(d, *total) {
                    Ok(())
                } else {
                    Err(Error::Interrupted)
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Kind::Bar(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}
