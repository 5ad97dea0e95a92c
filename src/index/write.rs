//! Writing one generation.
//!
//! `GenerationWriter` is the file level: every file goes through `put` (small files),
//! `create`/`close` (streamed, hashed as written) or `put_array`/`put_array_with`
//! (header + a table of plain values), and each is recorded with its length and sha256 for
//! the manifest. Features that store something at index time add their own named file
//! with one of these calls.
//!
//! `IndexWriter` is the index level: papers arrive one at a time with their passages and
//! passage vectors and are streamed to disk, so that neither `index` nor the scale
//! benchmark holds every vector and text at once; `finish` derives the rest (paper
//! statistics, the approximate-search lists, the id table, filter columns) from the mapped
//! files and publishes the generation.

use super::columns::PaperTables;
use super::csls;
use super::format::*;
use super::ivf;
use super::mapped::{self, Header, MappedFile, Records, HEADER};
use super::store::{self, StoreError};
use crate::corpus::Paper;
use bytemuck::Pod;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// A file being streamed into a generation; its length and sha256 are computed as it is
/// written.
pub struct FileSink {
    name: String,
    path: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl FileSink {
    /// Writes all of `bytes`, as `Write::write_all` but with the index's error.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.write_all(bytes).map_err(|e| StoreError::Io {
            path: self.path.clone(),
            source: e,
        })
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A generation being written. Nothing in it is visible to readers until `finish`.
pub struct GenerationWriter {
    dir: PathBuf,
    files: BTreeMap<String, FileInfo>,
}

impl GenerationWriter {
    /// A new, empty generation of the index in `root`.
    pub fn new(root: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            dir: store::new_generation(root)?,
            files: BTreeMap::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes file `name` of the generation and records its length and sha256.
    pub fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        store::write_atomic(&self.dir.join(name), bytes)?;
        self.files.insert(
            name.to_string(),
            FileInfo {
                bytes: bytes.len() as u64,
                sha256: store::sha256_hex(bytes),
            },
        );
        Ok(())
    }

    /// Starts streaming file `name`; `close` records it.
    pub fn create(&self, name: &str) -> Result<FileSink, StoreError> {
        let path = self.dir.join(name);
        let file = File::create(&path).map_err(store::io_err(&path))?;
        Ok(FileSink {
            name: name.to_string(),
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Flushes and syncs a streamed file and records its length and sha256.
    pub fn close(&mut self, sink: FileSink) -> Result<(), StoreError> {
        let FileSink {
            name,
            path,
            out,
            hasher,
            bytes,
        } = sink;
        let file = out
            .into_inner()
            .map_err(|e| store::io_err(&path)(e.into_error()))?;
        file.sync_all().map_err(store::io_err(&path))?;
        self.files.insert(
            name,
            FileInfo {
                bytes,
                sha256: format!("{:x}", hasher.finalize()),
            },
        );
        Ok(())
    }

    /// Writes a table of `values` (rows of `cols`) with its header.
    pub fn put_array<T: Pod>(
        &mut self,
        name: &str,
        kind: &[u8; 8],
        cols: usize,
        values: &[T],
    ) -> Result<(), StoreError> {
        let mut sink = self.create(name)?;
        let rows = values.len() / cols.max(1);
        sink.put(&Header::new(kind, rows, cols).encode())?;
        put_values(&mut sink, values)?;
        self.close(sink)
    }

    /// Writes a table of `rows × cols` values of `T` that `fill` computes in place (in a
    /// writable map of the file, so a table larger than memory can be filled out of order),
    /// then records it, reading it back once for the checksum.
    pub fn put_array_with<T: Pod>(
        &mut self,
        name: &str,
        kind: &[u8; 8],
        rows: usize,
        cols: usize,
        fill: impl FnOnce(&mut [T]),
    ) -> Result<(), StoreError> {
        let path = self.dir.join(name);
        let io = store::io_err(&path);
        let body = rows * cols * size_of::<T>();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(store::io_err(&path))?;
        file.set_len((HEADER + body) as u64)
            .map_err(store::io_err(&path))?;
        {
            // SAFETY: the file was just created by this process in an unpublished
            // generation; nothing else maps or writes it.
            let mut map =
                unsafe { memmap2::MmapMut::map_mut(&file) }.map_err(store::io_err(&path))?;
            map[..HEADER].copy_from_slice(&Header::new(kind, rows, cols).encode());
            fill(bytemuck::cast_slice_mut(&mut map[HEADER..]));
            map.flush().map_err(store::io_err(&path))?;
        }
        file.sync_all().map_err(store::io_err(&path))?;
        drop(file);
        let (bytes, sha256) = hash_file(&path).map_err(io)?;
        self.files
            .insert(name.to_string(), FileInfo { bytes, sha256 });
        Ok(())
    }

    /// Maps a file this generation already holds, for deriving other files from it.
    pub fn map(&self, name: &str) -> Result<MappedFile, StoreError> {
        let info = self.files.get(name).ok_or_else(|| StoreError::Io {
            path: self.dir.join(name),
            source: std::io::Error::other("not written yet"),
        })?;
        let dir = self.dir.clone();
        let file = MappedFile::open(&self.dir, name, info.bytes, &|reason| StoreError::Corrupt {
            dir: dir.clone(),
            reason,
        })?;
        // Derived files are computed from all of it.
        file.will_need_all();
        Ok(file)
    }

    /// Every file written so far, with its length and sha256.
    pub fn file_infos(&self) -> &BTreeMap<String, FileInfo> {
        &self.files
    }

    /// Writes variable-length rows as a data file `name` and its offsets file `name.idx`.
    pub fn put_records<R: AsRef<[u8]>>(
        &mut self,
        name: &str,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<(), StoreError> {
        let mut sink = RecordsSink::new(self, name)?;
        for r in rows {
            sink.push(r.as_ref())?;
        }
        sink.close(self)
    }

    /// Writes the manifest (listing every file written) and makes the generation live.
    pub fn finish(
        self,
        root: &Path,
        head: ManifestHead,
        papers: usize,
        passages: usize,
    ) -> Result<(), StoreError> {
        let manifest = Manifest {
            format: FORMAT_VERSION,
            model: head.model,
            settings: head.settings,
            sources: BTreeMap::new(),
            papers,
            chunks: passages,
            files: self.files,
        };
        store::write_atomic(
            &self.dir.join(MANIFEST),
            &serde_json::to_vec_pretty(&manifest).expect("manifest serializes"),
        )?;
        store::publish(root, &self.dir)
    }
}

/// Writes values as little-endian bytes.
fn put_values<T: Pod>(sink: &mut FileSink, values: &[T]) -> Result<(), StoreError> {
    if cfg!(target_endian = "little") {
        sink.put(bytemuck::cast_slice(values))
    } else {
        for v in values {
            let mut b = bytemuck::bytes_of(v).to_vec();
            b.reverse();
            sink.put(&b)?;
        }
        Ok(())
    }
}

/// Length and sha256 of a file, read in 1 MiB pieces.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, format!("{:x}", hasher.finalize())))
}

/// Variable-length rows streamed to a data file, with their offsets kept for `name.idx`.
struct RecordsSink {
    data: FileSink,
    offsets: Vec<u64>,
}

impl RecordsSink {
    fn new(gen: &GenerationWriter, name: &str) -> Result<Self, StoreError> {
        Ok(Self {
            data: gen.create(name)?,
            offsets: vec![0],
        })
    }

    fn push(&mut self, row: &[u8]) -> Result<(), StoreError> {
        self.data.put(row)?;
        self.offsets.push(self.data.bytes());
        Ok(())
    }

    fn close(self, gen: &mut GenerationWriter) -> Result<(), StoreError> {
        let idx = format!("{}.idx", self.data.name);
        gen.close(self.data)?;
        gen.put_array(&idx, mapped::OFFSETS, 1, &self.offsets)
    }
}

/// A passage language as stored in `passages.lang` (see `format`).
pub(super) fn lang_code(lang: Option<crate::chunk::Lang>) -> u8 {
    match lang {
        None => 0,
        Some(crate::chunk::Lang::Ko) => 1,
        Some(crate::chunk::Lang::En) => 2,
    }
}

/// The language a `passages.lang` byte stands for (`None` for 0 or an unknown byte).
pub(super) fn lang_of(code: u8) -> Option<crate::chunk::Lang> {
    match code {
        1 => Some(crate::chunk::Lang::Ko),
        2 => Some(crate::chunk::Lang::En),
        _ => None,
    }
}

/// The parts of the manifest known before the files are written.
pub struct ManifestHead {
    pub model: ModelInfo,
    pub settings: IndexSettings,
    pub sources: BTreeMap<String, String>,
}

/// A passage as `IndexWriter::add_paper` takes it.
pub struct PassageRow<'a> {
    /// What a reader sees (the passage text, or its title where it has none).
    pub text: &'a str,
    /// The key its vector is cached under (see `build`).
    pub key: [u8; 32],
    /// Its language, where known.
    pub lang: Option<crate::chunk::Lang>,
}

/// Streams papers, passages and vectors into a new generation (see the module doc).
pub struct IndexWriter {
    root: PathBuf,
    gen: GenerationWriter,
    dim: usize,
    mode: PaperVector,
    expected: (usize, usize),
    meta: RecordsSink,
    texts: RecordsSink,
    passages: RecordsSink,
    keys: FileSink,
    langs: FileSink,
    passage_vectors: FileSink,
    paper_vectors: FileSink,
    starts: Vec<u64>,
    tables: PaperTables,
    /// Sums of the passage vectors, of all of them and by language (by `lang_code`:
    /// 0 all, 1 Korean, 2 English), and how many went into each.
    lang_sums: [(Vec<f64>, u64); 3],
    /// Titles, for the lexical statistics written at the end.
    titles: Vec<String>,
}

impl IndexWriter {
    /// A writer for exactly `papers` papers holding `passages` passages in all, with
    /// vectors of `dim` values; paper vectors are made by `mode`.
    pub fn new(
        root: &Path,
        dim: usize,
        papers: usize,
        passages: usize,
        mode: PaperVector,
    ) -> Result<Self, StoreError> {
        let gen = GenerationWriter::new(root)?;
        let mut keys = gen.create(PASSAGE_KEYS)?;
        keys.put(&Header::new(KEYS_KIND, passages, 32).encode())?;
        let mut langs = gen.create(PASSAGE_LANGS)?;
        langs.put(&Header::new(LANGS_KIND, passages, 1).encode())?;
        let mut passage_vectors = gen.create(PASSAGE_VECTORS_F16)?;
        passage_vectors.put(&Header::new(F16_ROWS, passages, dim).encode())?;
        let mut paper_vectors = gen.create(PAPER_VECTORS)?;
        paper_vectors.put(&Header::new(F32_ROWS, papers, dim).encode())?;
        Ok(Self {
            root: root.to_path_buf(),
            meta: RecordsSink::new(&gen, PAPER_META)?,
            texts: RecordsSink::new(&gen, PAPER_TEXT)?,
            passages: RecordsSink::new(&gen, PASSAGE_TEXT)?,
            gen,
            dim,
            mode,
            expected: (papers, passages),
            keys,
            langs,
            passage_vectors,
            paper_vectors,
            starts: vec![0],
            tables: PaperTables::default(),
            lang_sums: std::array::from_fn(|_| (vec![0f64; dim], 0)),
            titles: Vec::with_capacity(papers),
        })
    }

    /// The generation's file level, for features that add files of their own.
    pub fn files(&mut self) -> &mut GenerationWriter {
        &mut self.gen
    }

    /// Appends a paper, its passages, and their vectors (`passages.len() × dim` values).
    pub fn add_paper(
        &mut self,
        paper: &Paper,
        passages: &[PassageRow],
        vectors: &[f32],
    ) -> Result<(), StoreError> {
        assert_eq!(
            vectors.len(),
            passages.len() * self.dim,
            "one vector per passage"
        );
        let row = self.starts.len() - 1;
        self.meta
            .push(&serde_json::to_vec(&PaperMeta::from(paper)).expect("metadata serializes"))?;
        let text = PaperText {
            urls: paper.urls.clone(),
            sections: paper.sections.clone(),
        };
        self.texts
            .push(&serde_json::to_vec(&text).expect("texts serialize"))?;
        for p in passages {
            self.passages.push(p.text.as_bytes())?;
            self.keys.put(&p.key)?;
            self.langs.put(&[lang_code(p.lang)])?;
        }
        // Stored in half precision, and everything made from them here made from what is
        // stored (see `vectors::PassageRows`).
        let bits = super::vectors::f16_bits(vectors);
        put_values(&mut self.passage_vectors, &bits)?;
        let mut stored = vec![0f32; vectors.len()];
        super::vectors::widen(&bits, &mut stored);
        let vectors = &stored[..];
        for (p, v) in passages.iter().zip(vectors.chunks_exact(self.dim)) {
            let code = lang_code(p.lang) as usize;
            for k in std::iter::once(0).chain((code > 0).then_some(code)) {
                let (sum, n) = &mut self.lang_sums[k];
                sum.iter_mut().zip(v).for_each(|(s, &x)| *s += x as f64);
                *n += 1;
            }
        }
        let langs: Vec<_> = passages.iter().map(|p| p.lang).collect();
        let pv = super::build::paper_vector(vectors, &langs, self.dim, self.mode);
        put_values(&mut self.paper_vectors, &pv)?;
        let last = *self.starts.last().expect("starts with 0");
        self.starts.push(last + passages.len() as u64);
        self.tables.add(paper, row);
        self.titles.push(paper.title.clone());
        Ok(())
    }

    /// Writes what is derived from the papers (paper statistics, id table, filter columns,
    /// approximate-search lists), the manifest, and makes the generation live.
    pub fn finish(mut self, head: ManifestHead) -> Result<(), StoreError> {
        let papers = self.starts.len() - 1;
        let passages = *self.starts.last().expect("starts with 0") as usize;
        if (papers, passages) != self.expected {
            return Err(StoreError::Io {
                path: self.gen.dir().to_path_buf(),
                source: std::io::Error::other(format!(
                    "the writer was promised {:?} papers and passages, got {:?}",
                    self.expected,
                    (papers, passages)
                )),
            });
        }
        let gen = &mut self.gen;
        for sink in [self.meta, self.texts, self.passages] {
            sink.close(gen)?;
        }
        gen.close(self.keys)?;
        gen.close(self.langs)?;
        gen.close(self.passage_vectors)?;
        gen.close(self.paper_vectors)?;
        gen.put_array(PAPER_STARTS, STARTS_KIND, 1, &self.starts)?;
        let means: Vec<f32> = self
            .lang_sums
            .iter()
            .flat_map(|(sum, n)| {
                sum.iter()
                    .map(move |s| if *n > 0 { (s / *n as f64) as f32 } else { 0.0 })
            })
            .collect();
        gen.put_array(PASSAGE_LANG_MEANS, F32_ROWS, self.dim, &means)?;
        self.tables.write(gen)?;
        let sources = serde_json::to_vec(&head.sources).expect("sources serialize");
        gen.put(SOURCES, &sources)?;

        // Statistics of the paper vectors, read back from the file just written.
        let dim = self.dim;
        let paper_file = gen.map(PAPER_VECTORS)?;
        let paper_vectors: &[f32] = bytemuck::cast_slice(&paper_file.bytes()[HEADER..]);
        let center = csls::Center::of(paper_vectors, dim);
        gen.put_array(PAPER_CENTER, F32_ROWS, dim, &center.mean)?;
        gen.put_array(PAPER_CNORMS, F32_ROWS, 1, &center.norms)?;
        let centered = csls::CenteredRows {
            vectors: paper_vectors,
            center: center.view(),
        };
        // Above the exact-scan size, IVF lists over the centered vectors (the space of the
        // default scoring) are `similar`'s first stage, and give hubness one probe per
        // paper instead of one scan. Lists rather than the HNSW graph of earlier indexes:
        // a query maps them and reads a few lists, where hnsw_rs loaded the whole graph
        // (2.5 s at 100,000 papers), and they build in one k-means and one assignment pass.
        let hubness = if papers < super::ann::EXACT_BELOW {
            csls::hubness_exact(&centered)
        } else {
            ivf::write(gen, PAPER_IVF, &centered)?;
            let corrupt = |reason: String| StoreError::Corrupt {
                dir: gen.dir().to_path_buf(),
                reason,
            };
            let lists = ivf::Ivf::open(
                gen.dir(),
                gen.file_infos(),
                PAPER_IVF,
                papers,
                dim,
                None,
                &corrupt,
            )?;
            csls::hubness_lists(&centered, &lists)
        };
        gen.put_array(PAPER_HUBNESS, F32_ROWS, 1, &hubness)?;
        // The web page's 2-D map (see `crate::layout`): linear in the collection above its
        // refinement size, so it is computed for every index.
        let mut table = vec![0f32; papers * dim];
        table
            .par_chunks_exact_mut(dim.max(1))
            .enumerate()
            .for_each(|(i, row)| ivf::RowSource::row(&centered, i, row));
        let map: Vec<f32> = crate::layout::layout(&table, dim).concat();
        drop(table);
        gen.put(MAP, &super::vectors::f32_bytes(&map))?;
        drop(paper_file);

        let passage_file = gen.map(PASSAGE_VECTORS_F16)?;
        let passage_vectors: &[u16] = bytemuck::cast_slice(&passage_file.bytes()[HEADER..]);
        ivf::write(
            gen,
            PASSAGE_IVF,
            &ivf::Half {
                bits: passage_vectors,
                dim,
            },
        )?;
        drop(passage_file);

        // Term statistics for lexical scoring: titles and passage texts, read back.
        let sizes = |name: &str| gen.file_infos().get(name).map_or(0, |f| f.bytes);
        let dir = gen.dir().to_path_buf();
        let corrupt = |reason: String| StoreError::Corrupt {
            dir: dir.clone(),
            reason,
        };
        let idx = format!("{PASSAGE_TEXT}.idx");
        let texts = Records::open(
            gen.dir(),
            PASSAGE_TEXT,
            (sizes(PASSAGE_TEXT), sizes(&idx)),
            Some(passages),
            &corrupt,
        )?;
        let starts = &self.starts;
        let titles = &self.titles;
        let lexical = crate::query::lexical::LexicalStats::build((0..papers).map(|i| {
            let mut t = vec![titles[i].as_str()];
            for row in starts[i] as usize..starts[i + 1] as usize {
                t.push(
                    texts
                        .get(row)
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .unwrap_or(""),
                );
            }
            t
        }));
        lexical.write(gen)?;
        self.gen.finish(&self.root, head, papers, passages)
    }
}
