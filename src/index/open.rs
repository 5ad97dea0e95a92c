//! A loaded index, read through accessor methods only.
//!
//! Callers (queries, eval, the CLI, the server) never see how papers, passages and vectors
//! are stored: they ask for a count, a paper's metadata, a passage's text, a paper's
//! passage rows, a vector. Passages are stored grouped by paper, so a paper's passages are
//! one contiguous range of rows.
//!
//! Opening a format-3 or -4 index is constant work: it reads the manifest, maps every file, and
//! checks each file's length against the manifest and each binary file's header; nothing
//! is read row by row until a query asks for the row. A format-1 or -2 index (JSON files)
//! is read whole and converted in memory, as before; the next `index` rewrites it in the
//! current format without embedding anything again.

use super::ann;
use super::columns::{Columns, PaperTables};
use super::csls::{self, Center, CenterView};
use super::format::*;
use super::ivf::{self, Ivf};
use super::mapped::{Array, Header, Records};
use super::store::{self, StoreError};
use super::vectors::{f32s, PassageRows};
use crate::chunk::Lang;
use crate::corpus::{ids, Paper};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A loaded index.
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    meta: Records,
    texts: Records,
    passages: Records,
    keys: Array<u8>,
    /// Each passage's language byte (see `write::lang_code`); `None` in an index written
    /// before passages had one.
    langs: Option<Array<u8>>,
    /// `starts[i]..starts[i + 1]` are paper `i`'s passage rows.
    starts: Array<u64>,
    passage_vectors: PassageRows,
    paper_vectors: Array<f32>,
    /// Each paper's CSLS hubness in the centered space (see `csls`).
    hubness: Array<f32>,
    center: Array<f32>,
    center_norms: Array<f32>,
    columns: Columns,
    /// The HNSW graph over centered paper vectors of indexes written before the paper
    /// lists, loaded on first use (see `paper_graph`).
    paper_graph: std::sync::OnceLock<Result<ann::Graph, String>>,
    passage_lists: Option<Ivf>,
    /// The IVF lists over centered paper vectors (indexes of `EXACT_BELOW` papers or more
    /// written since they replaced the graph).
    paper_lists: Option<Ivf>,
}

impl Index {
    /// The generation directory this index was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.manifest.model.dim
    }

    pub fn paper_count(&self) -> usize {
        self.manifest.papers
    }

    pub fn passage_count(&self) -> usize {
        self.manifest.chunks
    }

    fn damaged(&self, what: String) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.parent().unwrap_or(&self.dir).to_path_buf(),
            reason: format!("{what} is damaged (run `recommend verify`)"),
        }
    }

    /// Paper `i`'s short metadata (id, titles, date, sources, link, tags).
    pub fn paper_meta(&self, i: usize) -> Result<PaperMeta, StoreError> {
        self.meta
            .get(i)
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| self.damaged(format!("metadata of paper {i}")))
    }

    /// Paper `i`'s full record, text included (for `show`).
    pub fn paper(&self, i: usize) -> Result<Paper, StoreError> {
        let m = self.paper_meta(i)?;
        let text: PaperText = self
            .texts
            .get(i)
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| self.damaged(format!("text of paper {i}")))?;
        Ok(Paper {
            id: m.id,
            title: m.title,
            title_ko: m.title_ko,
            sources: m.sources,
            urls: text.urls,
            date: m.date,
            venue: m.venue,
            tags: m.tags,
            sections: text.sections,
            title_only: m.title_only,
            feed: m.feed,
            source_kind: m.source_kind,
        })
    }

    /// The text a reader sees for passage `ci` (its title where it has no text).
    pub fn passage_text(&self, ci: usize) -> Result<String, StoreError> {
        self.passages
            .get(ci)
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_string)
            .ok_or_else(|| self.damaged(format!("text of passage {ci}")))
    }

    /// The language of passage `ci` (`None` in indexes written before passages had one).
    pub fn passage_lang(&self, ci: usize) -> Option<Lang> {
        self.langs
            .as_ref()
            .and_then(|l| l.as_slice().get(ci).copied())
            .and_then(super::write::lang_of)
    }

    /// Paper `i`'s passage rows (empty for a row out of range).
    pub fn passages_of(&self, i: usize) -> Range<usize> {
        let s = self.starts.as_slice();
        let n = self.passage_count();
        let start = s.get(i).map_or(n, |&x| (x as usize).min(n));
        let end = s
            .get(i + 1)
            .map_or(start, |&x| (x as usize).clamp(start, n));
        start..end
    }

    /// The paper passage `ci` belongs to.
    pub fn paper_of_passage(&self, ci: usize) -> usize {
        let s = self.starts.as_slice();
        s.partition_point(|&x| x as usize <= ci)
            .saturating_sub(1)
            .min(self.paper_count().saturating_sub(1))
    }

    pub fn paper_vector(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.paper_vectors()[i * d..(i + 1) * d]
    }

    /// The vectors of papers `rows`, one after another (`dim` values each), copied out
    /// in one batch (see `Array::read_ranges`: the rows not in the page cache are read
    /// side by side); `None` where some paper does not exist.
    pub fn read_paper_vectors(&self, rows: &[usize]) -> Option<Vec<f32>> {
        let d = self.dim();
        let ranges: Vec<Range<usize>> = rows.iter().map(|&i| i * d..(i + 1) * d).collect();
        let mut out = vec![0f32; rows.len() * d];
        self.paper_vectors
            .read_ranges(&ranges, &mut out)
            .then_some(out)
    }

    /// The vectors of each of the passage ranges `rows` (one paper's passages, or single
    /// passages), one after another, copied out in one batch like `read_paper_vectors`.
    pub fn read_passage_vectors(&self, rows: &[Range<usize>]) -> Option<Vec<f32>> {
        let d = self.dim();
        let ranges: Vec<Range<usize>> = rows.iter().map(|r| r.start * d..r.end * d).collect();
        let mut out = vec![0f32; ranges.iter().map(|r| r.len()).sum()];
        self.passage_vectors
            .read_ranges(&ranges, &mut out)
            .then_some(out)
    }

    /// [`Self::read_passage_vectors`] and each of those passages' language.
    pub fn read_passages(&self, rows: &[Range<usize>]) -> Option<(Vec<f32>, Vec<Option<Lang>>)> {
        let vectors = self.read_passage_vectors(rows)?;
        let n: usize = rows.iter().map(|r| r.len()).sum();
        let langs = match &self.langs {
            Some(l) => {
                let mut codes = vec![0u8; n];
                match l.read_ranges(rows, &mut codes) {
                    true => codes.into_iter().map(super::write::lang_of).collect(),
                    false => rows
                        .iter()
                        .flat_map(|r| r.clone())
                        .map(|ci| self.passage_lang(ci))
                        .collect(),
                }
            }
            None => vec![None; n],
        };
        Some((vectors, langs))
    }

    /// Passage `ci`'s vector (widened from half precision where stored so, see
    /// `vectors::PassageRows`).
    pub fn passage_vector(&self, ci: usize) -> Cow<'_, [f32]> {
        let d = self.dim();
        self.passage_vectors.get(ci * d..(ci + 1) * d)
    }

    /// Starts reading the vectors of passages `rows` (a range a reader is about to scan,
    /// or one paper's passages): the vector tables are mapped for random reads, see
    /// `mapped::Advice`.
    pub fn prefetch_passages(&self, rows: Range<usize>) {
        let d = self.dim();
        self.passage_vectors.will_need(rows.start * d..rows.end * d);
        if let Some(langs) = &self.langs {
            langs.will_need(rows);
        }
    }

    /// Starts reading every table that queries read a row at a time, for a reader that
    /// goes through every paper and passage (`export`, `verify`).
    pub fn prefetch_all(&self) {
        self.prefetch_metadata();
        self.texts.will_need_all();
        self.passages.will_need_all();
        self.prefetch_passages(0..self.passage_count());
        self.prefetch_papers(0..self.paper_count());
    }

    /// Starts reading every paper's metadata, IDs, sources and tags, for a reader that
    /// goes through them all (a filter, a "did you mean").
    pub fn prefetch_metadata(&self) {
        self.meta.will_need_all();
        self.columns.prefetch_all();
    }

    /// Starts reading the vectors of papers `rows`.
    pub fn prefetch_papers(&self, rows: Range<usize>) {
        let d = self.dim();
        self.paper_vectors.will_need(rows.start * d..rows.end * d);
    }

    /// Every paper vector, row-major, in paper order.
    pub fn paper_vectors(&self) -> &[f32] {
        self.paper_vectors.as_slice()
    }

    /// Every passage vector, row-major, in passage order (widened into memory where
    /// stored in half precision: for small indexes and whole-table readers; a scan of a
    /// large one goes a block at a time, `passage_blocks`).
    pub fn passage_vectors(&self) -> Cow<'_, [f32]> {
        self.passage_vectors.get(0..self.passage_vectors.len())
    }

    /// Every passage vector, `rows` passages at a time: the first row of each block and
    /// its vectors. An exact scan of ten million passages so holds one block in memory.
    pub fn passage_blocks(&self, rows: usize) -> impl Iterator<Item = (usize, Cow<'_, [f32]>)> {
        let (n, d, rows) = (self.passage_count(), self.dim(), rows.max(1));
        (0..n.div_ceil(rows)).map(move |b| {
            let first = b * rows;
            let last = (first + rows).min(n);
            (first, self.passage_vectors.get(first * d..last * d))
        })
    }

    /// Each paper's CSLS hubness (see `csls`), in paper order.
    pub fn hubness(&self) -> &[f32] {
        self.hubness.as_slice()
    }

    /// The mean paper vector and each paper's distance from it: the centered space of the
    /// default scoring, computed on demand (see `csls::CenterView`).
    pub fn center(&self) -> CenterView<'_> {
        CenterView {
            mean: self.center.as_slice(),
            norms: self.center_norms.as_slice(),
        }
    }

    /// Paper `i`'s date as `YYYYMMDD` (a month-only date has day 00), `None` when unknown.
    pub fn paper_date(&self, i: usize) -> Option<u32> {
        self.columns.date(i)
    }

    /// Numbers of paper `i`'s sources (see `source_names`).
    pub fn paper_source_ids(&self, i: usize) -> Vec<u32> {
        self.columns.paper_sources(i)
    }

    /// Numbers of paper `i`'s tags (see `tag_names`).
    pub fn paper_tag_ids(&self, i: usize) -> Vec<u32> {
        self.columns.paper_tags(i)
    }

    /// Every source (input file as given to `index`) with its number.
    pub fn source_names(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        self.columns.source_names()
    }

    /// Every tag with its number.
    pub fn tag_names(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        self.columns.tag_names()
    }

    /// Each paper's 2-D map position in `[0, 1]`, in paper order: read from the index, or
    /// computed here (once per call) for an index written before the map was stored.
    pub fn map_layout(&self) -> Result<Vec<[f32; 2]>, StoreError> {
        if !self.manifest.files.contains_key(MAP) {
            let dim = self.dim();
            self.prefetch_papers(0..self.paper_count());
            return Ok(crate::layout::layout(
                &csls::centered(self.paper_vectors(), dim),
                dim,
            ));
        }
        let corrupt = |reason: String| self.corrupt(reason);
        let xy = f32s(&read_verified(&self.dir, &self.manifest, MAP, &corrupt)?);
        if xy.len() != 2 * self.paper_count() {
            return Err(corrupt(format!(
                "{MAP} holds {} values for {} papers",
                xy.len(),
                self.paper_count()
            )));
        }
        Ok(xy.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
    }

    /// The row of the paper with this ID (case-insensitive), or the closest ID as a
    /// suggestion.
    pub fn find(&self, id: &str) -> Result<usize, ids::UnknownId> {
        let wanted = id.trim().to_lowercase();
        if let Some(row) = self.columns.find_exact(&wanted) {
            return Ok(row);
        }
        self.columns.prefetch_all();
        let all = self.columns.ids().map(|(name, _)| name);
        let mut err = match ids::find_position(all, id) {
            // Only a damaged table gets here (the binary search missed what a scan found).
            Ok(_) => ids::UnknownId {
                id: id.to_string(),
                suggestion: None,
            },
            Err(e) => e,
        };
        // The table holds IDs lowercased; the suggestion is the paper's own spelling.
        err.suggestion = err
            .suggestion
            .and_then(|s| self.columns.find_exact(&s))
            .and_then(|row| self.paper_meta(row).ok())
            .map(|m| m.id);
        Err(err)
    }

    /// A further file of the generation (one a feature added with `GenerationWriter::put`),
    /// checked against the manifest; `None` when this generation has no such file.
    pub fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_listed(name, read_verified)
    }

    /// `read_file` for a file every query reads, checked against the length the manifest
    /// gives (as every table is at open) but not hashed: at 100,000 papers the sha256 of
    /// `lexical.bin` (37 MB, the one-file lexical statistics of earlier indexes) was a
    /// sixth of a `similar` process. Its full checksum is still checked by `recommend
    /// index` and `recommend verify`, and its reader checks its own header and consistency.
    pub fn read_file_unhashed(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_listed(name, read_sized)
    }

    /// A table a feature added to the generation (`GenerationWriter::put_array`), mapped
    /// and checked (header, kind, row width, length) like the index's own; `None` when the
    /// manifest lists no such file.
    pub fn feature_array<T: bytemuck::Pod>(
        &self,
        name: &str,
        kind: &[u8; 8],
        cols: usize,
    ) -> Result<Option<(Header, Array<T>)>, StoreError> {
        let Some(info) = self.manifest.files.get(name) else {
            return Ok(None);
        };
        let corrupt = |reason| self.corrupt(reason);
        Array::open(&self.dir, name, info.bytes, kind, Some(cols), &corrupt).map(Some)
    }

    /// Records a feature added to the generation (`GenerationWriter::put_records`), mapped
    /// and checked; `None` when the manifest lists no such file.
    pub fn feature_records(&self, name: &str) -> Result<Option<Records>, StoreError> {
        let idx = format!("{name}.idx");
        let (Some(data), Some(offsets)) =
            (self.manifest.files.get(name), self.manifest.files.get(&idx))
        else {
            return Ok(None);
        };
        let corrupt = |reason| self.corrupt(reason);
        Records::open(&self.dir, name, (data.bytes, offsets.bytes), None, &corrupt).map(Some)
    }

    /// `name` read by `read` (with its checks), or `None` when the manifest lists no such
    /// file.
    fn read_listed(&self, name: &str, read: ReadChecked) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.manifest.files.contains_key(name) {
            return Ok(None);
        }
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: self.dir.clone(),
            reason,
        };
        read(&self.dir, &self.manifest, name, &corrupt).map(Some)
    }

    /// The cache key of passage `ci`'s vector (see `build`).
    pub(super) fn passage_key(&self, ci: usize) -> Option<[u8; 32]> {
        self.keys
            .as_slice()
            .get(ci * 32..(ci + 1) * 32)
            .map(|k| k.try_into().expect("32 bytes"))
    }

    /// Input file → sha256, as of this index (see `build`).
    pub(super) fn input_hashes(&self) -> Result<BTreeMap<String, String>, StoreError> {
        if !self.manifest.files.contains_key(SOURCES) {
            return Ok(self.manifest.sources.clone());
        }
        let corrupt = |reason| self.corrupt(reason);
        let bytes = read_verified(&self.dir, &self.manifest, SOURCES, &corrupt)?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("{SOURCES}: {e}")))
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.parent().unwrap_or(&self.dir).to_path_buf(),
            reason,
        }
    }

    /// The HNSW graph over centered paper vectors: loaded (after checking its files'
    /// checksums: hnsw_rs may end the process on a malformed file) the first time a query
    /// asks for it, so that an exact query or a small index never pays for it.
    pub fn paper_graph(&self) -> Result<&ann::Graph, StoreError> {
        let loaded = self.paper_graph.get_or_init(|| {
            let corrupt = |reason: String| self.corrupt(reason);
            for ext in GRAPH_PARTS {
                let name = format!("{PAPER_GRAPH}.{ext}");
                if !self.manifest.files.contains_key(&name) {
                    return Err(format!(
                        "it has no paper graph ({} papers; indexes of {} papers or more \
                         written before the paper lists have one)",
                        self.paper_count(),
                        ann::EXACT_BELOW
                    ));
                }
                verify_file(&self.dir, &self.manifest, &name, &corrupt)
                    .map_err(|e| e.to_string())?;
            }
            ann::Graph::load(&self.dir, PAPER_GRAPH)
                .map_err(|e| format!("{PAPER_GRAPH} graph: {e} (run `recommend verify`)"))
        });
        loaded.as_ref().map_err(|e| self.corrupt(e.clone()))
    }

    /// The approximate-search lists over passage vectors, or over centered paper vectors;
    /// an index of an older format (or, for papers, a small one) has none.
    pub fn lists(&self, which: Lists) -> Result<&Ivf, StoreError> {
        let lists = match which {
            Lists::Passages => &self.passage_lists,
            Lists::Papers => &self.paper_lists,
        };
        lists.as_ref().ok_or_else(|| {
            self.corrupt(format!(
                "it is format version {} and has no approximate-search lists (this build \
                 writes {FORMAT_VERSION})",
                self.manifest.format
            ))
        })
    }

    /// The same index with other passage vectors (paper vectors made by `mode`, statistics
    /// recomputed): the in-memory variants `eval` compares. It has no approximate-search
    /// lists: queries on it scan.
    pub fn with_passage_vectors(&self, passage_vectors: Vec<f32>, mode: PaperVector) -> Index {
        let dim = self.dim();
        let paper_vectors: Vec<f32> = (0..self.paper_count())
            .flat_map(|i| {
                let r = self.passages_of(i);
                let langs: Vec<Option<Lang>> = r.clone().map(|ci| self.passage_lang(ci)).collect();
                super::build::paper_vector(
                    &passage_vectors[r.start * dim..r.end * dim],
                    &langs,
                    dim,
                    mode,
                )
            })
            .collect();
        let center = Center::of(&paper_vectors, dim);
        let hubness = csls::hubness_exact(&csls::CenteredRows {
            vectors: &paper_vectors,
            center: center.view(),
        });
        let mut manifest = self.manifest.clone();
        manifest.settings.paper_vector = mode;
        Index {
            dir: self.dir.clone(),
            manifest,
            meta: self.meta.clone(),
            texts: self.texts.clone(),
            passages: self.passages.clone(),
            keys: self.keys.clone(),
            langs: self.langs.clone(),
            starts: self.starts.clone(),
            passage_vectors: PassageRows::F32(Array::owned(passage_vectors)),
            paper_vectors: Array::owned(paper_vectors),
            hubness: Array::owned(hubness),
            center: Array::owned(center.mean),
            center_norms: Array::owned(center.norms),
            columns: self.columns.clone(),
            paper_graph: Default::default(),
            passage_lists: None,
            paper_lists: None,
        }
    }

    /// Opens the live generation of `root`: maps its files and checks their lengths and
    /// headers (full checksums are `verify`'s).
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let dir = store::current(root)?;
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: root.to_path_buf(),
            reason,
        };
        let text =
            std::fs::read(dir.join(MANIFEST)).map_err(|e| corrupt(format!("{MANIFEST}: {e}")))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| corrupt(format!("{MANIFEST} is not a recommend manifest: {e}")))?;
        match manifest.format {
            1 | 2 => open_json(dir, manifest, &corrupt),
            3 | FORMAT_VERSION => open_mapped(dir, manifest, &corrupt),
            v => Err(corrupt(format!(
                "format version {v} (this build reads 1 to {FORMAT_VERSION})"
            ))),
        }
    }
}

/// Which approximate-search lists (see `Index::lists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lists {
    Passages,
    Papers,
}

fn open_mapped(
    dir: PathBuf,
    manifest: Manifest,
    corrupt: &dyn Fn(String) -> StoreError,
) -> Result<Index, StoreError> {
    let size = |name: &str| {
        manifest
            .files
            .get(name)
            .map(|f| f.bytes)
            .ok_or_else(|| corrupt(format!("manifest lists no {name}")))
    };
    let (papers, passages, dim) = (manifest.papers, manifest.chunks, manifest.model.dim);
    let records = |name: &str, rows: usize| {
        Records::open(
            &dir,
            name,
            (size(name)?, size(&format!("{name}.idx"))?),
            Some(rows),
            corrupt,
        )
    };
    fn table<T: bytemuck::Pod>(
        dir: &Path,
        size: u64,
        name: &str,
        kind: &[u8; 8],
        (rows, cols): (usize, usize),
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<Array<T>, StoreError> {
        let (h, a) = Array::open(dir, name, size, kind, Some(cols), corrupt)?;
        if h.rows != rows as u64 {
            return Err(corrupt(format!(
                "{name} holds {} rows, expected {rows}",
                h.rows
            )));
        }
        Ok(a)
    }
    // The graph is read only when a query walks it, but a truncated one is refused now.
    for ext in GRAPH_PARTS {
        let name = format!("{PAPER_GRAPH}.{ext}");
        if let Some(info) = manifest.files.get(&name) {
            let len = std::fs::metadata(dir.join(&name))
                .map_err(|e| corrupt(format!("{name}: {e}")))?
                .len();
            if len != info.bytes {
                return Err(corrupt(format!(
                    "{name} holds {len} bytes, the manifest says {} (truncated or changed)",
                    info.bytes
                )));
            }
        }
    }
    let index = Index {
        meta: records(PAPER_META, papers)?,
        texts: records(PAPER_TEXT, papers)?,
        passages: records(PASSAGE_TEXT, passages)?,
        keys: table(
            &dir,
            size(PASSAGE_KEYS)?,
            PASSAGE_KEYS,
            KEYS_KIND,
            (passages, 32),
            corrupt,
        )?,
        langs: match manifest.files.get(PASSAGE_LANGS) {
            Some(info) => Some(table(
                &dir,
                info.bytes,
                PASSAGE_LANGS,
                LANGS_KIND,
                (passages, 1),
                corrupt,
            )?),
            None => None,
        },
        starts: table(
            &dir,
            size(PAPER_STARTS)?,
            PAPER_STARTS,
            STARTS_KIND,
            (papers + 1, 1),
            corrupt,
        )?,
        // Format 4 stores them in half precision, format 3 in single.
        passage_vectors: match manifest.files.contains_key(PASSAGE_VECTORS_F16) {
            true => PassageRows::F16(table(
                &dir,
                size(PASSAGE_VECTORS_F16)?,
                PASSAGE_VECTORS_F16,
                F16_ROWS,
                (passages, dim),
                corrupt,
            )?),
            false => PassageRows::F32(table(
                &dir,
                size(PASSAGE_VECTORS)?,
                PASSAGE_VECTORS,
                F32_ROWS,
                (passages, dim),
                corrupt,
            )?),
        },
        paper_vectors: table(
            &dir,
            size(PAPER_VECTORS)?,
            PAPER_VECTORS,
            F32_ROWS,
            (papers, dim),
            corrupt,
        )?,
        hubness: table(
            &dir,
            size(PAPER_HUBNESS)?,
            PAPER_HUBNESS,
            F32_ROWS,
            (papers, 1),
            corrupt,
        )?,
        center: table(
            &dir,
            size(PAPER_CENTER)?,
            PAPER_CENTER,
            F32_ROWS,
            (1, dim),
            corrupt,
        )?,
        center_norms: table(
            &dir,
            size(PAPER_CNORMS)?,
            PAPER_CNORMS,
            F32_ROWS,
            (papers, 1),
            corrupt,
        )?,
        columns: Columns::open(&dir, &size, papers, corrupt)?,
        paper_graph: Default::default(),
        passage_lists: Some(Ivf::open(
            &dir,
            &manifest.files,
            PASSAGE_IVF,
            passages,
            dim,
            None,
            corrupt,
        )?),
        paper_lists: manifest
            .files
            .contains_key(&ivf::file_names(PAPER_IVF)[0])
            .then(|| Ivf::open(&dir, &manifest.files, PAPER_IVF, papers, dim, None, corrupt))
            .transpose()?,
        dir,
        manifest,
    };
    // Every file is mapped for reads a page at a time (see `mapped::Advice`). These
    // small per-paper tables are read for every candidate of a query (a thousand, here
    // and there), so they are asked for whole, which costs no wait.
    index.hubness.will_need(0..index.hubness.len());
    index.center_norms.will_need(0..index.center_norms.len());
    index.starts.will_need(0..index.starts.len());
    Ok(index)
}

/// Formats 1 and 2: JSON papers and passages, one vector file; read whole and verified,
/// then held in memory in the shape of the current format.
fn open_json(
    dir: PathBuf,
    manifest: Manifest,
    corrupt: &dyn Fn(String) -> StoreError,
) -> Result<Index, StoreError> {
    let read = |name: &str| read_verified(&dir, &manifest, name, corrupt);
    let papers: Vec<Paper> = serde_json::from_slice(&read(LEGACY_PAPERS)?)
        .map_err(|e| corrupt(format!("{LEGACY_PAPERS}: {e}")))?;
    let chunks: Vec<StoredChunk> = serde_json::from_slice(&read(LEGACY_CHUNKS)?)
        .map_err(|e| corrupt(format!("{LEGACY_CHUNKS}: {e}")))?;
    let raw = read(LEGACY_VECTORS)?;
    let dim = manifest.model.dim;
    let expected = (chunks.len() + papers.len()) * dim * 4;
    if raw.len() != expected || papers.len() != manifest.papers || chunks.len() != manifest.chunks {
        return Err(corrupt(format!(
            "{LEGACY_VECTORS} holds {} bytes, expected {expected}",
            raw.len()
        )));
    }
    let floats = f32s(&raw);
    let (chunk_vectors, paper_vectors) = floats.split_at(chunks.len() * dim);
    let center = Center::of(paper_vectors, dim);
    // Indexes written before hubness was stored get it computed here, once per process.
    let hubness = if manifest.files.contains_key(LEGACY_HUBNESS) {
        let h = f32s(&read(LEGACY_HUBNESS)?);
        if h.len() != papers.len() {
            return Err(corrupt(format!(
                "{LEGACY_HUBNESS} holds {} values for {} papers",
                h.len(),
                papers.len()
            )));
        }
        h
    } else {
        csls::hubness_exact(&csls::CenteredRows {
            vectors: paper_vectors,
            center: center.view(),
        })
    };
    // Passages grouped by paper, in paper order (formats 1 and 2 wrote them so; this keeps
    // the promise for any that did not).
    let row_of: std::collections::HashMap<&str, usize> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let owner: Vec<usize> = chunks
        .iter()
        .map(|c| row_of.get(c.chunk.paper.as_str()).copied())
        .collect::<Option<_>>()
        .ok_or_else(|| {
            corrupt(format!(
                "{LEGACY_CHUNKS} names papers the index does not hold"
            ))
        })?;
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&ci| owner[ci]);
    let mut starts = vec![0u64; papers.len() + 1];
    for &o in &owner {
        starts[o + 1] += 1;
    }
    for i in 0..papers.len() {
        starts[i + 1] += starts[i];
    }
    let mut vectors = Vec::with_capacity(chunk_vectors.len());
    let mut keys = Vec::with_capacity(chunks.len() * 32);
    let mut langs = Vec::with_capacity(chunks.len());
    for &ci in &order {
        langs.push(super::write::lang_code(chunks[ci].chunk.lang));
        vectors.extend_from_slice(&chunk_vectors[ci * dim..(ci + 1) * dim]);
        // An unreadable key only means that passage is embedded again.
        keys.extend(super::build::key_from_hex(&chunks[ci].key).unwrap_or([0; 32]));
    }
    let passages = Records::owned(order.iter().map(|&ci| {
        let c = &chunks[ci].chunk;
        if c.text.is_empty() {
            c.title.clone()
        } else {
            c.text.clone()
        }
    }));
    let mut tables = PaperTables::default();
    for (i, p) in papers.iter().enumerate() {
        tables.add(p, i);
    }
    let meta = Records::owned(
        papers
            .iter()
            .map(|p| serde_json::to_vec(&PaperMeta::from(p)).expect("metadata serializes")),
    );
    let texts = Records::owned(papers.iter().map(|p| {
        let text = PaperText {
            urls: p.urls.clone(),
            sections: p.sections.clone(),
        };
        serde_json::to_vec(&text).expect("texts serialize")
    }));
    Ok(Index {
        dir,
        manifest,
        meta,
        texts,
        passages,
        keys: Array::owned(keys),
        langs: Some(Array::owned(langs)),
        starts: Array::owned(starts),
        passage_vectors: PassageRows::F32(Array::owned(vectors)),
        paper_vectors: Array::owned(paper_vectors.to_vec()),
        hubness: Array::owned(hubness),
        center: Array::owned(center.mean),
        center_norms: Array::owned(center.norms),
        columns: tables.into_columns(),
        paper_graph: Default::default(),
        passage_lists: None,
        paper_lists: None,
    })
}

/// A file of a generation, after checking its length and sha256 against the manifest.
pub(super) fn read_verified(
    dir: &Path,
    manifest: &Manifest,
    name: &str,
    corrupt: &dyn Fn(String) -> StoreError,
) -> Result<Vec<u8>, StoreError> {
    let bytes = read_sized(dir, manifest, name, corrupt)?;
    if store::sha256_hex(&bytes) != manifest.files[name].sha256 {
        return Err(corrupt(format!(
            "{name} does not match its checksum (truncated or changed)"
        )));
    }
    Ok(bytes)
}

/// A reader of a generation's file with its checks (`read_verified`, `read_sized`).
type ReadChecked =
    fn(&Path, &Manifest, &str, &dyn Fn(String) -> StoreError) -> Result<Vec<u8>, StoreError>;

/// Reads a file of a generation, checked against the length the manifest gives.
fn read_sized(
    dir: &Path,
    manifest: &Manifest,
    name: &str,
    corrupt: &dyn Fn(String) -> StoreError,
) -> Result<Vec<u8>, StoreError> {
    let info = manifest
        .files
        .get(name)
        .ok_or_else(|| corrupt(format!("manifest lists no {name}")))?;
    let bytes = std::fs::read(dir.join(name)).map_err(|e| corrupt(format!("{name}: {e}")))?;
    if bytes.len() as u64 != info.bytes {
        return Err(corrupt(format!(
            "{name} is {} bytes, not the {} of the manifest (truncated or changed)",
            bytes.len(),
            info.bytes
        )));
    }
    Ok(bytes)
}

/// Checks a file of a generation against its length and sha256 in the manifest, reading it
/// in pieces (graphs and vector tables can be larger than memory should hold at once).
pub(super) fn verify_file(
    dir: &Path,
    manifest: &Manifest,
    name: &str,
    corrupt: &dyn Fn(String) -> StoreError,
) -> Result<(), StoreError> {
    let info = manifest
        .files
        .get(name)
        .ok_or_else(|| corrupt(format!("manifest lists no {name}")))?;
    let (bytes, sha256) =
        super::write::hash_file(&dir.join(name)).map_err(|e| corrupt(format!("{name}: {e}")))?;
    if bytes != info.bytes || sha256 != info.sha256 {
        return Err(corrupt(format!(
            "{name} does not match its checksum (truncated or changed)"
        )));
    }
    Ok(())
}
