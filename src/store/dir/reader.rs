//! How the directory store reads: through a [`DirReader`], so the component can bring one
//! that asks the host directly (see the store's documentation, "Reads go through a
//! DirReader").

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read};
use std::path::PathBuf;

/// Reads inside the data directory, by paths relative to it (`todos/7/3.json`).
pub trait DirReader {
    /// The names in directory `dir`; `Ok(None)` if it does not exist.
    fn list(&self, dir: &str) -> io::Result<Option<Vec<String>>>;
    /// The whole content of `file`; an error of kind `NotFound` if it does not exist.
    fn read(&self, file: &str) -> io::Result<Vec<u8>>;
    /// The start of `file`, at most `limit` bytes, in as few host calls as it takes: fewer
    /// bytes at the end of the file, but also if the host cut the read short. (A whole
    /// read needs one more call, to be told the end is reached.)
    fn read_up_to(&self, file: &str, limit: u64) -> io::Result<Vec<u8>>;
    /// How many names the file at `path` has (a link is not followed); `None` if `path`
    /// names nothing.
    fn link_count(&self, path: &str) -> io::Result<Option<u64>>;

    /// [`DirReader::list`] of a path relative to the data directory itself, where this
    /// reader is scoped to one owner's tree inside it ([`Scoped`]).
    fn list_in_root(&self, dir: &str) -> io::Result<Option<Vec<String>>> {
        self.list(dir)
    }
    /// [`DirReader::read`] of a path relative to the data directory itself.
    fn read_in_root(&self, file: &str) -> io::Result<Vec<u8>> {
        self.read(file)
    }
}

/// A store's reader, scoped to one owner's tree: every path is taken inside `prefix`
/// (`owners/{key}/`, or nothing for the todos of no owner).
pub struct Scoped<'a, R> {
    pub inner: &'a R,
    pub prefix: String,
}

impl<R: DirReader> Scoped<'_, R> {
    fn inside(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

impl<R: DirReader> DirReader for Scoped<'_, R> {
    fn list(&self, dir: &str) -> io::Result<Option<Vec<String>>> {
        self.inner.list(&self.inside(dir))
    }
    fn read(&self, file: &str) -> io::Result<Vec<u8>> {
        self.inner.read(&self.inside(file))
    }
    fn read_up_to(&self, file: &str, limit: u64) -> io::Result<Vec<u8>> {
        self.inner.read_up_to(&self.inside(file), limit)
    }
    fn link_count(&self, path: &str) -> io::Result<Option<u64>> {
        self.inner.link_count(&self.inside(path))
    }
    fn list_in_root(&self, dir: &str) -> io::Result<Option<Vec<String>>> {
        self.inner.list_in_root(dir)
    }
    fn read_in_root(&self, file: &str) -> io::Result<Vec<u8>> {
        self.inner.read_in_root(file)
    }
}

/// Reads with `std::fs` under `root`.
pub struct StdReader {
    root: PathBuf,
}

impl StdReader {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl DirReader for StdReader {
    fn list(&self, dir: &str) -> io::Result<Option<Vec<String>>> {
        let entries = match fs::read_dir(self.root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                // Names that are not UTF-8 are not ours.
                Ok(entry) => names.extend(entry.file_name().into_string().ok()),
                // Gone by the time the host described it.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Some(names))
    }

    fn read(&self, file: &str) -> io::Result<Vec<u8>> {
        fs::read(self.root.join(file))
    }

    fn read_up_to(&self, file: &str, limit: u64) -> io::Result<Vec<u8>> {
        let mut content = Vec::new();
        File::open(self.root.join(file))?
            .take(limit)
            .read_to_end(&mut content)?;
        Ok(content)
    }

    fn link_count(&self, path: &str) -> io::Result<Option<u64>> {
        match fs::symlink_metadata(self.root.join(path)) {
            Ok(meta) => link_count_of(&meta).map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(unix)]
fn link_count_of(meta: &fs::Metadata) -> io::Result<u64> {
    Ok(std::os::unix::fs::MetadataExt::nlink(meta))
}

/// `std` tells link counts only on Unix; the component reads through its own reader.
#[cfg(not(unix))]
fn link_count_of(_meta: &fs::Metadata) -> io::Result<u64> {
    Err(io::Error::new(ErrorKind::Unsupported, "link counts"))
}
