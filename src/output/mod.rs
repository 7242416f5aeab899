//! Recordings and where they go: `.npy` files streamed to disk, `meta.json`, PNG plots.
//!
//! A model writes each recording through a [`Recorder`]: it announces an array (name, full
//! shape, dtype, meaning), appends data in row-major order as the run produces it, and closes
//! it. [`OutputDir`] streams the data into `.npy` files in a staging folder and moves them into
//! place only when the whole run succeeded, with `meta.json` last, so a failed run never leaves
//! a file that looks finished. [`MemoryRecorder`] keeps everything in memory as f64, for
//! `validate` and tests; [`TypedRecorder`] keeps each array in its own type (the Python
//! module's results); [`Tee`] sends everything to two recorders.

mod dir;
mod lock;
mod meta;
pub mod plot;
mod tee;
mod typed;
pub mod wav;

use serde::Serialize;

use crate::error::{Error, Result};

pub use dir::{OutputDir, OutputFile};
pub use lock::{clean_up_interrupted, DirLock, LOCK_FILE};
pub use meta::{Meta, Timings};
pub use tee::Tee;
pub use typed::{TypedArray, TypedRecorder, Values};

/// Element type of a recorded array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 32-bit float (`<f4`).
    F32,
    /// 64-bit float (`<f8`).
    F64,
    /// 32-bit unsigned (`<u4`).
    U32,
}

/// A slice of data of one of the recorded types.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// f32 values.
    F32(&'a [f32]),
    /// f64 values.
    F64(&'a [f64]),
    /// u32 values.
    U32(&'a [u32]),
}

impl Data<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(d) => d.len(),
            Data::F64(d) => d.len(),
            Data::U32(d) => d.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn dtype(&self) -> Dtype {
        match self {
            Data::F32(_) => Dtype::F32,
            Data::F64(_) => Dtype::F64,
            Data::U32(_) => Dtype::U32,
        }
    }
}

/// What a recorded array is.
#[derive(Debug, Clone, Serialize)]
pub struct ArrayInfo {
    /// File stem: the array is written to `<name>.npy`.
    pub name: String,
    /// Full shape, row-major; the first axis is usually time or replica.
    pub shape: Vec<u64>,
    /// Element type.
    pub dtype: Dtype,
    /// One sentence for `meta.json`: what the axes and values are, with units.
    pub description: String,
}

impl ArrayInfo {
    /// Creates an array description.
    pub fn new(
        name: impl Into<String>,
        shape: Vec<u64>,
        dtype: Dtype,
        description: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            shape,
            dtype,
            description: description.into(),
        }
    }

    /// Number of elements the shape holds.
    pub fn len(&self) -> u64 {
        self.shape.iter().product()
    }

    /// True when the shape holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Handle of an array announced to a [`Recorder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayId(usize);

/// Sink of recordings.
pub trait Recorder {
    /// Announces an array; data follow with [`Recorder::write`].
    fn array(&mut self, info: ArrayInfo) -> Result<ArrayId>;
    /// Appends data in row-major order.
    fn write(&mut self, id: ArrayId, data: Data<'_>) -> Result<()>;
    /// Declares the array complete; its total length must equal its shape.
    fn close(&mut self, id: ArrayId) -> Result<()>;
    /// Folder for PNG plots, or `None` when no plots are wanted.
    fn plot_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// Folder for other files (WAV traces), or `None` when the recorder keeps no files.
    fn file_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// Records that a plot file was written (for `meta.json`).
    fn plot_written(&mut self, _name: &str, _description: &str) {}
    /// Convenience: announce, write and close a whole array at once.
    fn whole(&mut self, info: ArrayInfo, data: Data<'_>) -> Result<()> {
        let id = self.array(info)?;
        self.write(id, data)?;
        self.close(id)
    }
}

/// Discards every recording: the recorder of MPI ranks other than rank 0, which send their
/// results to rank 0 instead.
#[derive(Debug, Default)]
pub struct NullRecorder {
    next: usize,
}

impl Recorder for NullRecorder {
    fn array(&mut self, _info: ArrayInfo) -> Result<ArrayId> {
        self.next += 1;
        Ok(ArrayId(self.next - 1))
    }
    fn write(&mut self, _id: ArrayId, _data: Data<'_>) -> Result<()> {
        Ok(())
    }
    fn close(&mut self, _id: ArrayId) -> Result<()> {
        Ok(())
    }
}

/// A recorded array held in memory.
#[derive(Debug, Clone)]
pub struct MemoryArray {
    /// What it is.
    pub info: ArrayInfo,
    /// The values, widened to f64 (u32 and f32 convert exactly).
    pub values: Vec<f64>,
    /// Whether `close` was called.
    pub closed: bool,
}

/// Keeps every recording in memory (for `validate` and tests).
#[derive(Debug, Default)]
pub struct MemoryRecorder {
    /// Arrays in the order they were announced.
    pub arrays: Vec<MemoryArray>,
}

impl MemoryRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The array named `name`.
    pub fn get(&self, name: &str) -> Option<&MemoryArray> {
        self.arrays.iter().find(|a| a.info.name == name)
    }
}

fn check_write(info: &ArrayInfo, written: u64, data: &Data<'_>) -> Result<()> {
    if data.dtype() != info.dtype {
        return Err(Error::Output {
            path: info.name.clone().into(),
            message: format!("wrote {:?} data to a {:?} array", data.dtype(), info.dtype),
        });
    }
    if written + data.len() as u64 > info.len() {
        return Err(Error::Output {
            path: info.name.clone().into(),
            message: format!("more data than its shape {:?} holds", info.shape),
        });
    }
    Ok(())
}

fn check_close(info: &ArrayInfo, written: u64) -> Result<()> {
    if written != info.len() {
        return Err(Error::Output {
            path: info.name.clone().into(),
            message: format!("closed after {written} of {} values", info.len()),
        });
    }
    Ok(())
}

impl Recorder for MemoryRecorder {
    fn array(&mut self, info: ArrayInfo) -> Result<ArrayId> {
        self.arrays.push(MemoryArray {
            values: Vec::with_capacity(info.len().min(1 << 26) as usize),
            info,
            closed: false,
        });
        Ok(ArrayId(self.arrays.len() - 1))
    }

    fn write(&mut self, id: ArrayId, data: Data<'_>) -> Result<()> {
        let a = &mut self.arrays[id.0];
        check_write(&a.info, a.values.len() as u64, &data)?;
        match data {
            Data::F32(d) => a.values.extend(d.iter().map(|&v| f64::from(v))),
            Data::F64(d) => a.values.extend_from_slice(d),
            Data::U32(d) => a.values.extend(d.iter().map(|&v| f64::from(v))),
        }
        Ok(())
    }

    fn close(&mut self, id: ArrayId) -> Result<()> {
        let a = &mut self.arrays[id.0];
        check_close(&a.info, a.values.len() as u64)?;
        a.closed = true;
        Ok(())
    }
}
