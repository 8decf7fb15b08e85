//! The call-steps log, written in the background: a step is queued without
//! waiting (the caller's answer never waits for the log) and written in
//! batches. If the database falls behind and the queue fills, steps are
//! dropped and counted rather than slowing calls down; steps the database
//! could not take are counted the same way. A row the database refuses costs
//! only itself: a refused batch is split until the culprit is alone.
//! Every drop is also kept as a gap (tenant, minute, reason) in
//! `step_log_gaps`, written once the database takes it, so that the funnel
//! of that period says how many steps it misses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};

use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::storage::blames_a_row;
use crate::storage::steps::{NewStep, insert_steps, insert_steps_of_live_tenants};

const QUEUE: usize = 65_536;
const MAX_BATCH: usize = 2_000;
/// How long a step may wait to share its batch with others.
const LINGER: Duration = Duration::from_millis(50);
/// Batches being written at once: while one commits (the WAL flush, when
/// PostgreSQL's CPU is idle), the next is sent.
const WRITES_IN_FLIGHT: usize = 2;

/// Why a step was not logged (`ivrhub_steps_dropped_total`'s `reason`,
/// `step_log_gaps.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The queue was full: the database fell behind the calls.
    QueueFull,
    /// The database refused the step for what it carries.
    Refused,
    /// The database failed (down, timed out).
    Database,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [
        DropReason::QueueFull,
        DropReason::Refused,
        DropReason::Database,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Refused => "refused",
            DropReason::Database => "database",
        }
    }
}

/// Where steps were lost: (tenant, minute, reason).
type GapKey = (i64, DateTime<Utc>, DropReason);
/// Drops not written to `step_log_gaps` yet, with their counts.
type Gaps = Arc<Mutex<HashMap<GapKey, i64>>>;

#[derive(Clone)]
pub struct StepLog {
    queue: mpsc::Sender<NewStep>,
    /// Counts the drops (`steps_dropped`).
    metrics: Arc<crate::metrics::Metrics>,
    gaps: Gaps,
}

/// Counts `steps` dropped for `reason`, in the metrics and as gaps.
fn drop_steps<'a>(
    metrics: &crate::metrics::Metrics,
    gaps: &Gaps,
    reason: DropReason,
    steps: impl IntoIterator<Item = &'a NewStep>,
) {
    let mut gaps = gaps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut count = 0;
    for step in steps {
        let minute = step
            .at
            .duration_trunc(chrono::Duration::minutes(1))
            .unwrap_or(step.at);
        *gaps.entry((step.tenant_id, minute, reason)).or_default() += 1;
        count += 1;
    }
    metrics.count_dropped_steps(reason, count);
}

impl StepLog {
    /// Starts the writer; it ends (after writing what is queued) once every
    /// `StepLog` clone is dropped.
    pub fn spawn(
        pool: PgPool,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> (StepLog, tokio::task::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let gaps = Gaps::default();
        let writer = tokio::spawn(write_steps(
            pool,
            receiver,
            Arc::clone(&metrics),
            Arc::clone(&gaps),
        ));
        (
            StepLog {
                queue,
                metrics,
                gaps,
            },
            writer,
        )
    }

    pub fn record(&self, step: NewStep) {
        if let Err(error) = self.queue.try_send(step) {
            let step = match error {
                mpsc::error::TrySendError::Full(step) | mpsc::error::TrySendError::Closed(step) => {
                    step
                }
            };
            drop_steps(&self.metrics, &self.gaps, DropReason::QueueFull, [&step]);
        }
    }

    /// Steps waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Steps never logged: the queue was full, or the database did not take them.
    pub fn dropped(&self) -> u64 {
        self.metrics.dropped_steps()
    }
}

async fn write_steps(
    pool: PgPool,
    mut receiver: mpsc::Receiver<NewStep>,
    metrics: Arc<crate::metrics::Metrics>,
    gaps: Gaps,
) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(WRITES_IN_FLIGHT));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // The linger sleeps instead of waiting on the queue: a receiver
        // waiting on it is woken by every step sent, a wake-up of another
        // thread per step (tens of thousands a second at full load, seen as
        // task switches in perf); a sleeping one only by its timer.
        take_queued(&mut receiver, &mut batch);
        if batch.len() < MAX_BATCH {
            tokio::time::sleep(LINGER).await;
            take_queued(&mut receiver, &mut batch);
        }
        metrics.step_batch_size.observe(batch.len() as f64);
        // The next batch fills while this one is written (and commits).
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let batch = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        let (pool, metrics, gaps) = (pool.clone(), metrics.clone(), gaps.clone());
        tokio::spawn(async move {
            for (reason, lost) in write_isolating(&pool, &batch).await {
                drop_steps(&metrics, &gaps, reason, lost);
            }
            write_gaps(&pool, &gaps).await;
            drop(permit);
        });
    }
    // Every batch written before the log says it is done.
    let _all = in_flight.acquire_many(WRITES_IN_FLIGHT as u32).await;
    write_gaps(&pool, &gaps).await;
}

/// Moves the steps already queued into `batch`, up to [`MAX_BATCH`],
/// without waiting for more.
fn take_queued(receiver: &mut mpsc::Receiver<NewStep>, batch: &mut Vec<NewStep>) {
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(step) => batch.push(step),
            Err(_) => break,
        }
    }
}

/// Writes the gaps counted so far (kept for the next try if it fails).
async fn write_gaps(pool: &PgPool, gaps: &Gaps) {
    let pending: Vec<(GapKey, i64)> = {
        let mut gaps = gaps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if gaps.is_empty() {
            return;
        }
        gaps.drain().collect()
    };
    let rows: Vec<(i64, DateTime<Utc>, &'static str, i64)> = pending
        .iter()
        .map(|((tenant, minute, reason), count)| (*tenant, *minute, reason.as_str(), *count))
        .collect();
    if let Err(error) = crate::storage::steps::add_gaps(pool, &rows).await {
        tracing::warn!(%error, "step-log gaps not written yet");
        let mut gaps = gaps.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key, count) in pending {
            *gaps.entry(key).or_default() += count;
        }
    }
}

/// Writes `batch`; when the database refuses a part for something a row
/// carries, writes its halves separately, down to single rows, so that only
/// the refused rows are lost (k bad rows cost about 2·k·log₂(n) statements).
/// Returns the steps not written, with why.
async fn write_isolating<'a>(
    pool: &PgPool,
    batch: &'a [NewStep],
) -> Vec<(DropReason, &'a [NewStep])> {
    let mut pending = vec![batch];
    let mut lost = Vec::new();
    while let Some(part) = pending.pop() {
        match insert_steps(pool, part).await {
            Ok(()) => {}
            // A tenant deleted meanwhile: the rest of the part is written.
            Err(error)
                if error
                    .as_database_error()
                    .is_some_and(|error| error.is_foreign_key_violation()) =>
            {
                if let Err(error) = insert_steps_of_live_tenants(pool, part).await {
                    tracing::error!(%error, size = part.len(), "call steps not logged");
                    lost.push((DropReason::Database, part));
                }
            }
            Err(error) if part.len() > 1 && blames_a_row(&error) => {
                let (first, second) = part.split_at(part.len() / 2);
                // In order: the first half is popped first.
                pending.push(second);
                pending.push(first);
            }
            Err(error) => {
                tracing::error!(%error, size = part.len(), "call steps not logged");
                let reason = if blames_a_row(&error) {
                    DropReason::Refused
                } else {
                    DropReason::Database
                };
                lost.push((reason, part));
            }
        }
    }
    lost
}
