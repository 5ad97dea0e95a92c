//! Nearest papers and passages of an index: the first stage of every query.
//!
//! Below a size a query scans exactly (at that size a scan is as fast as anything, and it
//! is the ground truth); above it, IVF lists over papers or passages (see `ivf`; the
//! paper graph of hnsw_rs in indexes written before the paper lists) propose candidates
//! that are then re-scored exactly on the f32 vectors, so the scores and order a caller
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

/// Candidates from `lists` that pass `accept`, re-scored by `exact`: probing more lists
/// until `n` pass (or every list has been read).
fn from_lists(
    lists: &ivf::Ivf,
    query: &[f32],
    n: usize,
    accept: &dyn Fn(usize) -> bool,
    (prefetch, exact): (&dyn Fn(usize), &dyn Fn(usize) -> f32),
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
        // The candidates' f32 rows, scattered over the table, asked for before the
        // first is re-scored (see `mapped::Advice`).
        found.iter().for_each(|&row| prefetch(row));
        let mut hits: Vec<Hit> = found.into_iter().map(|row| (row, exact(row))).collect();
        if hits.len() >= n || probes >= lists.lists() {
            best_first(&mut hits, n);
            return hits;
        }
        probes *= 4;
    }
}

impl Index {
    /// The `n` passages most similar to `query` (a unit vector in the model's space), best
    /// first, with exact cosines.
    pub fn nearest_passages(
        &self,
        query: &[f32],
        n: usize,
        scan: Scan,
    ) -> Result<Vec<Hit>, StoreError> {
        let vectors = self.passage_vectors();
        if !scan.approximate(self.passage_count()) {
            self.prefetch_passages(0..self.passage_count());
            return Ok(ann::exact(vectors, self.dim(), query, n));
        }
        let dim = self.dim();
        let lists = self.lists(Lists::Passages)?;
        let exact = |row: usize| ann::dot(query, &vectors[row * dim..(row + 1) * dim]);
        let prefetch = |row: usize| self.prefetch_passages(row..row + 1);
        Ok(from_lists(lists, query, n, &|_| true, (&prefetch, &exact)))
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
            let prefetch = |row: usize| self.prefetch_papers(row..row + 1);
            // The candidates are scattered rows: copied out, not faulted into the map
            // (`Array::read_into`).
            let row_values = std::cell::RefCell::new(vec![0f32; self.dim()]);
            let copied = |row: usize| {
                let mut v = row_values.borrow_mut();
                match self.read_paper_vector(row, &mut v) {
                    true => center.cosine_of(query, q_mean, &v, row),
                    false => 0.0,
                }
            };
            return Ok(from_lists(lists, query, n, accept, (&prefetch, &copied)));
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
