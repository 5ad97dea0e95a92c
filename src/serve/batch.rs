//! Search queries from concurrent requests embedded together.
//!
//! Embedding a query is the only costly step of a search (a forward pass of the model; the
//! scan that follows takes well under a millisecond on a small index). One thread owns the
//! embedder; each request queues its text and waits. Whatever is queued when the thread
//! comes round is embedded in one call, so eight concurrent searches cost about one forward
//! pass of eight rows instead of eight passes one after another.

use crate::embed::{Embedder, Role};
use std::sync::mpsc;

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
}

impl Batcher {
    pub fn new(embedder: Embedder) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let dim = embedder.dim();
        std::thread::Builder::new()
            .name("serve-embed".into())
            .spawn(move || run(embedder, queue))
            .expect("spawn the embedding thread");
        Self { jobs, dim }
    }

    /// Vector width of the model.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The query vector of `text`, embedded with whatever else is waiting.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, Failure> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Job {
                text: text.to_string(),
                reply,
            })
            .map_err(|_| Failure::internal("the embedding thread has stopped"))?;
        answer
            .recv()
            .map_err(|_| Failure::internal("the embedding thread has stopped"))?
            .map_err(Failure::internal)
    }
}

fn run(embedder: Embedder, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let texts: Vec<&str> = jobs.iter().map(|j| j.text.as_str()).collect();
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
