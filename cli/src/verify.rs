//! `xinlian verify`: JSON lines of (pubkey, msg, sig, id) in, one verdict line out per line.
//!
//! Lines are read in chunks; each chunk is decoded and hashed (in parallel when --threads
//! allows), verified by the backend in one batch, and written in input order. A line that is
//! not the expected JSON is a `malformed` verdict for that line, never a stop.

use std::io::{BufRead, Write};
use std::time::Instant;

use anyhow::Context;
use xinlian_accel::verify_line::prepare_json_line;
use xinlian_accel::{KeyCache, KeyCacheConfig, PreparedVerify, Verdict};

use super::{make_backend, open_input, open_output, CommonArgs, Progress};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Lines per backend batch.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    batch: u32,
}

/// What a line turned into before the backend runs.
type Prepared = Result<PreparedVerify, Verdict>;

/// Lines of one chunk, packed in one buffer.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Chunk {
    fn lines(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let line = &self.bytes[start..end];
                start = end;
                line
            })
            .collect()
    }
}

/// Read up to `max` lines; false at end of input.
fn read_chunk(input: &mut dyn BufRead, chunk: &mut Chunk, max: usize) -> anyhow::Result<bool> {
    chunk.bytes.clear();
    chunk.ends.clear();
    while chunk.ends.len() < max {
        let before = chunk.bytes.len();
        let n = input.read_until(b'\n', &mut chunk.bytes).context("reading input")?;
        if n == 0 {
            return Ok(false);
        }
        if chunk.bytes.last() == Some(&b'\n') {
            chunk.bytes.pop();
        }
        debug_assert!(chunk.bytes.len() >= before);
        chunk.ends.push(chunk.bytes.len());
    }
    Ok(true)
}

fn prepare_all(lines: &[&[u8]], cache: &KeyCache, threads: usize) -> Vec<Prepared> {
    // Decoding and hashing cost a few microseconds a line against tens for a verification:
    // parallel only when the backend is, and only for chunks worth a thread.
    let threads = threads.min(lines.len() / 64).max(1);
    if threads == 1 {
        return lines.iter().map(|l| prepare_json_line(l, cache)).collect();
    }
    let per = lines.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = lines
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(|l| prepare_json_line(l, cache)).collect::<Vec<_>>()))
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}

fn write_verdict(out: &mut dyn Write, line: u64, v: &Verdict) -> std::io::Result<()> {
    match v.reason() {
        None => writeln!(out, r#"{{"line":{line},"verdict":"{}"}}"#, v.kind()),
        Some(reason) => {
            // Reasons can quote input (serde's errors do): JSON-escape them.
            let reason = serde_json::to_string(&reason).unwrap_or_else(|_| "\"?\"".to_string());
            writeln!(out, r#"{{"line":{line},"verdict":"{}","reason":{reason}}}"#, v.kind())
        }
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let chosen = make_backend(&args.common)?;
    let backend = chosen.backend();
    let threads = backend.info().parallelism;
    let cache = KeyCache::new(KeyCacheConfig::default());
    let mut input = open_input(&args.common.input)?;
    let mut out = open_output(&args.common.output)?;
    let started = Instant::now();
    let mut progress = Progress::new();
    let (mut line_no, mut valid, mut invalid, mut malformed) = (0u64, 0u64, 0u64, 0u64);
    let mut chunk = Chunk::default();
    loop {
        let more = read_chunk(&mut *input, &mut chunk, args.batch as usize)?;
        let lines = chunk.lines();
        // Move the decoded items out (no copies); a line decided early keeps its verdict in place.
        let mut items: Vec<PreparedVerify> = Vec::with_capacity(lines.len());
        let early: Vec<Option<Verdict>> = prepare_all(&lines, &cache, threads)
            .into_iter()
            .map(|p| match p {
                Ok(item) => {
                    items.push(item);
                    None
                }
                Err(v) => Some(v),
            })
            .collect();
        let verdicts =
            backend.verify_batch(&items).with_context(|| format!("backend {} failed", backend.info().name))?;
        let mut from_backend = verdicts.into_iter();
        for decided in early {
            line_no += 1;
            let verdict = match decided {
                None => from_backend.next().context("backend returned fewer verdicts than items")?,
                Some(v) => v,
            };
            match verdict {
                Verdict::Valid => valid += 1,
                Verdict::Invalid(_) => invalid += 1,
                Verdict::Malformed(_) => malformed += 1,
            }
            write_verdict(&mut *out, line_no, &verdict)?;
        }
        progress.tick("verify", line_no, started);
        if !more {
            break;
        }
    }
    out.flush()?;
    progress.finish();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "verified {line_no} lines in {secs:.3} s ({:.0}/s): {valid} valid, {invalid} invalid, {malformed} malformed; backend {} ({})",
        line_no as f64 / secs.max(1e-9),
        backend.info().name,
        backend.info().device,
    );
    chosen.print_stats(&args.common);
    Ok(())
}
