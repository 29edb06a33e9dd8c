//! Rate limiting: a token bucket per client, kept as GCRA (the generic cell rate
//! algorithm) keeps one: a single number per bucket, its *theoretical arrival time* (TAT),
//! which the store updates in one atomic step (`Store::take_token`), so that the limit holds
//! across instances and replicas. The time is the store's: the database's clock in the SQL
//! store (one clock for every replica), the host's in the directory store, read once the
//! bucket is in hand.
//!
//! A limit of `N` per `PERIOD` admits a burst of `N` requests and then one every
//! `PERIOD / N` (the *interval*). A request at `now` is admitted when the bucket's TAT,
//! or `now` if that is later, is at most `(N - 1)` intervals ahead of `now` (the
//! *tolerance*); admitting it moves the TAT one interval on. A refused request changes
//! nothing. A bucket whose TAT has passed is as good as a new one, so such buckets can be
//! removed at any time without changing any answer.
//!
//! The answers carry the fields of draft-ietf-httpapi-ratelimit-headers-11:
//! `RateLimit-Policy: "default";q=N;w=PERIOD` and `RateLimit: "default";r=LEFT;t=SECONDS`,
//! and a refused one `Retry-After`.

/// A limit of `limit` requests per `period_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub period_secs: u32,
}

/// The largest `N` of `N/PERIOD`.
pub const MAX_LIMIT: u32 = 1_000_000;
/// The longest `PERIOD`: a day.
pub const MAX_PERIOD_SECS: u32 = 86_400;

/// What the store did with one request: whether it was admitted, the bucket's TAT
/// afterwards, and the instant it was judged at, on the store's clock (microseconds since
/// the Unix epoch): taken when the bucket is locked, not when the request came, so that a
/// request that waited for the lock is judged at the time it is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub admitted: bool,
    pub tat_us: i64,
    pub now_us: i64,
}

impl RateLimit {
    /// Parses `N/PERIOD`: `N` from 1 to 1,000,000; `PERIOD` a whole number of seconds,
    /// minutes or hours (`10s`, `1m`, `2h`; the number may be left out: `m` is `1m`),
    /// from one second to a day.
    pub fn parse(text: &str) -> Result<Self, String> {
        let usage = || format!("'{text}' is not N/PERIOD, such as 100/10s or 30/1m");
        let (limit, period) = text.trim().split_once('/').ok_or_else(usage)?;
        let limit: u32 = limit.trim().parse().map_err(|_| usage())?;
        let period = period.trim();
        let unit = period.chars().last().ok_or_else(usage)?;
        let digits = &period[..period.len() - unit.len_utf8()];
        let count: u32 = if digits.is_empty() {
            1
        } else {
            digits.parse().map_err(|_| usage())?
        };
        let scale = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(usage()),
        };
        let period_secs = count.checked_mul(scale).ok_or_else(usage)?;
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(format!("N must be 1 to {MAX_LIMIT}, not {limit}"));
        }
        if !(1..=MAX_PERIOD_SECS).contains(&period_secs) {
            return Err(format!("PERIOD must be one second to a day, not {period}"));
        }
        Ok(Self { limit, period_secs })
    }

    /// Microseconds between two admitted requests, once the burst is spent.
    pub fn interval_us(&self) -> i64 {
        (i64::from(self.period_secs) * 1_000_000 / i64::from(self.limit)).max(1)
    }

    /// How far ahead of now a bucket's TAT may be for a request to be admitted.
    pub fn tolerance_us(&self) -> i64 {
        self.interval_us() * i64::from(self.limit - 1)
    }

    /// One step of GCRA on a bucket whose TAT is `stored` (`None`: a new bucket), as the
    /// stores take it: the SQL store in one statement, the directory store in Rust.
    pub fn step(&self, stored: Option<i64>, now_us: i64) -> Admission {
        let tat = stored.map_or(now_us, |stored| stored.max(now_us));
        if tat - now_us <= self.tolerance_us() {
            Admission {
                admitted: true,
                tat_us: tat + self.interval_us(),
                now_us,
            }
        } else {
            Admission {
                admitted: false,
                tat_us: stored.unwrap_or(now_us),
                now_us,
            }
        }
    }

    /// The `RateLimit-Policy` field.
    pub fn policy_field(&self) -> String {
        format!("\"default\";q={};w={}", self.limit, self.period_secs)
    }

    /// The `RateLimit` field after `admission`: requests left now, and seconds until the
    /// bucket is full again.
    pub fn status_field(&self, admission: Admission) -> String {
        let ahead = (admission.tat_us - admission.now_us).max(0);
        let left = if admission.admitted || ahead <= self.tolerance_us() {
            (self.tolerance_us() + self.interval_us() - ahead) / self.interval_us()
        } else {
            0
        };
        let left = left.clamp(0, i64::from(self.limit));
        format!("\"default\";r={left};t={}", seconds_up(ahead))
    }

    /// Seconds a refused client should wait (`Retry-After`): until its bucket admits one
    /// more request.
    pub fn retry_after_secs(&self, admission: Admission) -> i64 {
        seconds_up(admission.tat_us - self.tolerance_us() - admission.now_us).max(1)
    }
}

/// Whole seconds, rounded up, of `micros` (none below zero).
fn seconds_up(micros: i64) -> i64 {
    (micros.max(0) + 999_999) / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_n_per_period() {
        let parsed = |text: &str| RateLimit::parse(text).map(|l| (l.limit, l.period_secs));
        assert_eq!(parsed("100/10s"), Ok((100, 10)));
        assert_eq!(parsed("30/1m"), Ok((30, 60)));
        assert_eq!(parsed(" 5 / h "), Ok((5, 3600)));
        assert_eq!(parsed("1000000/24h"), Ok((1_000_000, 86_400)));
        for bad in [
            "",
            "100",
            "100/",
            "/10s",
            "0/1s",
            "1000001/1s",
            "10/0s",
            "10/25h",
            "10/10",
            "10/10d",
            "-1/1s",
            "1.5/1s",
            "10/1ms",
            "10/s1",
        ] {
            assert!(RateLimit::parse(bad).is_err(), "{bad:?}");
        }
    }

    /// A burst of N, then one per interval; refusals change nothing; a bucket left alone
    /// fills again.
    #[test]
    fn gcra_admits_a_burst_then_one_per_interval() {
        let limit = RateLimit::parse("3/3s").unwrap();
        assert_eq!(limit.interval_us(), 1_000_000);
        let mut tat = None;
        let mut take = |now: i64| {
            let admission = limit.step(tat, now);
            if admission.admitted {
                tat = Some(admission.tat_us);
            }
            admission
        };
        let t0 = 1_700_000_000_000_000;
        assert!(take(t0).admitted);
        assert!(take(t0).admitted);
        let third = take(t0);
        assert!(third.admitted);
        assert_eq!(limit.status_field(third), "\"default\";r=0;t=3");
        let refused = take(t0 + 500_000);
        assert!(!refused.admitted);
        assert_eq!(limit.retry_after_secs(refused), 1);
        assert_eq!(limit.status_field(refused), "\"default\";r=0;t=3");
        assert!(take(t0 + 1_000_000).admitted);
        assert!(!take(t0 + 1_500_000).admitted);
        // Left alone for a period: a full burst again.
        let later = t0 + 10_000_000;
        let first = take(later);
        assert_eq!(limit.status_field(first), "\"default\";r=2;t=1");
        assert!(take(later).admitted && take(later).admitted);
        assert!(!take(later).admitted);
        assert_eq!(limit.policy_field(), "\"default\";q=3;w=3");
    }

    /// However requests arrive, no window of length W admits more than N + W / interval.
    #[test]
    fn no_window_admits_more_than_the_bucket_allows() {
        let limit = RateLimit::parse("10/1s").unwrap();
        let mut tat = None;
        let mut admitted = Vec::new();
        let mut now = 0;
        let mut seed = 7u64;
        for _ in 0..5_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            now += (seed >> 33) as i64 % 40_000;
            let admission = limit.step(tat, now);
            if admission.admitted {
                tat = Some(admission.tat_us);
                admitted.push(now);
            }
        }
        for (i, start) in admitted.iter().enumerate() {
            let window = 2_000_000;
            let inside = admitted[i..]
                .iter()
                .take_while(|t| **t < start + window)
                .count();
            assert!(
                inside as i64 <= 10 + window / limit.interval_us(),
                "{inside} at {start}"
            );
        }
    }
}
