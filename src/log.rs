//! Error log lines that can never trap the component: `eprintln!` panics when the host's
//! stream fails, and no log line is worth a failed request.

use std::fmt;
use std::io::Write;

/// A failure the client is not told the details of, on stderr.
pub fn error(line: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "todo-api: {line}");
}
