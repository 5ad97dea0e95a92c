//! Which papers a query may return: a date range, a source, a tag.
//!
//! Filters are checked against the index before ranking, so a filtered query ranks only
//! the papers that pass (a filter never shortens the result list when enough papers pass).
//! A date bound may name a month (`2024-01`) or a day (`2024-01-15`); a month bound covers
//! the whole month on both sides. A paper without a date passes no date filter: a reader
//! who asks for "since March" wants papers known to be from then. A source or tag that no
//! paper has is an error with a suggestion rather than an empty answer, since it is almost
//! always a typo.

use crate::index::PaperMeta;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// A calendar date with an optional day: `YYYY-MM` or `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartialDate {
    pub year: u16,
    pub month: u8,
    pub day: Option<u8>,
}

impl PartialDate {
    /// The first day it covers, as `(year, month, day)`.
    fn first(self) -> Day {
        (self.year, self.month, self.day.unwrap_or(1))
    }

    /// The last day it covers (31 stands for "end of month": only order matters here).
    fn last(self) -> Day {
        (self.year, self.month, self.day.unwrap_or(31))
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl std::str::FromStr for PartialDate {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, FilterError> {
        let bad = |reason: &str| FilterError::BadDate {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = s.trim().split('-').collect();
        if !(2..=3).contains(&parts.len())
            || parts[0].len() != 4
            || parts[1..].iter().any(|p| p.len() != 2)
            || parts.iter().any(|p| !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("expected YYYY-MM or YYYY-MM-DD"));
        }
        let year: u16 = parts[0].parse().map_err(|_| bad("bad year"))?;
        let month: u8 = parts[1].parse().map_err(|_| bad("bad month"))?;
        if !(1..=12).contains(&month) {
            return Err(bad("the month must be 01 to 12"));
        }
        let day = match parts.get(2) {
            Some(d) => {
                let day: u8 = d.parse().map_err(|_| bad("bad day"))?;
                if day == 0 || day > days_in_month(year, month) {
                    return Err(bad("no such day in that month"));
                }
                Some(day)
            }
            None => None,
        };
        Ok(PartialDate { year, month, day })
    }
}

impl TryFrom<String> for PartialDate {
    type Error = FilterError;
    fn try_from(s: String) -> Result<Self, FilterError> {
        s.parse()
    }
}

impl From<PartialDate> for String {
    fn from(d: PartialDate) -> String {
        d.to_string()
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)?;
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

/// Restrictions on the papers a query returns; the default lets every paper through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Papers dated on or after this (month or day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<PartialDate>,
    /// Papers dated on or before this (month or day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<PartialDate>,
    /// Papers read from this source: a file (its name, or part of it, or its path as
    /// indexed) or a feed (its title, or part of it); case-insensitive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Papers carrying this tag (case-insensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A filter that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("bad date {input:?}: {reason}")]
    BadDate { input: String, reason: String },
    #[error("--since {since} is after --until {until}: no date can pass")]
    EmptyRange { since: String, until: String },
    #[error("no paper comes from a source matching {wanted:?}{}", suggest(.suggestion))]
    UnknownSource {
        wanted: String,
        suggestion: Option<String>,
    },
    #[error("no paper has the tag {tag:?}{}", suggest(.suggestion))]
    UnknownTag {
        tag: String,
        suggestion: Option<String>,
    },
}

fn suggest(s: &Option<String>) -> String {
    match s {
        Some(s) => format!("; did you mean {s:?}?"),
        None => String::new(),
    }
}

/// The closest of `names` to `wanted`, if any is close enough to be a likely typo.
fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    let wanted = wanted.to_lowercase();
    names
        .map(|n| (strsim::jaro_winkler(&wanted, &n.to_lowercase()), n))
        .filter(|(s, _)| *s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n.to_string())
}

fn file_name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or(path)
}

/// A day as `(year, month, day)`, ordered as dates are.
type Day = (u16, u8, u8);

/// The first and last day of a paper's date (the same day for a full ISO date, the whole
/// month for a month-only one); `None` for an absent or unreadable date.
fn paper_dates(p: &PaperMeta) -> Option<(Day, Day)> {
    let d: PartialDate = p
        .date
        .as_deref()?
        .get(..10.min(p.date.as_deref()?.len()))?
        .parse()
        .ok()?;
    Some((d.first(), d.last()))
}

impl Filter {
    /// True when no restriction is set.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether `paper` passes.
    pub fn allows(&self, paper: &PaperMeta) -> bool {
        if self.since.is_some() || self.until.is_some() {
            let Some((first, last)) = paper_dates(paper) else {
                return false;
            };
            if self.since.is_some_and(|s| last < s.first()) {
                return false;
            }
            if self.until.is_some_and(|u| first > u.last()) {
                return false;
            }
        }
        if let Some(src) = &self.source {
            if !paper.sources.iter().any(|s| source_matches(src, s))
                && !paper.feed.as_deref().is_some_and(|f| contains_ci(f, src))
            {
                return false;
            }
        }
        if let Some(tag) = &self.tag {
            if !paper
                .tags
                .iter()
                .any(|t| t.eq_ignore_ascii_case(tag.trim()))
            {
                return false;
            }
        }
        true
    }

    /// Checks the filter against the collection: a date range that is empty, or a source or
    /// tag that no paper has, is an error (with the closest existing name).
    pub fn check(&self, papers: &[PaperMeta]) -> Result<(), FilterError> {
        if let (Some(s), Some(u)) = (self.since, self.until) {
            if s.first() > u.last() {
                return Err(FilterError::EmptyRange {
                    since: s.to_string(),
                    until: u.to_string(),
                });
            }
        }
        if let Some(src) = &self.source {
            let known = papers.iter().any(|p| {
                p.sources.iter().any(|s| source_matches(src, s))
                    || p.feed.as_deref().is_some_and(|f| contains_ci(f, src))
            });
            if !known {
                let names = papers.iter().flat_map(|p| {
                    p.sources
                        .iter()
                        .map(|s| file_name(s))
                        .chain(p.feed.as_deref())
                });
                return Err(FilterError::UnknownSource {
                    wanted: src.clone(),
                    suggestion: closest(src, names),
                });
            }
        }
        if let Some(tag) = &self.tag {
            let known = papers
                .iter()
                .any(|p| p.tags.iter().any(|t| t.eq_ignore_ascii_case(tag.trim())));
            if !known {
                return Err(FilterError::UnknownTag {
                    tag: tag.clone(),
                    suggestion: closest(
                        tag,
                        papers
                            .iter()
                            .flat_map(|p| p.tags.iter().map(String::as_str)),
                    ),
                });
            }
        }
        Ok(())
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    let needle = needle.trim().to_lowercase();
    !needle.is_empty() && haystack.to_lowercase().contains(&needle)
}

/// A source path as indexed matches its whole path, or any part of its file name.
fn source_matches(wanted: &str, path: &str) -> bool {
    path == wanted.trim() || contains_ci(file_name(path), wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(date: Option<&str>, source: &str, tags: &[&str]) -> PaperMeta {
        let mut p = crate::corpus::Paper::new("A paper", source);
        p.date = date.map(str::to_string);
        p.tags = tags.iter().map(|t| t.to_string()).collect();
        PaperMeta::from(&p)
    }

    #[test]
    fn dates_parse_months_and_days_and_reject_the_rest() {
        let d: PartialDate = "2024-02".parse().unwrap();
        assert_eq!((d.year, d.month, d.day), (2024, 2, None));
        assert_eq!("2024-02-29".parse::<PartialDate>().unwrap().day, Some(29));
        for bad in [
            "2023-02-29",
            "2024-13",
            "2024",
            "24-01",
            "2024-1-5",
            "2024/01",
            "x",
        ] {
            let e = bad.parse::<PartialDate>().unwrap_err();
            assert!(matches!(e, FilterError::BadDate { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        let json: PartialDate = serde_json::from_str("\"2023-10-05\"").unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), "\"2023-10-05\"");
        assert!(serde_json::from_str::<PartialDate>("\"2023-10-32\"").is_err());
    }

    #[test]
    fn date_bounds_cover_whole_months_and_undated_papers_never_pass() {
        let f = |since: Option<&str>, until: Option<&str>| Filter {
            since: since.map(|s| s.parse().unwrap()),
            until: until.map(|s| s.parse().unwrap()),
            ..Default::default()
        };
        let jan15 = paper(Some("2024-01-15"), "a.xml", &[]);
        assert!(f(Some("2024-01"), Some("2024-01")).allows(&jan15));
        assert!(f(Some("2024-01-15"), Some("2024-01-15")).allows(&jan15));
        assert!(!f(Some("2024-01-16"), None).allows(&jan15));
        assert!(!f(None, Some("2023-12")).allows(&jan15));
        assert!(f(None, None).allows(&paper(None, "a.xml", &[])));
        assert!(!f(Some("2000-01"), None).allows(&paper(None, "a.xml", &[])));
        assert!(!f(None, Some("2100-01")).allows(&paper(Some("soon"), "a.xml", &[])));
        let e = f(Some("2024-02"), Some("2024-01"))
            .check(&[jan15])
            .unwrap_err();
        assert!(matches!(e, FilterError::EmptyRange { .. }), "{e}");
    }

    #[test]
    fn sources_match_file_names_paths_and_feed_titles() {
        let mut feed = paper(None, "corpus/seeds/001_59a3.txt", &["RAG"]);
        feed.feed = Some("Yongil's Research Blog".into());
        let digest = paper(None, "corpus/seeds/002_cf0c.txt", &[]);
        let by = |s: &str| Filter {
            source: Some(s.into()),
            ..Default::default()
        };
        assert!(by("001_59a3.txt").allows(&feed));
        assert!(by("001").allows(&feed));
        assert!(by("corpus/seeds/001_59a3.txt").allows(&feed));
        assert!(by("yongil").allows(&feed));
        assert!(!by("yongil").allows(&digest));
        assert!(
            !by("seeds").allows(&digest),
            "a directory is not a file name"
        );
        let papers = [feed.clone(), digest];
        by("002").check(&papers).unwrap();
        let e = by("001_59a4.txt").check(&papers).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no paper comes from a source matching \"001_59a4.txt\"; did you mean \"001_59a3.txt\"?"
        );
        let tag = |t: &str| Filter {
            tag: Some(t.into()),
            ..Default::default()
        };
        assert!(tag("rag").allows(&feed));
        assert!(!tag("rag").allows(&papers[1]));
        let e = tag("RAGs").check(&papers).unwrap_err();
        assert!(e.to_string().ends_with("did you mean \"RAG\"?"), "{e}");
    }
}
