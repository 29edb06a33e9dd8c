//! The directory store's reads, asked of the host directly through `wasi:filesystem`.
//!
//! Through `std::fs` (wasi-libc), listing a directory costs a host call per entry to hash
//! its inode, and reading a file stats it first and reads through a stream: GET /todos/{id}
//! took 13 filesystem calls. Here a listing is open + read-directory + one cheap call per
//! entry, a file is open + read, and a name is looked up (and its links counted) with one stat.

use std::cell::OnceCell;
use std::io;

use wasi::filesystem::preopens::get_directories;
use wasi::filesystem::types::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags};

use crate::store::dir::DirReader;

/// How much to ask for per read: more than a todo's record usually holds, and the most
/// wasmtime hands over per call (64 KiB): a block's summary in one or two reads.
const READ_CHUNK: u64 = 64 * 1024;

/// Reads under `root`, a path inside one of the host's preopened directories (relative
/// paths start at `/`, as wasi-libc takes them).
pub struct WasiReader {
    root: String,
    /// The preopen holding `root` and the path of `root` inside it, found on first use.
    base: OnceCell<Option<(Descriptor, String)>>,
}

impl WasiReader {
    pub fn new(root: &str) -> Self {
        Self {
            root: root.to_owned(),
            base: OnceCell::new(),
        }
    }

    /// The preopen holding `path` (relative to the root), and the path inside it.
    fn resolve(&self, path: &str) -> io::Result<(&Descriptor, String)> {
        let Some((preopen, prefix)) = self.base.get_or_init(|| find_preopen(&self.root)) else {
            // Not "not found": that would read as "no such todo".
            return Err(io::Error::other(format!(
                "{} is not in a directory the host grants",
                self.root
            )));
        };
        let path = if prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{prefix}/{path}")
        };
        Ok((preopen, path))
    }

    /// Opens `path` (relative to the root) with `open_flags`.
    fn open(&self, path: &str, open_flags: OpenFlags) -> io::Result<Descriptor> {
        let (preopen, path) = self.resolve(path)?;
        preopen
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                &path,
                open_flags,
                DescriptorFlags::READ,
            )
            .map_err(io_error)
    }
}

impl DirReader for WasiReader {
    fn list(&self, dir: &str) -> io::Result<Option<Vec<String>>> {
        let directory = match self.open(dir, OpenFlags::DIRECTORY) {
            Ok(directory) => directory,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let entries = directory.read_directory().map_err(io_error)?;
        let mut names = Vec::new();
        loop {
            match entries.read_directory_entry() {
                Ok(Some(entry)) => names.push(entry.name),
                Ok(None) => return Ok(Some(names)),
                // The host lists the names, then looks at each: one gone in between (a
                // writer's staging file renamed to `current`, or swept after a crash) is
                // no name a reader needs, as `StdReader` skips it. The host gives the
                // error for that entry alone and goes on with the next.
                Err(ErrorCode::NoEntry) => continue,
                Err(code) => return Err(io_error(code)),
            }
        }
    }

    fn read(&self, file: &str) -> io::Result<Vec<u8>> {
        let file = self.open(file, OpenFlags::empty())?;
        let mut content = Vec::new();
        loop {
            let (chunk, end) = file
                .read(READ_CHUNK, content.len() as u64)
                .map_err(io_error)?;
            content.extend_from_slice(&chunk);
            if end || chunk.is_empty() {
                return Ok(content);
            }
        }
    }

    fn read_up_to(&self, file: &str, limit: u64) -> io::Result<Vec<u8>> {
        let file = self.open(file, OpenFlags::empty())?;
        let (chunk, _end) = file.read(limit, 0).map_err(io_error)?;
        Ok(chunk)
    }

    fn link_count(&self, path: &str) -> io::Result<Option<u64>> {
        let (preopen, path) = self.resolve(path)?;
        match preopen.stat_at(PathFlags::empty(), &path) {
            Ok(stat) => Ok(Some(stat.link_count)),
            Err(ErrorCode::NoEntry) => Ok(None),
            Err(code) => Err(io_error(code)),
        }
    }
}

/// The preopen whose name is `root` or a parent of it, and the rest of `root` below it.
/// Paths compare by their parts, as wasi-libc resolves them: relative to `/`, with empty
/// and `.` parts dropped. A path with `..` is not resolved here.
fn find_preopen(root: &str) -> Option<(Descriptor, String)> {
    let root = path_parts(root)?;
    get_directories()
        .into_iter()
        .filter_map(|(descriptor, name)| {
            let name = path_parts(&name)?;
            let rest = root.strip_prefix(name.as_slice())?;
            Some((name.len(), descriptor, rest.join("/")))
        })
        .max_by_key(|(length, _, _)| *length)
        .map(|(_, descriptor, rest)| (descriptor, rest))
}

fn path_parts(path: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    (!parts.contains(&"..")).then_some(parts)
}

fn io_error(code: ErrorCode) -> io::Error {
    let kind = match code {
        ErrorCode::NoEntry => io::ErrorKind::NotFound,
        ErrorCode::Access | ErrorCode::NotPermitted => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, code.message())
}
