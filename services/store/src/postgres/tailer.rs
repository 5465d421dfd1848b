//! The live feed of one palier process over a shared database: every commit of every process
//! sharing it reaches this process's subscribers.
//!
//! One task, the tailer, publishes the log on the process's live feed in contiguous batches
//! (the form [`crate::subscription`] expects). It is woken by this process's writer (which
//! hands over the events it committed, published as they are when they continue the feed), by
//! `LISTEN`/`NOTIFY` (each commit notifies its last position, so the other processes' commits
//! arrive within a round trip), and by a poll timer as a safety net (a notification lost with a
//! dropped connection is then found at the next tick). When what it was given does not
//! continue the feed, it reads the log from storage after the last position it published:
//! one read per commit for the whole process, however many subscribers there are.
//!
//! Only durable events are published (see `durable.rs`): the writer hands over its events once
//! its fence returned, the listener advances the durable head to each position notified (a
//! notification is delivered only after its fence's flush), and each poll tick fences what it
//! finds committed beyond the durable head (a process that died between its commit and its
//! fence leaves such events) before reading it.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_postgres::AsyncMessage;

use crate::event::RecordedEvent;
use crate::filter::EventFilter;
use crate::subscription::LiveBatch;

use super::durable::{self, DurableHead};
use super::{Connector, NOTIFY_CHANNEL, reader};

/// How many events the tailer reads from storage at a time.
const PAGE: usize = 1024;

/// The writer's side of the feed.
#[derive(Clone)]
pub struct Feed {
    live: broadcast::Sender<LiveBatch>,
    local: mpsc::Sender<Vec<RecordedEvent>>,
    wake: Arc<Notify>,
    durable: Arc<DurableHead>,
}

impl Feed {
    /// A feed publishing on `live` what `durable` covers, and the tailer's ends of it.
    pub fn new(
        live: broadcast::Sender<LiveBatch>,
        durable: Arc<DurableHead>,
    ) -> (Feed, mpsc::Receiver<Vec<RecordedEvent>>) {
        let (local, rx) = mpsc::channel(256);
        (
            Feed {
                live,
                local,
                wake: Arc::new(Notify::new()),
                durable,
            },
            rx,
        )
    }

    /// The process's durable head (the writer advances it after each fence).
    pub fn durable(&self) -> &DurableHead {
        &self.durable
    }

    /// Whether copies of committed events are worth building (someone listens).
    pub fn wants_events(&self) -> bool {
        self.live.receiver_count() > 0
    }

    /// This process committed `events` (empty when no copies were built).
    pub fn committed(&self, events: Vec<RecordedEvent>) {
        if events.is_empty() || self.local.try_send(events).is_err() {
            self.wake.notify_one();
        }
    }
}

/// Runs the tailer until aborted.
pub async fn run(
    pool: deadpool_postgres::Pool,
    feed: Feed,
    mut local: mpsc::Receiver<Vec<RecordedEvent>>,
    mut notified: mpsc::Receiver<u64>,
    poll: Duration,
) {
    let mut tail: Option<u64> = None;
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            Some(batch) = local.recv() => {
                if feed.live.receiver_count() == 0 {
                    tail = None;
                    continue;
                }
                if let Some(t) = tail {
                    let fresh: Vec<RecordedEvent> =
                        batch.into_iter().filter(|e| e.position > t).collect();
                    match fresh.first() {
                        None => continue,
                        Some(first) if first.position == t + 1 => {
                            tail = fresh.last().map(|e| e.position);
                            let _ = feed.live.send(Arc::from(fresh));
                            continue;
                        }
                        Some(_) => {}
                    }
                }
                catch_up(&pool, &feed, &mut tail).await;
            }
            Some(position) = notified.recv() => {
                if tail.is_none_or(|t| position > t) {
                    catch_up(&pool, &feed, &mut tail).await;
                }
            }
            () = feed.wake.notified() => catch_up(&pool, &feed, &mut tail).await,
            _ = ticks.tick() => {
                refresh(&pool, &feed).await;
                catch_up(&pool, &feed, &mut tail).await;
            }
        }
    }
}

/// The safety net of the durable head, whether anyone subscribes or not (readers stop at it):
/// what is committed beyond it (notifications lost, or a process that died between its commit
/// and its fence) is fenced and let in.
async fn refresh(pool: &deadpool_postgres::Pool, feed: &Feed) {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "the live feed cannot reach the store; it retries at the next tick");
            return;
        }
    };
    if let Err(e) = durable::refresh(&client, &feed.durable).await {
        tracing::warn!(error = %e, "the live feed cannot fence the store; it retries at the next tick");
    }
}

/// Publishes what the log holds after `tail`. Without a tail (nobody listened until now), it
/// only learns the head and tells subscribers to read storage themselves.
async fn catch_up(pool: &deadpool_postgres::Pool, feed: &Feed, tail: &mut Option<u64>) {
    if feed.live.receiver_count() == 0 {
        *tail = None;
        return;
    }
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "the live feed cannot read the store; it retries at the next tick");
            return;
        }
    };
    let all = EventFilter::all();
    loop {
        let Some(t) = *tail else {
            match reader::head_position(&client, feed.durable.get()).await {
                Ok(head) => {
                    *tail = Some(head);
                    // "Something was committed: read it from storage."
                    let _ = feed.live.send(Arc::from(Vec::new()));
                }
                Err(e) => tracing::warn!(error = %e, "the live feed cannot read the head"),
            }
            return;
        };
        match reader::read_all(&client, feed.durable.get(), t + 1, &all, PAGE).await {
            Ok(slice) => {
                if !slice.events.is_empty() {
                    let _ = feed.live.send(Arc::from(slice.events));
                }
                *tail = Some(t.max(slice.scanned_to));
                if slice.is_end {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the live feed cannot read the log; it retries at the next tick");
                return;
            }
        }
    }
}

/// Listens for the commits of every process on a connection of its own, advancing the durable
/// head to their last positions and forwarding them to the tailer; reconnects when the
/// connection drops (and wakes the tailer, which may have missed notifications meanwhile).
pub async fn listen(
    connector: Connector,
    notified: mpsc::Sender<u64>,
    wake: Arc<Notify>,
    durable: Arc<DurableHead>,
) {
    loop {
        match connector.connect_raw().await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
                let durable = Arc::clone(&durable);
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                // A notification is delivered only once its fence flushed:
                                // everything up to its position is durable.
                                let position = match durable::notified_position(n.payload()) {
                                    Some(position) => {
                                        durable.advance(position);
                                        position
                                    }
                                    // Not ours: look at the log, without trusting it.
                                    None => u64::MAX,
                                };
                                if tx.send(position).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the store's notification connection failed");
                                return;
                            }
                        }
                    }
                });
                match client
                    .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
                    .await
                {
                    Ok(()) => {
                        wake.notify_one();
                        while let Some(position) = rx.recv().await {
                            if notified.try_send(position).is_err() {
                                wake.notify_one();
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "LISTEN failed"),
                }
                driver.abort();
            }
            Err(e) => {
                tracing::warn!(error = %e, "the store's notification connection cannot connect")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The tailer's wake-up, shared with the listener.
pub fn wake_of(feed: &Feed) -> Arc<Notify> {
    Arc::clone(&feed.wake)
}
