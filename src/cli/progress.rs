//! Index progress on standard error: a bar on a terminal, a few plain lines otherwise.
//! The library reports through `index::Progress` and never touches the terminal itself.

use recommend::embed::EmbedStats;
use recommend::index::Progress;
use std::io::IsTerminal;
use std::time::Instant;

pub struct Reporter {
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
    tokens_total: usize,
    last_line: Instant,
}

impl Reporter {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bar: None,
            tokens_total: 0,
            last_line: Instant::now(),
        }
    }

    /// Clears the bar, if one was drawn.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn message(&mut self, msg: &str) {
        if !self.quiet || msg.starts_with("warning") {
            eprintln!("{msg}");
        }
    }

    fn start_embedding(&mut self, chunks: usize, tokens: usize) {
        self.tokens_total = tokens;
        if self.quiet {
            return;
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(tokens as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "embedding {bar:30} {msg} {percent}% eta {eta}",
                )
                .expect("valid template"),
            );
            self.bar = Some(bar);
        } else {
            eprintln!("embedding {chunks} passages ({tokens} tokens)");
        }
    }

    fn embedded(&mut self, s: &EmbedStats) {
        let rate = s.tokens as f64 / s.elapsed.as_secs_f64().max(1e-9);
        if let Some(bar) = &self.bar {
            bar.set_position(s.tokens as u64);
            bar.set_message(format!("{} passages, {:.0} tokens/s", s.texts, rate));
        } else if !self.quiet && self.last_line.elapsed().as_secs() >= 10 {
            self.last_line = Instant::now();
            eprintln!(
                "  {} passages, {}/{} tokens, {:.0} tokens/s",
                s.texts, s.tokens, self.tokens_total, rate
            );
        }
    }
}
