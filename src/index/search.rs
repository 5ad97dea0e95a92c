//! Nearest papers and passages of an index: the first stage of every query.
//!
//! Below a size a query scans exactly (at that size a scan is as fast as anything, and it
//! is the ground truth); above it, IVF lists over papers or passages (see `ivf`; the
//! paper graph of hnsw_rs in indexes written before the paper lists) propose candidates
//! that are then re-scored exactly on the stored vectors, so the scores and order a caller
//! sees are exact and only recall is approximate (measured in BENCHMARKS.md).

use super::ann::{self, Hit};
use super::ivf;
use super::open::{Index, Lists};
use super::store::StoreError;

/// How to find neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scan {
    /// Exact below `EXACT_BELOW` rows, approximate above.
    #[default]
    Auto,
    Exact,
    Approximate,
}

/// Rows below which `Scan::Auto` scans exactly: the measured crossover where the lists
/// start to beat a scan in process wall time (see BENCHMARKS.md).
pub const EXACT_BELOW: usize = ann::EXACT_BELOW;

impl Scan {
    fn approximate(self, rows: usize) -> bool {
        match self {
            Scan::Auto => rows >= EXACT_BELOW,
            Scan::Exact => false,
            Scan::Approximate => true,
        }
    }
}

fn best_first(hits: &mut Vec<Hit>, n: usize) {
    if hits.len() > n && n > 0 {
        hits.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1));
    }
    hits.truncate(n);
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// Candidates from `lists` that pass `accept`, re-scored by `exact` (given the candidate
/// rows, their exact scores in the same order): probing more lists until `n` pass (or
/// every list has been read).
fn from_lists(
    lists: &ivf::Ivf,
    query: &[f32],
    n: usize,
    accept: &dyn Fn(usize) -> bool,
    exact: &dyn Fn(&[usize]) -> Vec<f32>,
) -> Vec<Hit> {
    let want = n.max(ivf::CANDIDATES);
    let mut probes = lists.default_probes();
    loop {
        let found: Vec<usize> = lists
            .candidates(query, probes, want * 2)
            .into_iter()
            .map(|(row, _)| row)
            .filter(|&row| accept(row))
            .collect();
        let scores = exact(&found);
        let mut hits: Vec<Hit> = found.into_iter().zip(scores).collect();
        if hits.len() >= n || probes >= lists.lists() {
            best_first(&mut hits, n);
            return hits;
        }
        probes *= 4;
    }
}

/// Passages an exact scan scores at a time (`Index::exact_passages`): 25 MB of f32.
const SCAN_BLOCK: usize = 16_384;

impl Index {
    /// The `n` passages most similar to `query`, best first, by a scan of every passage:
    /// a block at a time (widened from half precision where stored so), keeping the best
    /// `n` of each.
    pub fn exact_passages(&self, query: &[f32], n: usize) -> Vec<Hit> {
        self.prefetch_passages(0..self.passage_count());
        let mut best: Vec<Hit> = Vec::new();
        for (first, block) in self.passage_blocks(SCAN_BLOCK) {
            best.extend(
                ann::exact(&block, self.dim(), query, n)
                    .into_iter()
                    .map(|(row, score)| (first + row, score)),
            );
            // Cut back only once twice as many are held: a ranking of every passage
            // (`n` the whole table) is then one sort at the end, not one per block.
            if best.len() > 2 * n.max(1) {
                best_first(&mut best, n);
            }
        }
        best_first(&mut best, n);
        best
    }

    /// The `n` passages most similar to `query` (a unit vector in the model's space), best
    /// first, with exact cosines.
    pub fn nearest_passages(
        &self,
        query: &[f32],
        n: usize,
        scan: Scan,
    ) -> Result<Vec<Hit>, StoreError> {
        if !scan.approximate(self.passage_count()) {
            return Ok(self.exact_passages(query, n));
        }
        let dim = self.dim();
        let lists = self.lists(Lists::Passages)?;
        // The candidates are scattered rows: copied out in one batch, not faulted into
        // the map (`Array::read_ranges`).
        let exact = |rows: &[usize]| -> Vec<f32> {
            let ranges: Vec<_> = rows.iter().map(|&r| r..r + 1).collect();
            match self.read_passage_vectors(&ranges) {
                Some(v) => v.chunks_exact(dim).map(|v| ann::dot(query, v)).collect(),
                None => vec![0.0; rows.len()],
            }
        };
        Ok(from_lists(lists, query, n, &|_| true, &exact))
    }

    /// The `n` papers most similar to `query` in the centered space of the default
    /// scoring (`query` from `center().centered(v)`), among those `accept` lets through,
    /// best first, with exact centered cosines.
    pub fn nearest_papers(
        &self,
        query: &[f32],
        n: usize,
        scan: Scan,
        accept: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<Hit>, StoreError> {
        let center = self.center();
        let q_mean = ann::dot(query, center.mean);
        let vectors = self.paper_vectors();
        let exact = |row: usize| center.cosine(query, q_mean, vectors, row);
        if !scan.approximate(self.paper_count()) {
            self.prefetch_papers(0..self.paper_count());
            let mut hits: Vec<Hit> = (0..self.paper_count())
                .filter(|&row| accept(row))
                .map(|row| (row, exact(row)))
                .collect();
            best_first(&mut hits, n);
            return Ok(hits);
        }
        if let Ok(lists) = self.lists(Lists::Papers) {
            // The candidates are scattered rows: copied out in one batch, not faulted
            // into the map (`Array::read_ranges`).
            let copied = |rows: &[usize]| -> Vec<f32> {
                match self.read_paper_vectors(rows) {
                    Some(v) => rows
                        .iter()
                        .zip(v.chunks_exact(self.dim()))
                        .map(|(&row, v)| center.cosine_of(query, q_mean, v, row))
                        .collect(),
                    None => vec![0.0; rows.len()],
                }
            };
            return Ok(from_lists(lists, query, n, accept, &copied));
        }
        // An index written before the paper lists: its graph. The walk finds candidates;
        // those `accept` refuses are dropped, so ask for more until `n` pass (a narrow
        // filter ends in the exact scan above).
        let graph = self.paper_graph()?;
        let mut want = n.max(ivf::CANDIDATES);
        loop {
            let mut hits: Vec<Hit> = graph
                .search_with(query, want, &exact)
                .into_iter()
                .filter(|h| accept(h.0))
                .collect();
            if hits.len() >= n || want >= self.paper_count() {
                best_first(&mut hits, n);
                return Ok(hits);
            }
            if want * 4 >= self.paper_count() / 4 {
                return self.nearest_papers(query, n, Scan::Exact, accept);
            }
            want *= 4;
        }
    }
}
