//! What durability costs per write in the directory store, on the disk where it runs.
//!
//! Times N creates and N updates through the real `DirStore` (each synced: the staging
//! file, then its directory), then N syncs alone, done the way the store does them (an
//! 80-byte file written and `sync_all`ed, then its directory). Prints a Markdown table.
//!
//! ```sh
//! cargo run --release --example sync_cost -- [DIR] [N]   # DIR: on the data disk (default: target/)
//! ```

use std::fs::{self, File};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use todo_api::store::Store;
use todo_api::store::dir::DirStore;
use todo_api::todo::{DEFAULT_MAX_TITLE_CHARS, parse_new_todo};

fn main() {
    let mut args = std::env::args().skip(1);
    let parent = PathBuf::from(args.next().unwrap_or_else(|| "target".into()));
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir_in(&parent).expect("a temporary directory on the data disk");
    let store = DirStore::new(dir.path());
    let fields = |title: &str| {
        let body = json!({ "title": title, "dueBy": "2026-12-24" });
        parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap()
    };

    let creates = time(n, |i| {
        store.create(&fields(&format!("todo {i}"))).expect("create");
    });
    let updates = time(n, |i| {
        let id = todo_api::todo::TodoId::new(i as i64 + 1).unwrap();
        store.update(id, 1, &fields("done")).expect("update");
    });
    let sync_dir = dir.path().join("sync");
    fs::create_dir(&sync_dir).unwrap();
    let bytes = [b'x'; 80];
    let syncs = time(n, |i| {
        let mut file = File::create(sync_dir.join(i.to_string())).unwrap();
        file.write_all(&bytes).unwrap();
        file.sync_all().unwrap();
        File::open(&sync_dir).unwrap().sync_all().unwrap();
    });

    println!("| on {} ({n} each) | median (ms) |", parent.display());
    println!("|---|---|");
    for (name, times) in [
        ("create a todo (durable)", creates),
        ("update a todo (durable)", updates),
        ("one file sync + one directory sync", syncs),
    ] {
        println!("| {name} | {:.3} |", median(times).as_secs_f64() * 1000.0);
    }
}

fn time(n: usize, mut op: impl FnMut(usize)) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let started = Instant::now();
            op(i);
            started.elapsed()
        })
        .collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}
