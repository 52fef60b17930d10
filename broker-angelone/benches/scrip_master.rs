//! Parses a generated 150,000-row `OpenAPIScripMaster.json` and prints the time taken.
//!
//! Run: `cargo bench -p broker-angelone --bench scrip_master`. Target: under 1 s per parse.

use std::fmt::Write;
use std::time::{Duration, Instant};

const ROWS: usize = 150_000;
const RUNS: usize = 5;

/// Rows shaped like the real master: equities, futures and options across segments.
fn generate(rows: usize) -> String {
    let mut json = String::with_capacity(rows * 220);
    json.push('[');
    for row in 0..rows {
        if row > 0 {
            json.push(',');
        }
        let token = 10_000 + row;
        let (symbol, name, expiry, strike, lot, kind, segment) = match row % 4 {
            0 => (
                format!("STOCK{row}-EQ"),
                format!("STOCK{row}"),
                String::new(),
                "-1.000000".to_owned(),
                1,
                "",
                "NSE",
            ),
            1 => (
                format!("STOCK{row}"),
                format!("STOCK{row}"),
                String::new(),
                "-1.000000".to_owned(),
                1,
                "",
                "BSE",
            ),
            2 => (
                format!("NIFTY{row}FUT"),
                "NIFTY".to_owned(),
                "25FEB2027".to_owned(),
                "-1.000000".to_owned(),
                75,
                "FUTIDX",
                "NFO",
            ),
            _ => (
                format!("NIFTY25FEB27{row}CE"),
                "NIFTY".to_owned(),
                "25FEB2027".to_owned(),
                format!("{}.000000", (row % 400) * 5_000),
                75,
                "OPTIDX",
                "NFO",
            ),
        };
        let _ = write!(
            json,
            r#"{{"token":"{token}","symbol":"{symbol}","name":"{name}","expiry":"{expiry}","strike":"{strike}","lotsize":"{lot}","instrumenttype":"{kind}","exch_seg":"{segment}","tick_size":"5.000000"}}"#
        );
    }
    json.push(']');
    json
}

fn main() {
    let json = generate(ROWS);
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let master = broker_angelone::parse_instruments(json.as_bytes())
            .unwrap_or_else(|error| panic!("generated master must parse: {error}"));
        times.push(started.elapsed());
        assert_eq!(master.index.len(), ROWS);
    }
    times.sort();
    println!(
        "scrip_master/parse_{ROWS}_rows ({:.1} MB): min {:.3} s, median {:.3} s, max {:.3} s over {RUNS} runs (target < 1 s)",
        json.len() as f64 / 1e6,
        times[0].as_secs_f64(),
        times[RUNS / 2].as_secs_f64(),
        times[RUNS - 1].as_secs_f64(),
    );
}
