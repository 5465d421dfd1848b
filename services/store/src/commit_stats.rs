//! What the writer's group commits cost, for operators: how many commits, how many appends
//! and events they carried (group size), and how long each took from its first write to
//! durable (a histogram). A write's p99 is mostly the commit it waited for, and on a shared
//! disk that is where stalls show: these figures tell a slow disk from a slow server.
//!
//! The writer records each commit with a few relaxed atomic additions; readers (the metrics
//! endpoint) take a consistent-enough copy at scrape time. A commit slower than
//! [`SLOW_COMMIT`] is also logged, at most once per [`SLOW_LOG_EVERY`] with the number of
//! slow commits since the last line, so that a sick disk cannot flood the log.
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bounds of the commit-duration buckets, in seconds (the same as the GraphQL request
/// latency's, so that the two histograms compare bucket by bucket).
pub const COMMIT_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A commit this slow is logged (a write waiting for it is a user waiting for it).
pub const SLOW_COMMIT: Duration = Duration::from_millis(500);

/// At most one slow-commit line per this long.
pub const SLOW_LOG_EVERY: Duration = Duration::from_secs(60);

/// A copy of the figures at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitFigures {
    /// Group commits made durable.
    pub commits: u64,
    /// Appends they carried (`appends / commits` is the mean group size).
    pub appends: u64,
    /// Events they wrote.
    pub events: u64,
    /// Total time of those commits, in seconds.
    pub seconds: f64,
    /// Commits per bucket of [`COMMIT_BUCKETS`] (not cumulative), then those slower than the
    /// last bound.
    pub buckets: [u64; COMMIT_BUCKETS.len() + 1],
}

impl CommitFigures {
    /// `(upper bound, count)` pairs as OpenMetrics encoders take them (the last bound
    /// infinite).
    pub fn bucket_pairs(&self) -> Vec<(f64, u64)> {
        COMMIT_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.buckets)
            .collect()
    }
}

/// The counters one writer updates.
#[derive(Debug, Default)]
pub struct CommitStats {
    commits: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
    nanos: AtomicU64,
    buckets: [AtomicU64; COMMIT_BUCKETS.len() + 1],
    slow: Mutex<SlowLog>,
}

/// Slow commits not yet reported, and when the last line went out.
#[derive(Debug, Default)]
struct SlowLog {
    unreported: u64,
    slowest: Duration,
    last_line: Option<Instant>,
}

impl CommitStats {
    /// Counts one durable group commit of `appends` appends and `events` events that took
    /// `took`.
    pub fn record(&self, appends: usize, events: usize, took: Duration) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.appends.fetch_add(
            u64::try_from(appends).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.events
            .fetch_add(u64::try_from(events).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.nanos.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let seconds = took.as_secs_f64();
        let bucket = COMMIT_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        if took >= SLOW_COMMIT {
            self.slow_commit(appends, took);
        }
    }

    fn slow_commit(&self, appends: usize, took: Duration) {
        let mut slow = self
            .slow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slow.unreported += 1;
        slow.slowest = slow.slowest.max(took);
        let now = Instant::now();
        if slow
            .last_line
            .is_none_or(|last| now.duration_since(last) >= SLOW_LOG_EVERY)
        {
            tracing::warn!(
                took_ms = took.as_millis(),
                appends,
                slow_commits = slow.unreported,
                slowest_ms = slow.slowest.as_millis(),
                "a group commit took long to become durable (the disk's flush, most likely); \
                 writes waited for it"
            );
            slow.unreported = 0;
            slow.slowest = Duration::ZERO;
            slow.last_line = Some(now);
        }
    }

    /// The figures now.
    pub fn figures(&self) -> CommitFigures {
        CommitFigures {
            commits: self.commits.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            #[allow(clippy::cast_precision_loss)] // nanoseconds to seconds, for display
            seconds: self.nanos.load(Ordering::Relaxed) as f64 / 1e9,
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_commit_lands_in_the_first_bucket_that_holds_it() {
        let stats = CommitStats::default();
        stats.record(16, 16, Duration::from_micros(300)); // ≤ 0.5 ms
        stats.record(4, 10, Duration::from_micros(500)); // ≤ 0.5 ms: bounds are inclusive
        stats.record(20, 20, Duration::from_millis(3)); // ≤ 5 ms
        stats.record(1, 1, Duration::from_secs(4)); // beyond 2.5 s
        let figures = stats.figures();
        assert_eq!(figures.commits, 4);
        assert_eq!(figures.appends, 41);
        assert_eq!(figures.events, 47);
        assert!(
            (figures.seconds - 4.0038).abs() < 1e-9,
            "{}",
            figures.seconds
        );
        let pairs = figures.bucket_pairs();
        assert_eq!(pairs.len(), COMMIT_BUCKETS.len() + 1);
        assert_eq!(pairs[0], (0.0005, 2));
        assert_eq!(pairs[3], (0.005, 1));
        assert_eq!(pairs[COMMIT_BUCKETS.len()], (f64::INFINITY, 1));
        assert_eq!(pairs.iter().map(|(_, n)| n).sum::<u64>(), figures.commits);
    }

    #[test]
    fn slow_commits_are_reported_once_per_period_with_their_count() {
        let stats = CommitStats::default();
        stats.record(1, 1, SLOW_COMMIT);
        stats.record(1, 1, SLOW_COMMIT * 2);
        stats.record(1, 1, SLOW_COMMIT * 3);
        let slow = stats.slow.lock().unwrap();
        // The first was logged at once; the next two wait for the next line, which says so.
        assert!(slow.last_line.is_some());
        assert_eq!(slow.unreported, 2);
        assert_eq!(slow.slowest, SLOW_COMMIT * 3);
    }
}
