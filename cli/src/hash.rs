//! `xinlian hash`: hex lines in, SM3 digests (hex) out, one per line, in order.
//!
//! A line that is not hex stops the run with an error naming the line: unlike a signature,
//! a hash has no "malformed" answer to put in its place, and a silently skipped line would
//! shift every later digest. Digests of the lines before it are already written.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Context};
use xinlian_accel::MessageBatch;

use super::{make_backend, open_input, open_output, CommonArgs, Progress};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

/// Messages per backend batch (bounded so memory stays flat on endless input).
const BATCH: usize = 4096;

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let chosen = make_backend(&args.common)?;
    let backend = chosen.backend();
    let mut input = open_input(&args.common.input)?;
    let mut out = open_output(&args.common.output)?;
    let started = Instant::now();
    let mut progress = Progress::new();
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    let mut raw = Vec::new();
    let mut eof = false;
    while !eof {
        let mut batch = MessageBatch::new();
        let mut bad = None;
        while batch.len() < BATCH {
            raw.clear();
            if input.read_until(b'\n', &mut raw).context("reading input")? == 0 {
                eof = true;
                break;
            }
            let text = raw.strip_suffix(b"\n").unwrap_or(&raw);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            match hex::decode(text) {
                Ok(msg) => {
                    bytes += msg.len() as u64;
                    batch.push(&msg);
                }
                Err(e) => {
                    bad = Some(format!(
                        "line {}: not hex ({e}); {} digests before it were written",
                        line_no + batch.len() as u64 + 1,
                        line_no + batch.len() as u64
                    ));
                    break;
                }
            }
        }
        let digests = backend.sm3_batch(&batch).with_context(|| format!("backend {} failed", backend.info().name))?;
        for d in &digests {
            writeln!(out, "{}", hex::encode(d))?;
        }
        line_no += digests.len() as u64;
        progress.tick("hash", line_no, started);
        if let Some(msg) = bad {
            out.flush()?;
            progress.finish();
            bail!(msg);
        }
    }
    out.flush()?;
    progress.finish();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "hashed {line_no} lines ({bytes} bytes) in {secs:.3} s ({:.1} MB/s); backend {}",
        bytes as f64 / secs.max(1e-9) / 1e6,
        backend.info().name
    );
    chosen.print_stats(&args.common);
    Ok(())
}
