//! [`Tee`]: one run recorded twice, into files on disk and into memory (the Python module's
//! `run(..., out=...)`).

use super::{ArrayId, ArrayInfo, Data, Recorder};
use crate::error::Result;

/// Sends every recording to two recorders (files on disk and arrays in memory, for the
/// Python module's `run(..., out=...)`).
pub struct Tee<'a> {
    /// Receives everything first, and plots.
    pub a: &'a mut dyn Recorder,
    /// Receives the arrays too.
    pub b: &'a mut dyn Recorder,
    ids: Vec<(ArrayId, ArrayId)>,
}

impl<'a> Tee<'a> {
    /// Both recorders.
    pub fn new(a: &'a mut dyn Recorder, b: &'a mut dyn Recorder) -> Self {
        Self {
            a,
            b,
            ids: Vec::new(),
        }
    }
}

impl Recorder for Tee<'_> {
    fn array(&mut self, info: ArrayInfo) -> Result<ArrayId> {
        let ia = self.a.array(info.clone())?;
        let ib = self.b.array(info)?;
        self.ids.push((ia, ib));
        Ok(ArrayId(self.ids.len() - 1))
    }

    fn write(&mut self, id: ArrayId, data: Data<'_>) -> Result<()> {
        let (ia, ib) = self.ids[id.0];
        self.a.write(ia, data)?;
        self.b.write(ib, data)
    }

    fn close(&mut self, id: ArrayId) -> Result<()> {
        let (ia, ib) = self.ids[id.0];
        self.a.close(ia)?;
        self.b.close(ib)
    }

    fn plot_dir(&self) -> Option<std::path::PathBuf> {
        self.a.plot_dir()
    }

    fn file_dir(&self) -> Option<std::path::PathBuf> {
        self.a.file_dir()
    }

    fn plot_written(&mut self, name: &str, description: &str) {
        self.a.plot_written(name, description);
    }
}
