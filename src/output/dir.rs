//! [`OutputDir`]: `.npy` streams in a staging folder, moved into place when the run is done.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use serde::Serialize;

use super::lock::{self, DirLock};
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

/// Prefix of the staging folders inside an output directory.
const PARTIAL_PREFIX: &str = ".neuropop-partial-";

/// An output directory being written. Everything goes to `DIR/.neuropop-partial-<pid>/` first;
/// [`OutputDir::commit`] moves the files into `DIR` and writes `meta.json` last. Dropping an
/// uncommitted `OutputDir` removes the staging folder (and `DIR` itself if this run created it
/// and it is empty), so a failed run leaves nothing that looks finished. While it exists the
/// directory is locked ([`DirLock`]): a second run into it fails at once.
pub struct OutputDir {
    dir: PathBuf,
    staging: PathBuf,
    created_dir: bool,
    lock: Option<DirLock>,
    registration: u64,
    entries: Vec<Entry>,
    plots: bool,
    files: Vec<OutputFile>,
    committed: bool,
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| Error::io(path, e))
}

impl OutputDir {
    /// Prepares `dir` (created if missing): takes its lock (an [`Error::OutputBusy`] if
    /// another run is writing it), removes staging folders that runs which died left behind,
    /// and creates a fresh staging folder.
    pub fn create(dir: &Path, plots: bool) -> Result<Self> {
        let created_dir = !dir.exists();
        io(dir, std::fs::create_dir_all(dir))?;
        let dir_lock = match DirLock::acquire(dir) {
            Ok(l) => l,
            Err(e) => {
                if created_dir {
                    let _ = std::fs::remove_dir(dir);
                }
                return Err(e);
            }
        };
        // With the lock held no other run writes here: every staging folder is stale.
        for entry in io(dir, std::fs::read_dir(dir))?.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(PARTIAL_PREFIX)
            {
                let p = entry.path();
                io(&p, std::fs::remove_dir_all(&p))?;
            }
        }
        let staging = dir.join(format!("{PARTIAL_PREFIX}{}", std::process::id()));
        io(&staging, std::fs::create_dir(&staging))?;
        let registration = lock::register(&staging, dir_lock.path(), created_dir.then_some(dir));
        Ok(Self {
            dir: dir.to_path_buf(),
            staging,
            created_dir,
            lock: Some(dir_lock),
            registration,
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
        lock::unregister(self.registration);
        self.lock = None;
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
            lock::unregister(self.registration);
            // Releases the lock and removes its file before the directory itself.
            self.lock = None;
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
    fn a_directory_is_written_by_one_run_at_a_time() {
        let d = tmp("lock");
        let first = OutputDir::create(&d, false).expect("first run");
        match OutputDir::create(&d, false) {
            Err(Error::OutputBusy { dir, holder }) => {
                assert_eq!(dir, d);
                assert_eq!(holder, format!("process {}", std::process::id()));
            }
            other => panic!("second run into a busy directory: {:?}", other.map(|_| ())),
        }
        assert!(d.join(lock::LOCK_FILE).exists());
        drop(first);
        // Released: a later run may replace it.
        let mut again = OutputDir::create(&d, false).expect("after the first ended");
        again.write_json("a.json", &1, "test").expect("json");
        again.commit(&serde_json::json!({})).expect("commit");
        assert!(
            !d.join(lock::LOCK_FILE).exists(),
            "no lock file after a run"
        );
        std::fs::remove_dir_all(&d).expect("cleanup");
    }

    #[test]
    fn stale_staging_folders_are_removed() {
        let d = tmp("stale");
        let stale = d.join(format!("{PARTIAL_PREFIX}4000000000"));
        std::fs::create_dir_all(&stale).expect("stale folder");
        std::fs::write(stale.join("x.npy"), b"half").expect("stale file");
        // A lock file left by a process that died is not held by anyone.
        std::fs::write(d.join(lock::LOCK_FILE), b"4000000000\n").expect("stale lock");
        let out = OutputDir::create(&d, false).expect("takes over a stale lock");
        assert!(!stale.exists(), "a dead run's staging folder is removed");
        out.commit(&serde_json::json!({})).expect("commit");
        let left: Vec<_> = std::fs::read_dir(&d)
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("meta.json")]);
        std::fs::remove_dir_all(&d).expect("cleanup");
    }

    #[test]
    fn an_interrupt_removes_the_staging_folder() {
        let d = tmp("interrupt");
        let out = OutputDir::create(&d, false).expect("create");
        let staging = out.staging.clone();
        assert!(staging.exists());
        // What the CLI's Ctrl-C handler does (`clean_up_interrupted`), for this run only:
        // tests in this process run in parallel.
        let id = out.registration;
        lock::clean_up(|r| r == id);
        assert!(!staging.exists());
        assert!(!d.join(lock::LOCK_FILE).exists());
        std::mem::forget(out);
        assert!(!d.exists(), "the directory this run created is removed");
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
