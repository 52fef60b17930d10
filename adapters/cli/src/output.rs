//! Text tables, JSON and progress bars.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::failure::{Failure, Outcome};

/// Prints `value` as one line of JSON.
///
/// # Errors
/// A runtime failure when it cannot be encoded.
pub fn print_json(value: &impl Serialize) -> Outcome {
    let text = serde_json::to_string(value)
        .map_err(|error| Failure::runtime(format!("cannot encode the answer: {error}")))?;
    println!("{text}");
    Ok(())
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Progress of a long command: a bar on a terminal; otherwise a plain line on standard error
/// at most every half second (for logs and scripts).
pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: u64,
    last_line: std::time::Instant,
}

impl Progress {
    /// Progress over `total` units of `what`.
    pub fn new(what: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            what,
            total,
            last_line: std::time::Instant::now(),
        }
    }

    /// `done` units are finished.
    pub fn set(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                if self.last_line.elapsed() >= Duration::from_millis(500) {
                    self.last_line = std::time::Instant::now();
                    eprintln!("{}: {done}/{}", self.what, self.total);
                }
            }
        }
    }

    /// Ends the bar with `done` units finished.
    pub fn finish(self, done: u64) {
        match self.bar {
            Some(bar) => bar.finish_with_message(format!("{} done", self.what)),
            None => eprintln!("{}: {done}/{}", self.what, self.total),
        }
    }
}
