//! [`OutputDir`]: `.npy` streams in a staging folder, moved into place when the run is done.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use serde::Serialize;

use super::{check_close, check_write, ArrayId, ArrayInfo, Data, Recorder};
use crate::error::{Error, Result};

type Writer<T> = npyz::NpyWriter<T, BufWriter<File>>;

enum Stream {
    F32(Writer<f32>),
    F64(Writer<f64>),
    U32(Writer<u32>),
    Done,
}

struct Entry {
    info: ArrayInfo,
    written: u64,
    stream: Stream,
}

/// Files written during a run, for `meta.json`.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    /// File name inside the output directory.
    pub file: String,
    /// Shape (arrays only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<u64>>,
    /// dtype (arrays only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtype: Option<super::Dtype>,
    /// What it holds.
    pub description: String,
}

/// An output directory being written. Everything goes to `DIR/.neuropop-partial-<pid>/` first;
/// [`OutputDir::commit`] moves the files into `DIR` and writes `meta.json` last. Dropping an
/// uncommitted `OutputDir` removes the staging folder (and `DIR` itself if this run created it
/// and it is empty), so a failed run leaves nothing that looks finished.
pub struct OutputDir {
    dir: PathBuf,
    staging: PathBuf,
    created_dir: bool,
    entries: Vec<Entry>,
    plots: bool,
    files: Vec<OutputFile>,
    committed: bool,
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| Error::io(path, e))
}

impl OutputDir {
    /// Prepares `dir` (created if missing) with a fresh staging folder inside.
    pub fn create(dir: &Path, plots: bool) -> Result<Self> {
        let created_dir = !dir.exists();
        io(dir, std::fs::create_dir_all(dir))?;
        let staging = dir.join(format!(".neuropop-partial-{}", std::process::id()));
        if staging.exists() {
            io(&staging, std::fs::remove_dir_all(&staging))?;
        }
        io(&staging, std::fs::create_dir(&staging))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            staging,
            created_dir,
            entries: Vec::new(),
            plots,
            files: Vec::new(),
            committed: false,
        })
    }

    /// The final directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Files written so far (arrays and plots).
    pub fn files(&self) -> &[OutputFile] {
        &self.files
    }

    /// Writes a JSON file into the staging folder (moved into place by `commit`).
    pub fn write_json(
        &mut self,
        name: &str,
        value: &impl Serialize,
        description: &str,
    ) -> Result<()> {
        let path = self.staging.join(name);
        let text = serde_json::to_string_pretty(value).map_err(|e| Error::Output {
            path: path.clone(),
            message: e.to_string(),
        })?;
        io(&path, std::fs::write(&path, text + "\n"))?;
        self.files.push(OutputFile {
            file: name.to_string(),
            shape: None,
            dtype: None,
            description: description.to_string(),
        });
        Ok(())
    }

    /// Moves every finished file into the directory, then writes `meta` as `meta.json`.
    pub fn commit(mut self, meta: &impl Serialize) -> Result<PathBuf> {
        if let Some(open) = self
            .entries
            .iter()
            .find(|e| !matches!(e.stream, Stream::Done))
        {
            return Err(Error::Output {
                path: self.staging.join(format!("{}.npy", open.info.name)),
                message: "the run ended before this recording was complete".into(),
            });
        }
        for f in &self.files {
            let from = self.staging.join(&f.file);
            let to = self.dir.join(&f.file);
            io(&to, std::fs::rename(&from, &to))?;
        }
        let meta_path = self.dir.join("meta.json");
        let tmp = self.staging.join("meta.json");
        let text = serde_json::to_string_pretty(meta).map_err(|e| Error::Output {
            path: meta_path.clone(),
            message: e.to_string(),
        })?;
        io(&tmp, std::fs::write(&tmp, text + "\n"))?;
        io(&meta_path, std::fs::rename(&tmp, &meta_path))?;
        io(&self.staging, std::fs::remove_dir_all(&self.staging))?;
        self.committed = true;
        Ok(self.dir.clone())
    }

    fn npy_path(&self, name: &str) -> PathBuf {
        self.staging.join(format!("{name}.npy"))
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            self.entries.clear();
            let _ = std::fs::remove_dir_all(&self.staging);
            if self.created_dir {
                // Only removes the directory if nothing else is in it.
                let _ = std::fs::remove_dir(&self.dir);
            }
        }
    }
}

fn open<T: npyz::AutoSerialize>(path: &Path, shape: &[u64]) -> Result<Writer<T>> {
    let file = io(path, File::create(path))?;
    io(
        path,
        npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(BufWriter::with_capacity(1 << 20, file))
            .begin_nd(),
    )
}

impl Recorder for OutputDir {
    fn array(&mut self, info: ArrayInfo) -> Result<ArrayId> {
        if info.name.is_empty()
            || info.name.contains(['/', '\\'])
            || self.entries.iter().any(|e| e.info.name == info.name)
        {
            return Err(Error::Output {
                path: self.npy_path(&info.name),
                message: "array names must be unique file stems".into(),
            });
        }
        let path = self.npy_path(&info.name);
        let stream = match info.dtype {
            super::Dtype::F32 => Stream::F32(open(&path, &info.shape)?),
            super::Dtype::F64 => Stream::F64(open(&path, &info.shape)?),
            super::Dtype::U32 => Stream::U32(open(&path, &info.shape)?),
        };
        self.entries.push(Entry {
            info,
            written: 0,
            stream,
        });
        Ok(ArrayId(self.entries.len() - 1))
    }

    fn write(&mut self, id: ArrayId, data: Data<'_>) -> Result<()> {
        let path = self.npy_path(&self.entries[id.0].info.name);
        let e = &mut self.entries[id.0];
        check_write(&e.info, e.written, &data)?;
        let r = match (&mut e.stream, data) {
            (Stream::F32(w), Data::F32(d)) => w.extend(d.iter().copied()),
            (Stream::F64(w), Data::F64(d)) => w.extend(d.iter().copied()),
            (Stream::U32(w), Data::U32(d)) => w.extend(d.iter().copied()),
            _ => {
                return Err(Error::Output {
                    path,
                    message: "write after close or with the wrong type".into(),
                })
            }
        };
        io(&path, r)?;
        e.written += data.len() as u64;
        Ok(())
    }

    fn close(&mut self, id: ArrayId) -> Result<()> {
        let path = self.npy_path(&self.entries[id.0].info.name);
        let e = &mut self.entries[id.0];
        check_close(&e.info, e.written)?;
        let r = match std::mem::replace(&mut e.stream, Stream::Done) {
            Stream::F32(w) => w.finish(),
            Stream::F64(w) => w.finish(),
            Stream::U32(w) => w.finish(),
            Stream::Done => Ok(()),
        };
        io(&path, r)?;
        self.files.push(OutputFile {
            file: format!("{}.npy", e.info.name),
            shape: Some(e.info.shape.clone()),
            dtype: Some(e.info.dtype),
            description: e.info.description.clone(),
        });
        Ok(())
    }

    fn plot_dir(&self) -> Option<PathBuf> {
        self.plots.then(|| self.staging.clone())
    }

    fn file_dir(&self) -> Option<PathBuf> {
        Some(self.staging.clone())
    }

    fn plot_written(&mut self, name: &str, description: &str) {
        self.files.push(OutputFile {
            file: name.to_string(),
            shape: None,
            dtype: None,
            description: description.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Dtype;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("neuropop-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn committed_run_has_npy_and_meta() {
        let d = tmp("commit");
        let mut out = OutputDir::create(&d, false).expect("create");
        let id = out
            .array(ArrayInfo::new("x", vec![2, 3], Dtype::F32, "test"))
            .expect("array");
        out.write(id, Data::F32(&[1.0, 2.0, 3.0])).expect("write");
        out.write(id, Data::F32(&[4.0, 5.0, 6.0])).expect("write");
        out.close(id).expect("close");
        out.commit(&serde_json::json!({"ok": true}))
            .expect("commit");
        let bytes = std::fs::read(d.join("x.npy")).expect("read");
        let npy = npyz::NpyFile::new(&bytes[..]).expect("npy");
        assert_eq!(npy.shape(), &[2, 3]);
        let v: Vec<f32> = npy.into_vec().expect("data");
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(d.join("meta.json").exists());
        let left: Vec<_> = std::fs::read_dir(&d).expect("dir").collect();
        assert_eq!(left.len(), 2, "only x.npy and meta.json remain");
        std::fs::remove_dir_all(&d).expect("cleanup");
    }

    #[test]
    fn failed_run_leaves_nothing() {
        let d = tmp("fail");
        {
            let mut out = OutputDir::create(&d, false).expect("create");
            let id = out
                .array(ArrayInfo::new("x", vec![4], Dtype::U32, "test"))
                .expect("array");
            out.write(id, Data::U32(&[1, 2])).expect("write");
            // Dropped without commit: the run failed.
        }
        assert!(
            !d.exists(),
            "a failed run must not leave its directory behind"
        );
    }

    #[test]
    fn writing_past_the_shape_is_an_error() {
        let d = tmp("overflow");
        let mut out = OutputDir::create(&d, false).expect("create");
        let id = out
            .array(ArrayInfo::new("x", vec![1], Dtype::F64, "test"))
            .expect("array");
        assert!(out.write(id, Data::F64(&[1.0, 2.0])).is_err());
        assert!(out.write(id, Data::F32(&[1.0])).is_err());
    }
}
