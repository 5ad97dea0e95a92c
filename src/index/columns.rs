//! Per-paper tables a query reads without touching the papers' records: the id table
//! (lookup by ID), and the compact columns filters need (date, sources, tags).
//!
//! Dates are one u32 per paper (`YYYYMMDD`, 0 = unknown; a month-only date has day 0), so a
//! date-range filter over a million candidates reads 4 MB at most. Sources and tags are
//! dictionary-coded: a table of distinct names, and per paper the list of its name
//! numbers, so a filter resolves its name once and then compares integers.

use super::mapped::{Array, Records};
use super::store::StoreError;
use super::write::GenerationWriter;
use crate::corpus::Paper;
use std::collections::HashMap;

pub const PAPER_DATES: &str = "papers.date";
pub const PAPER_IDS: &str = "papers.ids";
pub const PAPER_ID_ROWS: &str = "papers.ids.rows";
pub const SOURCE_NAMES: &str = "sources.names";
pub const PAPER_SOURCES: &str = "papers.sources";
pub const TAG_NAMES: &str = "tags.names";
pub const PAPER_TAGS: &str = "papers.tags";
pub const DATE_KIND: &[u8; 8] = b"date u32";
pub const ROWS_KIND: &[u8; 8] = b"rows u32";

/// `YYYY-MM-DD` (or `YYYY-MM`, `YYYY`) as `YYYYMMDD` (missing parts 00); 0 when there is
/// no date to read.
pub fn date_key(date: Option<&str>) -> u32 {
    let Some(d) = date else { return 0 };
    let mut parts = d
        .trim()
        .splitn(3, '-')
        .map(|p| p.trim().parse::<u32>().ok());
    let year = parts.next().flatten().filter(|y| (1..10000).contains(y));
    let month = parts.next().flatten().filter(|m| (1..=12).contains(m));
    let day = parts.next().flatten().filter(|d| (1..=31).contains(d));
    match (year, month) {
        (Some(y), Some(m)) => y * 10000 + m * 100 + day.unwrap_or(0),
        (Some(y), None) => y * 10000,
        _ => 0,
    }
}

/// Distinct names in first-seen order, each with its number.
#[derive(Default)]
struct Dictionary {
    names: Vec<String>,
    numbers: HashMap<String, u32>,
}

impl Dictionary {
    fn number(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        let n = self.names.len() as u32;
        self.names.push(name.to_string());
        self.numbers.insert(name.to_string(), n);
        n
    }
}

/// Builds the tables as papers arrive (a few bytes per paper in memory).
#[derive(Default)]
pub struct PaperTables {
    dates: Vec<u32>,
    ids: Vec<(String, u32)>,
    sources: Dictionary,
    tags: Dictionary,
    paper_sources: Vec<Vec<u32>>,
    paper_tags: Vec<Vec<u32>>,
}

fn packed(numbers: &[u32]) -> Vec<u8> {
    numbers.iter().flat_map(|n| n.to_le_bytes()).collect()
}

impl PaperTables {
    pub fn add(&mut self, paper: &Paper, row: usize) {
        self.dates.push(date_key(paper.date.as_deref()));
        self.ids.push((paper.id.to_lowercase(), row as u32));
        let s = paper
            .sources
            .iter()
            .map(|s| self.sources.number(s))
            .collect();
        self.paper_sources.push(s);
        let t = paper.tags.iter().map(|t| self.tags.number(t)).collect();
        self.paper_tags.push(t);
    }

    fn sorted_ids(&mut self) -> (Vec<String>, Vec<u32>) {
        self.ids.sort();
        std::mem::take(&mut self.ids).into_iter().unzip()
    }

    /// The tables as files of a generation.
    pub fn write(mut self, gen: &mut GenerationWriter) -> Result<(), StoreError> {
        let (names, rows) = self.sorted_ids();
        gen.put_records(PAPER_IDS, names.iter().map(String::as_bytes))?;
        gen.put_array(PAPER_ID_ROWS, ROWS_KIND, 1, &rows)?;
        gen.put_array(PAPER_DATES, DATE_KIND, 1, &self.dates)?;
        gen.put_records(
            SOURCE_NAMES,
            self.sources.names.iter().map(String::as_bytes),
        )?;
        gen.put_records(PAPER_SOURCES, self.paper_sources.iter().map(|s| packed(s)))?;
        gen.put_records(TAG_NAMES, self.tags.names.iter().map(String::as_bytes))?;
        gen.put_records(PAPER_TAGS, self.paper_tags.iter().map(|t| packed(t)))?;
        Ok(())
    }

    /// The tables in memory (older formats, in-memory variants).
    pub fn into_columns(mut self) -> Columns {
        let (names, rows) = self.sorted_ids();
        Columns {
            id_names: Records::owned(names),
            id_rows: Array::owned(rows),
            dates: Array::owned(self.dates),
            source_names: Records::owned(self.sources.names),
            paper_sources: Records::owned(self.paper_sources.iter().map(|s| packed(s))),
            tag_names: Records::owned(self.tags.names),
            paper_tags: Records::owned(self.paper_tags.iter().map(|t| packed(t))),
        }
    }
}

/// The tables, read.
#[derive(Clone)]
pub struct Columns {
    /// Lowercased IDs, sorted, and the paper row of each.
    id_names: Records,
    id_rows: Array<u32>,
    dates: Array<u32>,
    source_names: Records,
    paper_sources: Records,
    tag_names: Records,
    paper_tags: Records,
}

impl Columns {
    pub fn open(
        dir: &std::path::Path,
        size: &dyn Fn(&str) -> Result<u64, StoreError>,
        papers: usize,
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<Self, StoreError> {
        let records = |name: &str, rows: Option<usize>| -> Result<Records, StoreError> {
            Records::open(
                dir,
                name,
                (size(name)?, size(&format!("{name}.idx"))?),
                rows,
                corrupt,
            )
        };
        let array = |name: &str, kind: &[u8; 8]| -> Result<Array<u32>, StoreError> {
            let (h, a) = Array::open(dir, name, size(name)?, kind, Some(1), corrupt)?;
            if h.rows != papers as u64 {
                return Err(corrupt(format!(
                    "{name} holds {} rows for {papers} papers",
                    h.rows
                )));
            }
            Ok(a)
        };
        Ok(Columns {
            id_names: records(PAPER_IDS, Some(papers))?,
            id_rows: array(PAPER_ID_ROWS, ROWS_KIND)?,
            dates: array(PAPER_DATES, DATE_KIND)?,
            source_names: records(SOURCE_NAMES, None)?,
            paper_sources: records(PAPER_SOURCES, Some(papers))?,
            tag_names: records(TAG_NAMES, None)?,
            paper_tags: records(PAPER_TAGS, Some(papers))?,
        })
    }

    /// Starts reading every row, for a reader that goes through every paper.
    pub fn prefetch_all(&self) {
        self.id_names.will_need_all();
        self.paper_sources.will_need_all();
        self.paper_tags.will_need_all();
    }

    /// The row of the paper whose lowercased ID is `wanted`, by binary search.
    pub fn find_exact(&self, wanted: &str) -> Option<usize> {
        let n = self.id_names.len();
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.id_names.get(mid)?.cmp(wanted.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    return self.id_rows.as_slice().get(mid).map(|&r| r as usize)
                }
            }
        }
        None
    }

    /// Every lowercased ID with its paper row (for "did you mean").
    pub fn ids(&self) -> impl Iterator<Item = (&str, usize)> + Clone + '_ {
        (0..self.id_names.len()).filter_map(|i| {
            let name = std::str::from_utf8(self.id_names.get(i)?).ok()?;
            Some((name, *self.id_rows.as_slice().get(i)? as usize))
        })
    }

    /// Paper `i`'s date as `YYYYMMDD` (see `date_key`), `None` when unknown.
    pub fn date(&self, i: usize) -> Option<u32> {
        self.dates.as_slice().get(i).copied().filter(|&d| d > 0)
    }

    pub fn paper_sources(&self, i: usize) -> Vec<u32> {
        unpack(self.paper_sources.get(i))
    }

    pub fn paper_tags(&self, i: usize) -> Vec<u32> {
        unpack(self.paper_tags.get(i))
    }

    pub fn source_names(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        names(&self.source_names)
    }

    pub fn tag_names(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        names(&self.tag_names)
    }
}

fn unpack(bytes: Option<&[u8]>) -> Vec<u32> {
    bytes
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect()
}

fn names(table: &Records) -> impl Iterator<Item = (u32, &str)> + '_ {
    (0..table.len()).filter_map(|i| {
        let name = std::str::from_utf8(table.get(i)?).ok()?;
        Some((i as u32, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_comparable_numbers() {
        assert_eq!(date_key(Some("2023-05-17")), 20230517);
        assert_eq!(date_key(Some("2023-05")), 20230500);
        assert_eq!(date_key(Some("2023")), 20230000);
        assert_eq!(date_key(Some("2023-13-01")), 20230000);
        assert_eq!(date_key(Some("yesterday")), 0);
        assert_eq!(date_key(None), 0);
        assert!(date_key(Some("2023-05")) < date_key(Some("2023-05-01")));
    }
}
