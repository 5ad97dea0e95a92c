//! What the server holds for its whole life: the index, the paper space of the queries,
//! the search embedder, the map, the answers kept for requests asked again.

use super::batch::Batcher;
use super::cache::{Cache, DEFAULT_CACHE_BYTES};
use super::gate::Gate;
use crate::embed::Embedder;
use crate::index::{Index, PaperMeta, StoreError};
use crate::query::{PaperSpace, KEEP_PASSAGES_BYTES};

pub struct State {
    pub index: Index,
    /// What every similarity query needs, prepared once (`query::PaperSpace`).
    pub space: PaperSpace,
    /// `None` when serving without a model: search answers `503`.
    search: Option<Batcher>,
    /// Each paper's map position, in paper order.
    pub map: Vec<[f32; 2]>,
    /// Each paper's short metadata, in paper order: the list, the map and the filters
    /// read it on every request.
    pub papers: Vec<PaperMeta>,
    /// Serialized `similar` and `search` answers by request (`cache`).
    pub answers: Cache,
    /// One answer computed at a time per core (`gate`).
    pub(crate) compute: Gate,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the model makes {model}-d vectors but the index holds {index}-d ones: run `recommend index` with this model")]
    Dimension { model: usize, index: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl State {
    /// Serves `index`, searching with `embedder` (made by `app::query_embedder`), keeping
    /// up to `DEFAULT_CACHE_BYTES` of answers.
    pub fn new(index: Index, embedder: Option<Embedder>) -> Result<Self, StateError> {
        if let Some(e) = &embedder {
            if e.dim() != index.dim() {
                return Err(StateError::Dimension {
                    model: e.dim(),
                    index: index.dim(),
                });
            }
        }
        let map = index.map_layout()?;
        index.prefetch_metadata();
        let papers = (0..index.paper_count())
            .map(|i| index.paper_meta(i))
            .collect::<Result<_, _>>()?;
        let space = PaperSpace::new(&index)?.keep_passages(&index, KEEP_PASSAGES_BYTES);
        Ok(Self {
            index,
            space,
            search: embedder.map(|e| Batcher::new(e, DEFAULT_CACHE_BYTES / 8)),
            map,
            papers,
            answers: Cache::new(DEFAULT_CACHE_BYTES),
            compute: Gate::new(crate::app::num_threads()),
        })
    }

    /// Keeps up to `bytes` of answers (and an eighth of that of query vectors); 0 keeps
    /// none, so that every request is computed (the load bench's uncached runs).
    pub fn with_cache_bytes(mut self, bytes: usize) -> Self {
        self.answers = Cache::new(bytes);
        if let Some(b) = &mut self.search {
            b.set_cache_bytes(bytes / 8);
        }
        self
    }

    pub fn searcher(&self) -> Option<&Batcher> {
        self.search.as_ref()
    }
}
