//! Search queries from concurrent requests embedded together.
//!
//! Embedding a query is the only costly step of a search (a forward pass of the model; the
//! scan that follows takes well under a millisecond on a small index). One thread owns the
//! embedder; each request queues its text and waits. Whatever is queued when the thread
//! comes round is embedded in one call, so eight concurrent searches cost about one forward
//! pass of eight rows instead of eight passes one after another. A text embedded before is
//! not embedded again: its vector is kept (`cache`), so the same query with another `k` or
//! filter costs no forward pass.

use crate::embed::{Embedder, Role};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

use super::cache::Cache;
use super::Failure;

/// Queries embedded in one call at most.
const MAX_BATCH: usize = 32;

struct Job {
    text: String,
    reply: mpsc::SyncSender<Result<Vec<f32>, String>>,
}

pub struct Batcher {
    jobs: mpsc::Sender<Job>,
    dim: usize,
    vectors: Cache<Arc<[f32]>>,
    stats: Arc<Counters>,
}

/// Forward passes and the queries they embedded, since the start.
#[derive(Default)]
struct Counters {
    batches: AtomicUsize,
    queries: AtomicUsize,
    largest: AtomicUsize,
}

/// How the embedding thread has batched so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchStats {
    /// Forward passes of the model.
    pub batches: usize,
    /// Queries embedded by them.
    pub queries: usize,
    /// The most queries one pass embedded.
    pub largest: usize,
}

impl Batcher {
    /// The embedding thread for `embedder`, keeping up to `cache_bytes` of query vectors.
    pub fn new(embedder: Embedder, cache_bytes: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let dim = embedder.dim();
        let stats = Arc::new(Counters::default());
        let counters = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("serve-embed".into())
            .spawn(move || run(embedder, queue, &counters))
            .expect("spawn the embedding thread");
        Self {
            jobs,
            dim,
            vectors: Cache::new(cache_bytes),
            stats,
        }
    }

    pub fn stats(&self) -> BatchStats {
        BatchStats {
            batches: self.stats.batches.load(Relaxed),
            queries: self.stats.queries.load(Relaxed),
            largest: self.stats.largest.load(Relaxed),
        }
    }

    pub fn set_cache_bytes(&mut self, bytes: usize) {
        self.vectors = Cache::new(bytes);
    }

    /// Vector width of the model.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The query vector of `text`, embedded with whatever else is waiting.
    pub fn embed(&self, text: &str) -> Result<Arc<[f32]>, Failure> {
        if let Some(v) = self.vectors.get(text) {
            return Ok(v);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Job {
                text: text.to_string(),
                reply,
            })
            .map_err(|_| Failure::internal("the embedding thread has stopped"))?;
        let vector: Arc<[f32]> = answer
            .recv()
            .map_err(|_| Failure::internal("the embedding thread has stopped"))?
            .map_err(Failure::internal)?
            .into();
        self.vectors.put(text.to_string(), Arc::clone(&vector));
        Ok(vector)
    }
}

fn run(embedder: Embedder, queue: mpsc::Receiver<Job>, stats: &Counters) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let texts: Vec<&str> = jobs.iter().map(|j| j.text.as_str()).collect();
        stats.batches.fetch_add(1, Relaxed);
        stats.queries.fetch_add(texts.len(), Relaxed);
        stats.largest.fetch_max(texts.len(), Relaxed);
        // A panic in the model must not end the thread: every later search would fail.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            embedder.embed(&texts, Role::Query)
        }));
        match result {
            Ok(Ok(vectors)) => {
                for (job, v) in jobs.into_iter().zip(vectors) {
                    let _ = job.reply.send(Ok(v));
                }
            }
            Ok(Err(e)) => {
                let message = format!("cannot embed the query: {e}");
                for job in jobs {
                    let _ = job.reply.send(Err(message.clone()));
                }
            }
            Err(_) => {
                for job in jobs {
                    let _ = job.reply.send(Err("embedding the query failed".into()));
                }
            }
        }
    }
}
