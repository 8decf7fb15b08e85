//! The call-steps log, written in the background: a step is queued without
//! waiting (the caller's answer never waits for the log) and written in
//! batches. If the database falls behind and the queue fills, steps are
//! dropped and counted rather than slowing calls down; steps the database
//! could not take are counted the same way. A row the database refuses costs
//! only itself: a refused batch is split until the culprit is alone.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::storage::blames_a_row;
use crate::storage::steps::{NewStep, insert_steps, insert_steps_of_live_tenants};

const QUEUE: usize = 65_536;
const MAX_BATCH: usize = 2_000;
/// How long a step may wait to share its batch with others.
const LINGER: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct StepLog {
    queue: mpsc::Sender<NewStep>,
    /// Counts the drops (`steps_dropped`).
    metrics: Arc<crate::metrics::Metrics>,
}

impl StepLog {
    /// Starts the writer; it ends (after writing what is queued) once every
    /// `StepLog` clone is dropped.
    pub fn spawn(
        pool: PgPool,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> (StepLog, tokio::task::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_steps(pool, receiver, Arc::clone(&metrics)));
        (StepLog { queue, metrics }, writer)
    }

    pub fn record(&self, step: NewStep) {
        if self.queue.try_send(step).is_err() {
            self.metrics.steps_dropped.inc();
        }
    }

    /// Steps waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Steps never logged: the queue was full, or the database did not take them.
    pub fn dropped(&self) -> u64 {
        self.metrics.steps_dropped.get()
    }
}

async fn write_steps(
    pool: PgPool,
    mut receiver: mpsc::Receiver<NewStep>,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let linger_until = tokio::time::Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let room = MAX_BATCH - batch.len();
            match tokio::time::timeout_at(linger_until, receiver.recv_many(&mut batch, room)).await
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        metrics.step_batch_size.observe(batch.len() as f64);
        let lost = write_isolating(&pool, &batch).await;
        metrics.steps_dropped.inc_by(lost);
        batch.clear();
    }
}

fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(error) if error.code().as_deref() == Some("23503"))
}

/// Writes `batch`; when the database refuses a part for something a row
/// carries, writes its halves separately, down to single rows, so that only
/// the refused rows are lost (k bad rows cost about 2·k·log₂(n) statements).
/// Returns how many steps were not written.
async fn write_isolating(pool: &PgPool, batch: &[NewStep]) -> u64 {
    let mut pending = vec![batch];
    let mut lost = 0;
    while let Some(part) = pending.pop() {
        match insert_steps(pool, part).await {
            Ok(()) => {}
            // A tenant deleted meanwhile: the rest of the part is written.
            Err(error) if is_foreign_key_violation(&error) => {
                if let Err(error) = insert_steps_of_live_tenants(pool, part).await {
                    tracing::error!(%error, size = part.len(), "call steps not logged");
                    lost += part.len() as u64;
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
                lost += part.len() as u64;
            }
        }
    }
    lost
}
