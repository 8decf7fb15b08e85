//! The call-steps log, written in the background: a step is queued without
//! waiting (the caller's answer never waits for the log) and written in
//! batches. If the database falls behind and the queue fills, steps are
//! dropped and counted rather than slowing calls down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::storage::steps::{NewStep, insert_steps};

const QUEUE: usize = 65_536;
const MAX_BATCH: usize = 2_000;
/// How long a step may wait to share its batch with others.
const LINGER: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct StepLog {
    queue: mpsc::Sender<NewStep>,
    dropped: Arc<AtomicU64>,
}

impl StepLog {
    /// Starts the writer; it ends (after writing what is queued) once every
    /// `StepLog` clone is dropped.
    pub fn spawn(pool: PgPool) -> (StepLog, tokio::task::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_steps(pool, receiver));
        (
            StepLog {
                queue,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            writer,
        )
    }

    pub fn record(&self, step: NewStep) {
        if self.queue.try_send(step).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write_steps(pool: PgPool, mut receiver: mpsc::Receiver<NewStep>) {
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
        if let Err(error) = insert_steps(&pool, &batch).await {
            tracing::error!(%error, size = batch.len(), "call steps not logged");
        }
        batch.clear();
    }
}
