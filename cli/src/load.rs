//! `xinlian load`: signed transactions at a target rate against a running node; achieved TPS,
//! submit-to-commit latency, and where the node spent its time.
//!
//! `--rpc URL1,URL2,...` spreads the submitting connections over several nodes of one chain
//! (connection k talks to URL k mod n); commits are followed on the first, and each node's
//! stage times are reported on their own.
//!
//! Transactions are signed before the clock starts (RustCrypto `sm2`, on every core), so the
//! load generator's own signing never limits the rate it measures. Commit times are seen by
//! following `GET /block/{height}` as blocks appear (polled every 2 ms), so a latency includes
//! up to one poll interval and one HTTP round trip on top of the node's own.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use xinlian_chain::json::TxJson;
use xinlian_chain::Payload;
use xinlian_chain::Signer;

use super::client::{Client, RpcArgs};
use super::tx::sign_tx;

/// `xinlian load` options.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) rpc: RpcArgs,
    /// Target rate in transactions per second (0: as fast as the node accepts).
    #[arg(long, default_value_t = 0)]
    pub(crate) tps: u64,
    /// How long to submit, in seconds.
    #[arg(long, default_value_t = 10)]
    pub(crate) duration: u64,
    /// Signing keys the transactions are spread over (each a fresh key).
    #[arg(long, default_value_t = 16)]
    pub(crate) senders: usize,
    /// Transactions per `POST /tx` request.
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: usize,
    /// HTTP connections submitting at once.
    #[arg(long, default_value_t = 4)]
    pub(crate) connections: usize,
    /// Bytes of each Put record's value.
    #[arg(long, default_value_t = 100)]
    pub(crate) value_bytes: usize,
    /// Transactions to sign ahead when --tps is 0 (default: 50,000 per second of --duration).
    #[arg(long)]
    pub(crate) count: Option<usize>,
    /// How long to wait after submitting for the last transactions to commit, in seconds.
    #[arg(long, default_value_t = 30)]
    pub(crate) drain: u64,
}

/// Shared progress between the submitters, the block follower and the reporter.
#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    backpressure: AtomicU64,
    committed: AtomicU64,
    submit_times: Mutex<HashMap<String, Instant>>,
    latencies_us: Mutex<Vec<u64>>,
    first_error: Mutex<Option<String>>,
    refusal_kinds: Mutex<HashMap<String, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A loader thread that panicked leaves its counters consistent: keep reading them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The node's `xinlian_stage_seconds_total` counters, by stage.
fn stage_seconds(client: &Client) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    if let Ok(a) = client.get("/metrics") {
        if let Value::String(text) = a.body {
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("xinlian_stage_seconds_total{stage=\"") {
                    if let Some((stage, v)) = rest.split_once("\"} ") {
                        if let Ok(v) = v.trim().parse::<f64>() {
                            out.insert(stage.to_string(), v);
                        }
                    }
                }
            }
        }
    }
    out
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank: the smallest value with at least p of the samples at or below it.
    let rank = (sorted.len() as f64 * p).ceil();
    let idx = (0..sorted.len()).find(|&i| (i + 1) as f64 >= rank).unwrap_or(sorted.len() - 1);
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    if args.senders == 0 || args.batch == 0 || args.connections == 0 || args.duration == 0 {
        bail!("--senders, --batch, --connections and --duration must each be at least 1");
    }
    let urls: Vec<&str> = args.rpc.rpc.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
    let Some(&first) = urls.first() else { bail!("--rpc names no node") };
    let connections = args.connections.max(urls.len());
    let client = Client::new(first);
    let chain_id = client.chain_id()?;
    for url in &urls[1..] {
        let other = Client::new(url).chain_id().with_context(|| format!("--rpc {url}"))?;
        if other != chain_id {
            bail!("--rpc {url} runs chain {other:?}, {first} runs {chain_id:?}: one chain at a time");
        }
    }
    let start_height =
        client.get("/status")?.body.get("height").and_then(Value::as_u64).context("GET /status: no height")?;
    let count = if args.tps > 0 {
        usize::try_from(args.tps.saturating_mul(args.duration)).unwrap_or(usize::MAX)
    } else {
        args.count.unwrap_or_else(|| usize::try_from(args.duration.saturating_mul(50_000)).unwrap_or(usize::MAX))
    };
    if count == 0 || count > 50_000_000 {
        bail!("{count} transactions to sign: choose --tps/--duration/--count for 1 to 50,000,000");
    }

    // Sign everything before the clock starts.
    let keys: Vec<Signer> = (0..args.senders).map(|_| Signer::generate()).collect::<Result<_, _>>()?;
    let run_tag: u64 = rand::random::<u64>() >> 12;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t_sign = Instant::now();
    eprintln!("load: signing {count} transactions from {} senders on {threads} threads...", args.senders);
    let chunks: Vec<Vec<(String, String)>> = std::thread::scope(|s| {
        let per = count.div_ceil(threads);
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (keys, chain_id) = (&keys, &chain_id);
                s.spawn(move || {
                    let lo = t * per;
                    let hi = ((t + 1) * per).min(count);
                    (lo..hi)
                        .map(|i| {
                            let key = &keys[i % keys.len()];
                            let payload = Payload::Put {
                                key: format!("load-{run_tag:x}-{i}").into_bytes(),
                                value: vec![b'x'; args.value_bytes],
                            };
                            let tx = sign_tx(key, chain_id, run_tag.wrapping_add(i as u64), payload);
                            let json = serde_json::to_string(&TxJson::from_tx(&tx)).unwrap_or_default();
                            (hex::encode(tx.id()), json)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let txs: Vec<(String, String)> = chunks.into_iter().flatten().collect();
    eprintln!("load: signed in {:.1} s", t_sign.elapsed().as_secs_f64());
    let batches: Vec<&[(String, String)]> = txs.chunks(args.batch).collect();

    let shared = Arc::new(Shared::default());
    let clients: Vec<Client> = urls.iter().map(|u| Client::new(u)).collect();
    let before: Vec<_> = clients.iter().map(stage_seconds).collect();
    let next_batch = AtomicUsize::new(0);
    let stop_follow = AtomicBool::new(false);
    let start = Instant::now();
    let submit_for = Duration::from_secs(args.duration);
    let mut submit_end = start;
    std::thread::scope(|s| {
        // Follow blocks: commit times of our transactions.
        let follower = s.spawn(|| {
            let c = Client::new(first);
            let mut height = start_height + 1;
            while !stop_follow.load(Ordering::Relaxed) {
                match c.get(&format!("/block/{height}")) {
                    Ok(a) if a.status == 200 => {
                        let now = Instant::now();
                        let mut times = lock(&shared.submit_times);
                        let mut lat = lock(&shared.latencies_us);
                        for t in a.body.get("txs").and_then(Value::as_array).into_iter().flatten() {
                            if let Some(at) = t.get("id").and_then(Value::as_str).and_then(|id| times.remove(id)) {
                                lat.push(u64::try_from(now.duration_since(at).as_micros()).unwrap_or(u64::MAX));
                                shared.committed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        height += 1;
                    }
                    _ => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        // Submit.
        let submitters: Vec<_> = (0..connections)
            .map(|k| {
                let (shared, next_batch, batches, urls) = (&shared, &next_batch, &batches, &urls);
                s.spawn(move || {
                    let c = Client::new(urls[k % urls.len()]);
                    loop {
                        let i = next_batch.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else { return };
                        if start.elapsed() >= submit_for {
                            return;
                        }
                        if args.tps > 0 {
                            // Batch i is due at start + i * batch / tps: a steady rate, no bursts.
                            let due = start + Duration::from_secs_f64((i * args.batch) as f64 / args.tps as f64);
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        let body = format!("[{}]", batch.iter().map(|(_, j)| j.as_str()).collect::<Vec<_>>().join(","));
                        loop {
                            let sent_at = Instant::now();
                            {
                                let mut times = lock(&shared.submit_times);
                                for (id, _) in batch.iter() {
                                    times.insert(id.clone(), sent_at);
                                }
                            }
                            match c.post_json("/tx", &body) {
                                Ok(a) if a.status == 503 => {
                                    // Backpressure: the mempool is full; wait and resend.
                                    shared.backpressure.fetch_add(1, Ordering::Relaxed);
                                    std::thread::sleep(Duration::from_millis(20));
                                    if start.elapsed() >= submit_for {
                                        return;
                                    }
                                    continue;
                                }
                                Ok(a) if a.status == 200 => {
                                    shared.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                                    let results = a.body.get("results").and_then(Value::as_array).cloned();
                                    let mut times = lock(&shared.submit_times);
                                    for (r, (id, _)) in results.unwrap_or_default().iter().zip(batch.iter()) {
                                        if r.get("status").and_then(Value::as_str) == Some("pending") {
                                            shared.accepted.fetch_add(1, Ordering::Relaxed);
                                        } else {
                                            times.remove(id);
                                            shared.refused.fetch_add(1, Ordering::Relaxed);
                                            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("?").to_string();
                                            let mut kinds = lock(&shared.refusal_kinds);
                                            *kinds.entry(kind).or_default() += 1;
                                        }
                                    }
                                }
                                Ok(a) => {
                                    let mut e = lock(&shared.first_error);
                                    e.get_or_insert(format!("POST /tx: HTTP {}: {}", a.status, a.error_text()));
                                    return;
                                }
                                Err(err) => {
                                    let mut e = lock(&shared.first_error);
                                    e.get_or_insert(format!("{err:#}"));
                                    return;
                                }
                            }
                            break;
                        }
                    }
                })
            })
            .collect();
        // Progress once a second while submitting, then while draining.
        let interactive = std::io::stderr().is_terminal();
        let mut last = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let submitting = submitters.iter().any(|h| !h.is_finished());
            if !submitting && submit_end == start {
                submit_end = Instant::now();
            }
            let accepted = shared.accepted.load(Ordering::Relaxed);
            let committed = shared.committed.load(Ordering::Relaxed);
            let draining_done =
                !submitting && (committed >= accepted || submit_end.elapsed() > Duration::from_secs(args.drain));
            if last.elapsed() >= Duration::from_secs(1) || draining_done {
                last = Instant::now();
                let t = start.elapsed().as_secs_f64();
                let line = format!(
                    "load: {t:5.1} s  accepted {accepted} ({:.0}/s)  committed {committed}  backpressure {}  {}",
                    accepted as f64 / t.max(1e-9),
                    shared.backpressure.load(Ordering::Relaxed),
                    if submitting { "submitting" } else { "draining" }
                );
                if interactive {
                    eprint!("\r\x1b[K{line}");
                } else {
                    eprintln!("{line}");
                }
            }
            if draining_done {
                break;
            }
        }
        if interactive {
            eprintln!();
        }
        stop_follow.store(true, Ordering::Relaxed);
        let _ = follower.join();
    });
    if let Some(e) = lock(&shared.first_error).take() {
        bail!("the load stopped: {e}");
    }
    let after: Vec<_> = clients.iter().map(stage_seconds).collect();
    if next_batch.load(Ordering::Relaxed) >= batches.len() && submit_end.duration_since(start) < submit_for {
        eprintln!(
            "load: the {} signed transactions ran out after {:.1} s, before --duration {} s: the figures cover \
             those seconds (raise --count for a longer run)",
            txs.len(),
            submit_end.duration_since(start).as_secs_f64(),
            args.duration
        );
    }
    let submit_secs = submit_end.duration_since(start).as_secs_f64().max(1e-9);
    let mut lat = lock(&shared.latencies_us).clone();
    lat.sort_unstable();
    let accepted = shared.accepted.load(Ordering::Relaxed);
    let committed = shared.committed.load(Ordering::Relaxed);
    let commit_span = start.elapsed().as_secs_f64();
    println!("target       {}", if args.tps > 0 { format!("{} tx/s", args.tps) } else { "as fast as accepted".into() });
    println!("submitted    {} tx in {submit_secs:.1} s: {:.0} tx/s accepted", accepted, accepted as f64 / submit_secs);
    println!("committed    {committed} of {accepted} ({:.0} tx/s over the whole run)", committed as f64 / commit_span);
    println!(
        "refused      {} {:?}; backpressure (503) {} times",
        shared.refused.load(Ordering::Relaxed),
        lock(&shared.refusal_kinds),
        shared.backpressure.load(Ordering::Relaxed)
    );
    println!(
        "latency      submit to commit: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    for ((url, before), after) in urls.iter().zip(&before).zip(&after) {
        print_stages(url, before, after, committed);
    }
    if committed < accepted {
        bail!("{} accepted transactions were not seen committed within --drain {} s", accepted - committed, args.drain);
    }
    Ok(())
}

/// One node's stage times over the run. They are summed over the node's concurrent handlers
/// and threads; `http` includes decode, prepare and the wait for verdicts, so its own share is
/// what is left of it.
fn print_stages(url: &str, before: &HashMap<String, f64>, after: &HashMap<String, f64>, committed: u64) {
    if after.is_empty() {
        return;
    }
    let delta = |k: &str| after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0);
    let per_tx = |secs: f64| secs * 1e6 / committed.max(1) as f64;
    let http_rest = delta("http") - delta("decode") - delta("prepare") - delta("verify");
    println!("node time    {url} (seconds summed over the node's handlers and threads, and per committed tx)");
    for (label, secs) in [
        ("http (request handling, JSON out)", http_rest),
        ("decode (JSON to transactions)", delta("decode")),
        ("prepare (dedupe, replay lookup, Z/e)", delta("prepare")),
        ("verify (waiting for accel verdicts)", delta("verify")),
        ("relay (peers' batches: checks, sigs)", delta("relay")),
        ("merkle (tx roots through accel)", delta("merkle")),
        ("execute", delta("execute")),
        ("validate (peers' blocks: sigs, re-exec)", delta("validate")),
        ("commit (RocksDB, synced)", delta("commit")),
    ] {
        println!("  {label:<40} {secs:8.3} s  {:8.1} us/tx", per_tx(secs));
    }
}
