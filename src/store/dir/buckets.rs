//! Rate limit buckets in the directory store ([`crate::ratelimit`]): compare-and-swap as a
//! todo's revisions do it.
//!
//! ```text
//! {root}/buckets/{fingerprint}/{n}   the bucket's n-th state: its TAT, in decimal microseconds
//! ```
//! The bucket's state is its highest-numbered file. A request reads it, takes one step of
//! GCRA, and, where admitted, publishes state `n + 1` by hard-linking a staged file to that
//! name, which fails if it exists: of all requests that read state `n`, exactly one is
//! admitted on it, the others read again. A refused request writes nothing. Only the last
//! [`KEPT_STATES`] states are kept; a request stalled for longer than that many admissions
//! of its own bucket could publish a state below the highest, which nobody reads, and so
//! be admitted once without counting (the one inexactness, noted in docs/storage.md).
//! Buckets are not synced: a crash forgets recent requests, never a todo. Buckets idle for
//! a period are removed (about one admission in 64 looks).

use std::fs;
use std::io::ErrorKind;

use super::{DirReader, DirStore, create_layout_dir, io_error};
use crate::ratelimit::{Admission, RateLimit};
use crate::store::{FNV_START, StoreError, StoreResult, fnv1a};

const BUCKETS: &str = "buckets";
/// States kept per bucket: older ones are removed by the request that publishes a new one.
const KEPT_STATES: u64 = 64;
/// How often a request reads again after losing the race for a bucket's next state.
const TAKE_RETRIES: u32 = 32;

impl<R: DirReader> DirStore<R> {
    /// Takes one request from `bucket` at the time `clock` gives when the bucket's state is
    /// in hand (read anew for every attempt).
    pub(super) fn take_bucket_token(
        &self,
        bucket: &str,
        limit: &RateLimit,
        clock: impl Fn() -> i64,
    ) -> StoreResult<Admission> {
        let dir = format!("{BUCKETS}/{:016x}", fnv1a(FNV_START, bucket.as_bytes()));
        // Buckets are the data directory's, whichever tree a handle keeps todos in.
        let root = self.data_root();
        for _ in 0..TAKE_RETRIES {
            let Some((state, stored)) = self.bucket_state(&dir)? else {
                // Removed (pruned) while it was read: read again.
                continue;
            };
            let now_us = clock();
            let admission = limit.step(stored, now_us);
            if !admission.admitted {
                return Ok(admission);
            }
            let staged = self
                .stage_in(
                    &root.join("tmp"),
                    admission.tat_us.to_string().as_bytes(),
                    false,
                )
                .map_err(|e| io_error("stage a bucket's state", &e))?;
            let next = root.join(&dir).join((state + 1).to_string());
            let linked = match fs::hard_link(&staged, &next) {
                Err(e) if e.kind() == ErrorKind::NotFound => create_layout_dir(&root.join(BUCKETS))
                    .and_then(|()| create_layout_dir(&root.join(&dir)))
                    .and_then(|()| fs::hard_link(&staged, &next)),
                other => other,
            };
            let _ = fs::remove_file(&staged);
            match linked {
                Ok(()) => {
                    if state + 1 > KEPT_STATES {
                        let old = state + 1 - KEPT_STATES;
                        let _ = fs::remove_file(root.join(&dir).join(old.to_string()));
                    }
                    // About one admission in 64 removes the buckets idle for a period.
                    if now_us % 64 == 0 {
                        self.remove_idle_buckets(now_us - i64::from(limit.period_secs) * 1_000_000);
                    }
                    return Ok(admission);
                }
                // Another request published that state first.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error("publish a bucket's state", &e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "rate limit bucket {dir}: lost the race {TAKE_RETRIES} times"
        )))
    }

    /// Removes every bucket whose TAT is before `idle_since`: such a bucket is as good as a
    /// new one. Only the states it listed are removed, and the directory only if nothing
    /// came meanwhile: a request that published a newer state keeps its bucket, and one that
    /// finds the bucket gone starts a new one, which a bucket that old equals.
    fn remove_idle_buckets(&self, idle_since: i64) {
        let root = self.data_root();
        let Ok(Some(buckets)) = self.reader.list_in_root(BUCKETS) else {
            return;
        };
        for bucket in buckets {
            let dir = format!("{BUCKETS}/{bucket}");
            let Ok(Some((newest, Some(tat)))) = self.bucket_state(&dir) else {
                continue;
            };
            if tat >= idle_since {
                continue;
            }
            let Ok(Some(states)) = self.reader.list_in_root(&dir) else {
                continue;
            };
            // Not a state published after the one found idle.
            for state in states {
                if state.parse::<u64>().is_ok_and(|state| state <= newest) {
                    let _ = fs::remove_file(root.join(&dir).join(state));
                }
            }
            let _ = fs::remove_dir(root.join(&dir));
        }
    }

    /// The bucket's highest state number and the TAT it holds (`0, None` for a bucket
    /// that has none yet); `None` where that state was removed while being read.
    fn bucket_state(&self, dir: &str) -> StoreResult<Option<(u64, Option<i64>)>> {
        let names = self
            .reader
            .list_in_root(dir)
            .map_err(|e| io_error("list a bucket", &e))?
            .unwrap_or_default();
        let Some(state) = names
            .iter()
            .filter_map(|name| name.parse::<u64>().ok())
            .max()
        else {
            return Ok(Some((0, None)));
        };
        match self.reader.read_in_root(&format!("{dir}/{state}")) {
            Ok(bytes) => {
                let tat = std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|text| text.trim().parse::<i64>().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("bucket state {dir}/{state}")))?;
                Ok(Some((state, Some(tat))))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read a bucket", &e)),
        }
    }
}
