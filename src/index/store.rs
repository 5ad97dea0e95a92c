//! The index directory on disk, written so that a crash never leaves it half-new.
//!
//! Layout of `--index DIR` (default `.recommend/`):
//!
//! ```text
//! CURRENT            name of the live generation, replaced by rename
//! lock               held by a running `index`
//! gen-000003/        one complete index (format 4; see `format` for every file):
//!   manifest.json    format, model, settings, counts, and every file's length and sha256
//!   sources.json     input file → sha256
//!   papers.meta(.idx), papers.text(.idx), passages.text(.idx)   records + offsets
//!   papers.f32, papers.hubness, papers.center*    f32 tables
//!   passages.f16     passage vectors in half precision (format 3: passages.f32)
//!   papers.ivf.*, passages.ivf.*   approximate-search lists (int8 codes)
//!   papers.ids*, papers.date, papers.sources*, papers.tags*, …  id table, filter columns
//! ```
//!
//! A new index is written into a fresh generation directory; only when every file is
//! flushed does `CURRENT` switch to it (temp file, fsync, rename); the generation it
//! replaced is kept for readers that still have it open, and older ones are removed. Readers verify every file against the manifest before use, so a
//! truncated or foreign file is an error that says to re-run `index`, never a panic inside
//! a dependency.

use fs2::FileExt;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no index in {}: run `recommend index` first", .0.display())]
    Missing(PathBuf),
    #[error("index in {} is unusable ({reason}): run `recommend index` to rebuild it", dir.display())]
    Corrupt { dir: PathBuf, reason: String },
    #[error("another `recommend index` is writing {} (lock held): wait for it to finish", .0.display())]
    Locked(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, then renames.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(dir))?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// The exclusive writer lock of an index directory; released on drop.
pub struct Lock {
    file: File,
}

impl Lock {
    pub fn acquire(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(io_err(root))?;
        let path = root.join("lock");
        let file = File::create(&path).map_err(io_err(&path))?;
        file.try_lock_exclusive()
            .map_err(|_| StoreError::Locked(root.to_path_buf()))?;
        Ok(Self { file })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

/// The generation directory `CURRENT` names, if any.
pub fn current(root: &Path) -> Result<PathBuf, StoreError> {
    let pointer = root.join("CURRENT");
    let name = match fs::read_to_string(&pointer) {
        Ok(s) => s.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Missing(root.to_path_buf()))
        }
        Err(e) => return Err(io_err(&pointer)(e)),
    };
    let valid = name.starts_with("gen-") && !name.contains(['/', '\\', '.']);
    let dir = root.join(&name);
    if !valid || !dir.is_dir() {
        return Err(StoreError::Corrupt {
            dir: root.to_path_buf(),
            reason: format!("CURRENT names {name:?}, which is not a generation directory"),
        });
    }
    Ok(dir)
}

/// A new, empty generation directory, numbered after the existing ones.
pub fn new_generation(root: &Path) -> Result<PathBuf, StoreError> {
    let next = generations(root)?.last().map_or(1, |(n, _)| n + 1);
    let dir = root.join(format!("gen-{next:06}"));
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    Ok(dir)
}

fn generations(root: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(root) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(n) = name
                .strip_prefix("gen-")
                .and_then(|s| s.parse::<u64>().ok())
            {
                out.push((n, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Makes `generation` the live index, then removes every other generation.
pub fn publish(root: &Path, generation: &Path) -> Result<(), StoreError> {
    // Files inside the generation are synced by `write_atomic`; sync the directory entries too.
    if let Ok(d) = File::open(generation) {
        let _ = d.sync_all();
    }
    let name = generation
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    // The generation being replaced stays until the next publish: a query that opened it a
    // moment ago can still read its files. Anything else (older ones, or the remains of an
    // interrupted run) goes.
    let previous = current(root).ok();
    write_atomic(&root.join("CURRENT"), name.as_bytes())?;
    for (_, dir) in generations(root)? {
        if dir != generation && Some(&dir) != previous.as_ref() {
            let _ = fs::remove_dir_all(dir);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_keeps_the_replaced_generation_for_open_readers() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let mut gens = Vec::new();
        for i in 0..3 {
            let g = new_generation(root).unwrap();
            write_atomic(&g.join("f"), format!("{i}").as_bytes()).unwrap();
            publish(root, &g).unwrap();
            gens.push(g);
        }
        assert_eq!(current(root).unwrap(), gens[2]);
        assert!(gens[1].join("f").exists(), "the replaced generation stays");
        assert!(!gens[0].exists(), "older ones go");
        // An interrupted run's generation is cleaned up by the next publish.
        let crashed = new_generation(root).unwrap();
        let next = new_generation(root).unwrap();
        publish(root, &next).unwrap();
        assert!(!crashed.exists() && !gens[1].exists() && gens[2].exists());
    }
}
