//! Results on standard output: one printer turns them into text for a reader, one into
//! JSON for a program (the structs' derived `Serialize`, nothing built by hand). Which one
//! is chosen once, from `--json`; the modes just hand it their results.
//!
//! Every write returns its `io::Error` instead of panicking (as `println!` does), so a closed
//! pipe (`recommend list | head -1`) reaches `main`, which ends quietly.

use recommend::app::{EmbeddedText, PaperRow};
use recommend::bench::{BenchReport, SyntheticReport};
use recommend::corpus::Paper;
use recommend::eval::EvalReport;
use recommend::index::export::PushReport;
use recommend::index::BuildReport;
use recommend::index::VerifyReport;
use recommend::query::{Search, Similar};
use serde::Serialize;
use std::io::{self, Write};
use std::path::Path;

/// What `index` did, as `index --json` prints it.
#[derive(Serialize)]
struct IndexSummary {
    papers: usize,
    chunks: usize,
    embedded: usize,
    reused: usize,
    up_to_date: bool,
    warnings: Vec<String>,
    model_load_s: f64,
    embed_s: f64,
    tokens: usize,
    elapsed_s: f64,
}

impl From<&BuildReport> for IndexSummary {
    fn from(r: &BuildReport) -> Self {
        Self {
            papers: r.papers,
            chunks: r.chunks,
            embedded: r.embedded,
            reused: r.reused,
            up_to_date: r.up_to_date,
            warnings: r.warnings.iter().map(|w| w.to_string()).collect(),
            model_load_s: r.model_load.as_secs_f64(),
            embed_s: r.embed.elapsed.as_secs_f64(),
            tokens: r.embed.tokens,
            elapsed_s: r.elapsed.as_secs_f64(),
        }
    }
}

/// One method per kind of result.
pub trait Printer {
    fn index_report(&mut self, r: &BuildReport) -> io::Result<()>;
    fn similar(&mut self, s: &Similar) -> io::Result<()>;
    fn search(&mut self, s: &Search) -> io::Result<()>;
    fn list(&mut self, rows: &[PaperRow]) -> io::Result<()>;
    fn show(&mut self, p: &Paper) -> io::Result<()>;
    fn bench(&mut self, r: &BenchReport) -> io::Result<()>;
    fn eval(&mut self, r: &EvalReport) -> io::Result<()>;
    fn verify(&mut self, r: &VerifyReport) -> io::Result<()>;
    fn pushed(&mut self, r: &PushReport) -> io::Result<()>;
    fn synthetic(&mut self, r: &SyntheticReport) -> io::Result<()>;
    /// One embedded text: a JSON line in both printers (the format `embed` promises).
    fn embedded(&mut self, e: &EmbeddedText) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
}

/// The printer `--json` asks for, writing to standard output.
pub fn new(json: bool, quiet: bool) -> Box<dyn Printer> {
    let out = io::BufWriter::new(io::stdout());
    if json {
        Box::new(Json { out })
    } else {
        Box::new(Text { out, quiet })
    }
}

fn json_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

pub struct Json<W> {
    pub out: W,
}

impl<W: Write> Json<W> {
    fn pretty(&mut self, value: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, value)?;
        self.out.write_all(b"\n")
    }
}

impl<W: Write> Printer for Json<W> {
    fn index_report(&mut self, r: &BuildReport) -> io::Result<()> {
        json_line(&mut self.out, &IndexSummary::from(r))
    }
    fn similar(&mut self, s: &Similar) -> io::Result<()> {
        self.pretty(s)
    }
    fn search(&mut self, s: &Search) -> io::Result<()> {
        self.pretty(s)
    }
    fn list(&mut self, rows: &[PaperRow]) -> io::Result<()> {
        self.pretty(&rows)
    }
    fn show(&mut self, p: &Paper) -> io::Result<()> {
        self.pretty(p)
    }
    fn bench(&mut self, r: &BenchReport) -> io::Result<()> {
        // One line: peer scripts collect runs as JSON Lines.
        json_line(&mut self.out, r)
    }
    fn eval(&mut self, r: &EvalReport) -> io::Result<()> {
        self.pretty(r)
    }
    fn verify(&mut self, r: &VerifyReport) -> io::Result<()> {
        self.pretty(r)
    }
    fn pushed(&mut self, r: &PushReport) -> io::Result<()> {
        self.pretty(r)
    }
    fn synthetic(&mut self, r: &SyntheticReport) -> io::Result<()> {
        json_line(&mut self.out, r)
    }
    fn embedded(&mut self, e: &EmbeddedText) -> io::Result<()> {
        json_line(&mut self.out, e)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

pub struct Text<W> {
    pub out: W,
    /// No index report (it goes to standard error, like progress).
    pub quiet: bool,
}

impl<W: Write> Printer for Text<W> {
    fn index_report(&mut self, r: &BuildReport) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        let line = if r.up_to_date {
            format!(
                "index is up to date: {} papers, {} passages ({:.2} s)",
                r.papers,
                r.chunks,
                r.elapsed.as_secs_f64()
            )
        } else {
            format!(
                "indexed {} papers, {} passages: {} embedded, {} reused ({:.1} s)",
                r.papers,
                r.chunks,
                r.embedded,
                r.reused,
                r.elapsed.as_secs_f64()
            )
        };
        writeln!(io::stderr(), "{line}")
    }

    fn similar(&mut self, s: &Similar) -> io::Result<()> {
        let o = &mut self.out;
        writeln!(o, "Papers like {} — {}", s.query.id, s.query.title)?;
        for p in &s.also {
            writeln!(o, "       and {} — {}", p.id, p.title)?;
        }
        for p in &s.not {
            writeln!(o, "   but not {} — {}", p.id, p.title)?;
        }
        writeln!(o)?;
        for (n, r) in s.results.iter().enumerate() {
            writeln!(o, "{:>2}. {:<14} {:.3}  {}", n + 1, r.id, r.score, r.title)?;
            match &r.why.seed {
                Some(seed) => writeln!(o, "      {seed}: {}", clip(&r.why.query_passage, 150))?,
                None => writeln!(o, "      this: {}", clip(&r.why.query_passage, 150))?,
            }
            writeln!(o, "      that: {}", clip(&r.why.match_passage, 150))?;
        }
        Ok(())
    }

    fn search(&mut self, s: &Search) -> io::Result<()> {
        for (n, r) in s.results.iter().enumerate() {
            writeln!(
                self.out,
                "{:>2}. {:<14} {:.3}  {}",
                n + 1,
                r.id,
                r.score,
                r.title
            )?;
            writeln!(self.out, "      {}", clip(&r.passage, 160))?;
        }
        Ok(())
    }

    fn list(&mut self, rows: &[PaperRow]) -> io::Result<()> {
        for p in rows {
            let source = p.source.map(file_name).unwrap_or_default();
            writeln!(
                self.out,
                "{:<16} {:<10} {:<26} {}",
                p.id,
                p.date.unwrap_or("-"),
                clip(&source, 26),
                p.title
            )?;
        }
        Ok(())
    }

    fn show(&mut self, p: &Paper) -> io::Result<()> {
        let o = &mut self.out;
        writeln!(o, "{} — {}", p.id, p.title)?;
        if let Some(ko) = &p.title_ko {
            writeln!(o, "  {ko}")?;
        }
        for (k, v) in [
            ("date", p.date.clone()),
            ("venue", p.venue.clone()),
            ("tags", Some(p.tags.join(", ")).filter(|s| !s.is_empty())),
            ("source", Some(p.sources.join(", "))),
            ("url", Some(p.urls.join(" ")).filter(|s| !s.is_empty())),
        ] {
            if let Some(v) = v {
                writeln!(o, "{k:>7}: {v}")?;
            }
        }
        for s in &p.sections {
            writeln!(o)?;
            if let Some(h) = &s.heading {
                writeln!(o, "## {h}")?;
            }
            writeln!(o, "{}", s.text)?;
        }
        Ok(())
    }

    fn bench(&mut self, r: &BenchReport) -> io::Result<()> {
        write!(self.out, "{}", r.table())
    }

    fn eval(&mut self, r: &EvalReport) -> io::Result<()> {
        write!(self.out, "{}", r.table())
    }

    fn verify(&mut self, r: &VerifyReport) -> io::Result<()> {
        writeln!(
            self.out,
            "intact: generation {} (format {}), {} papers, {} passages, {} files, {:.1} MB checked in {:.2} s",
            r.generation,
            r.format,
            r.papers,
            r.passages,
            r.files,
            r.bytes as f64 / 1e6,
            r.seconds
        )
    }

    fn pushed(&mut self, r: &PushReport) -> io::Result<()> {
        writeln!(
            self.out,
            "{} points upserted into {} at {} in {} batches{}",
            r.points,
            r.collection,
            r.url,
            r.batches,
            if r.created {
                " (collection created)"
            } else {
                ""
            }
        )
    }

    fn synthetic(&mut self, r: &SyntheticReport) -> io::Result<()> {
        writeln!(
            self.out,
            "wrote a synthetic index of {} papers, {} passages in {:.1} s ({:.1} MB, peak {:.0} MB)",
            r.papers,
            r.passages,
            r.seconds,
            r.disk_bytes as f64 / 1e6,
            r.peak_rss_mb.unwrap_or(0.0)
        )
    }

    fn embedded(&mut self, e: &EmbeddedText) -> io::Result<()> {
        json_line(&mut self.out, e)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `s` on one line, at most `max` characters (an ellipsis marks a cut).
fn clip(s: &str, max: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn file_name(s: &str) -> String {
    Path::new(s)
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use recommend::query::{PaperRef, SimilarHit, Why};

    fn similar() -> Similar {
        Similar {
            query: PaperRef {
                id: "CAD".into(),
                title: "Context-aware decoding".into(),
            },
            also: Vec::new(),
            not: Vec::new(),
            results: vec![SimilarHit {
                id: "SelfRAG".into(),
                title: "Self-RAG".into(),
                score: 0.25,
                why: Why {
                    query_passage: "line one\nline two".into(),
                    match_passage: "x".repeat(400),
                    seed: None,
                },
            }],
        }
    }

    #[test]
    fn json_printer_writes_the_derived_shape() {
        let mut p = Json { out: Vec::new() };
        p.similar(&similar()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&p.out).unwrap();
        assert_eq!(v["query"]["id"], "CAD");
        assert_eq!(v["results"][0]["why"]["match_passage"], "x".repeat(400));
    }

    #[test]
    fn text_printer_clips_passages_to_one_line() {
        let mut p = Text {
            out: Vec::new(),
            quiet: false,
        };
        p.similar(&similar()).unwrap();
        let text = String::from_utf8(p.out).unwrap();
        assert!(text.starts_with("Papers like CAD — Context-aware decoding\n"));
        assert!(text.contains(" 1. SelfRAG        0.250  Self-RAG\n"));
        assert!(text.contains("this: line one line two\n"));
        let that = text.lines().find(|l| l.contains("that:")).unwrap();
        assert!(that.ends_with('…') && that.chars().count() < 170, "{that}");
    }
}
