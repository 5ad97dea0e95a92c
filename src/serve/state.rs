//! What the server holds for its whole life: the index, the paper space of the queries,
//! the search embedder, the map.

use super::batch::Batcher;
use crate::embed::Embedder;
use crate::index::{Index, PaperMeta, StoreError};
use crate::query::PaperSpace;

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
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the model makes {model}-d vectors but the index holds {index}-d ones: run `recommend index` with this model")]
    Dimension { model: usize, index: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl State {
    /// Serves `index`, searching with `embedder` (made by `app::query_embedder`).
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
        let papers = (0..index.paper_count())
            .map(|i| index.paper_meta(i))
            .collect::<Result<_, _>>()?;
        let space = PaperSpace::new(&index)?;
        Ok(Self {
            index,
            space,
            search: embedder.map(Batcher::new),
            map,
            papers,
        })
    }

    pub fn searcher(&self) -> Option<&Batcher> {
        self.search.as_ref()
    }
}
