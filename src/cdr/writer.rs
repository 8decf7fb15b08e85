//! Group commit for CDRs: concurrent `HANGUP_CALL`s are queued, written
//! together in one statement and one commit, and each is answered only after
//! that commit — so a burst costs one fsync, not one per call.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::storage::blames_a_row;
use crate::storage::cdrs::{NewCdr, insert_cdrs};

/// The most CDRs written in one statement.
const MAX_BATCH: usize = 512;
/// Parallel writers: while one commits, the next batch is being gathered.
const WRITERS: usize = 4;

/// The writer's answer: committed, or why not (the error is shared by a whole batch).
type Reply = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct CdrWriter {
    queue: mpsc::Sender<(NewCdr, Reply)>,
}

impl CdrWriter {
    pub fn spawn(pool: PgPool, metrics: Arc<crate::metrics::Metrics>) -> CdrWriter {
        let (queue, receiver) = mpsc::channel(MAX_BATCH * WRITERS * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(
                pool.clone(),
                Arc::clone(&receiver),
                Arc::clone(&metrics),
            ));
        }
        CdrWriter { queue }
    }

    /// Resolves once the CDR is committed (or was already stored), or with the
    /// error that prevented it; gives up after `deadline`.
    pub async fn store(&self, cdr: NewCdr, deadline: Duration) -> Result<(), StoreError> {
        let (reply, committed) = oneshot::channel();
        let attempt = async {
            self.queue
                .send((cdr, reply))
                .await
                .map_err(|_| StoreError::ShuttingDown)?;
            committed
                .await
                .map_err(|_| StoreError::ShuttingDown)?
                .map_err(StoreError::Database)
        };
        tokio::time::timeout(deadline, attempt)
            .await
            .map_err(|_| StoreError::Timeout)?
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database did not commit in time")]
    Timeout,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("database error: {0}")]
    Database(String),
}

async fn write_batches(
    pool: PgPool,
    receiver: Arc<Mutex<mpsc::Receiver<(NewCdr, Reply)>>>,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return; // every sender is gone: shutting down
            }
        }
        let (cdrs, replies): (Vec<NewCdr>, Vec<Reply>) = batch.drain(..).unzip();
        metrics.cdr_batch_size.observe(cdrs.len() as f64);
        let started = std::time::Instant::now();
        let inserted = insert_cdrs(&pool, &cdrs).await;
        metrics
            .cdr_commit_seconds
            .observe(started.elapsed().as_secs_f64());
        match inserted {
            Ok(()) => replies
                .into_iter()
                .for_each(|reply| drop(reply.send(Ok(())))),
            // The server refused the statement because of some row in it.
            Err(error) if cdrs.len() > 1 && blames_a_row(&error) => {
                tracing::warn!(%error, size = cdrs.len(), "CDR batch refused; writing one by one");
                write_one_by_one(&pool, cdrs, replies).await;
            }
            // Unreachable database, timeout...: every sender hears it and retries.
            Err(error) => {
                tracing::error!(%error, size = cdrs.len(), "CDR batch not stored");
                let message = error.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

/// A batch failed: isolate the CDR that caused it, so one bad report does
/// not make every report it travelled with fail (and be retried for ever).
async fn write_one_by_one(pool: &PgPool, cdrs: Vec<NewCdr>, replies: Vec<Reply>) {
    for (cdr, reply) in cdrs.into_iter().zip(replies) {
        let result = insert_cdrs(pool, std::slice::from_ref(&cdr)).await;
        if let Err(error) = &result {
            tracing::error!(%error, call_id = %cdr.call_id, "CDR not stored");
        }
        let _ = reply.send(result.map_err(|error| error.to_string()));
    }
}
