//! [`DirLock`]: one run at a time writes an output directory, and an interrupted run leaves
//! nothing behind.
//!
//! A run holds an OS file lock on `DIR/.neuropop.lock` (`File::try_lock`: `flock` on Unix,
//! `LockFileEx` on Windows) while it writes `DIR`. A second run into the same directory fails
//! at once, naming the process that holds it; the OS drops the lock of a process that dies, so
//! a stale lock file is simply taken over. Replacing a finished run's files with a new run
//! stays allowed: the lock only covers the time a run is writing.
//!
//! Staging folders are registered here as well, so that an interrupt (Ctrl-C in the CLI)
//! can remove them with [`clean_up_interrupted`] before the process exits.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Name of the lock file inside an output directory while a run writes it.
pub const LOCK_FILE: &str = ".neuropop.lock";

/// The lock on an output directory; released (and its file removed) on drop.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

/// True when `file` is still the file at `path` (its previous holder may have removed the
/// file between our open and our lock; a lock on a removed file protects nothing).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Elsewhere an open file cannot be removed, so it is still there.
#[cfg(not(unix))]
fn still_at(_file: &File, _path: &Path) -> bool {
    true
}

impl DirLock {
    /// Takes the lock of `dir` (which must exist), or fails with [`Error::OutputBusy`]
    /// naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let io = |e| Error::io(&path, e);
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {
                    if !still_at(&file, &path) {
                        continue;
                    }
                    file.set_len(0).map_err(io)?;
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    writeln!(file, "{}", std::process::id()).map_err(io)?;
                    return Ok(Self { file, path });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let holder = match file.read_to_string(&mut text) {
                        Ok(_) if !text.trim().is_empty() => format!("process {}", text.trim()),
                        _ => "another process".to_string(),
                    };
                    return Err(Error::OutputBusy {
                        dir: dir.to_path_buf(),
                        holder,
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        Err(Error::OutputBusy {
            dir: dir.to_path_buf(),
            holder: "other processes (the lock file keeps changing)".into(),
        })
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still locked: a run that opens the path afterwards gets a new file.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// What an interrupted run must remove.
#[derive(Debug, Clone)]
struct Staged {
    id: u64,
    staging: PathBuf,
    lock: PathBuf,
    /// The output directory, when this run created it (removed if left empty).
    created: Option<PathBuf>,
}

static STAGED: Mutex<(u64, Vec<Staged>)> = Mutex::new((0, Vec::new()));

/// Registers a staging folder (with its directory's lock file) for [`clean_up_interrupted`];
/// returns the handle for [`unregister`].
pub(crate) fn register(staging: &Path, lock: &Path, created: Option<&Path>) -> u64 {
    let mut g = STAGED.lock().unwrap_or_else(|p| p.into_inner());
    g.0 += 1;
    let id = g.0;
    g.1.push(Staged {
        id,
        staging: staging.to_path_buf(),
        lock: lock.to_path_buf(),
        created: created.map(Path::to_path_buf),
    });
    id
}

/// Forgets a staging folder (committed, or removed by its owner).
pub(crate) fn unregister(id: u64) {
    let mut g = STAGED.lock().unwrap_or_else(|p| p.into_inner());
    g.1.retain(|s| s.id != id);
}

/// Removes the staging folders and lock files of every run in progress in this process, and
/// output directories those runs created if they are empty. For an interrupt handler that
/// exits the process right after: the runs' own clean-up never gets to run.
pub fn clean_up_interrupted() {
    clean_up(|_| true);
}

/// [`clean_up_interrupted`] for the registrations `which` selects.
pub(crate) fn clean_up(which: impl Fn(u64) -> bool) {
    let staged: Vec<Staged> = {
        let mut g = STAGED.lock().unwrap_or_else(|p| p.into_inner());
        let (take, keep) = std::mem::take(&mut g.1)
            .into_iter()
            .partition(|s| which(s.id));
        g.1 = keep;
        take
    };
    for s in staged {
        // The run may still be creating files in the folder: try a few times.
        for _ in 0..5 {
            if std::fs::remove_dir_all(&s.staging).is_ok() || !s.staging.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&s.lock);
        if let Some(d) = &s.created {
            let _ = std::fs::remove_dir(d);
        }
    }
}
