//! The dispatcher over a faulty simulated card and the CPU.
//!
//! What is checked:
//! - with `corrupt=0.03,drop=0.01,hang=0.01` (fast pacing, seeded, short driver timeouts),
//!   a few thousand signatures fed in batches give exactly the CPU reference's verdicts, each
//!   item answered once, and the card carries part of the work: mixed valid and tampered with
//!   every device verdict re-checked (`recheck_valid_rate = 1`), and all-valid with the
//!   default checks (canaries, and a CPU re-check of every device `Invalid`); then the same
//!   card at ten times those rates, where faults surely fire and are all absorbed;
//! - a card that flips a verdict in every batch (`corrupt=1`) is quarantined by its canaries
//!   or the re-check, stays out (its self-test fails), and every verdict is still right;
//! - a card that resets on every descriptor is taken out, and re-admitted once its faults are
//!   off and its self-test passes, after which it carries work again;
//! - SM3 and Merkle roots through the dispatcher equal the reference; the metrics render as
//!   Prometheus text;
//! - work too large for a device (an SM3 message longer than the card's DMA window; a device
//!   that answers `BatchTooLarge` / `MessageTooLarge`) runs elsewhere, and the device is not
//!   taken out of service for it.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use xinlian_accel::backends::card::DriverConfig;
use xinlian_accel::backends::cpu::verify_one;
use xinlian_accel::dispatch::MetricsSnapshot;
use xinlian_accel::{Backend, CardBackend, DispatchConfig, Dispatcher, MessageBatch, PreparedVerify, Verdict};
use xinlian_hw_sim::{Card, CardConfig, CardHandle, FaultConfig, Pacing, Profile};
use xinlian_kernels::{merkle, sm3};

use crate::conformance::{make_case, random_cases, rng, Keypair, Tamper};

/// A served card on a thread; `backend` is an `Arc` so the dispatcher can share it.
struct Served {
    backend: Arc<CardBackend>,
    card: CardHandle,
}

/// Timeouts short enough that a hang or a drop costs a fraction of a second, and long enough
/// that a card thread starved by the other tests running beside this one (2 cores) is not
/// taken for a hung card (60 ms was: the card then carried no work and the test failed).
fn short() -> DriverConfig {
    DriverConfig {
        timeout: Duration::from_millis(400),
        timeout_per_item: Duration::from_micros(200),
        reset_timeout: Duration::from_secs(2),
        heartbeat_timeout: Duration::from_secs(2),
    }
}

fn serve(faults: &str, seed: u64) -> Served {
    let mut config = CardConfig::new(Profile::built_in("fpga-1m").unwrap());
    config.pacing = Pacing::Fast;
    config.faults = faults.parse().unwrap();
    config.seed = seed;
    let card = Card::spawn(config).unwrap();
    let backend = Arc::new(CardBackend::open_with(card.path(), short()).unwrap());
    Served { backend, card }
}

fn config(seed: u64) -> DispatchConfig {
    DispatchConfig {
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        seed: Some(seed),
        cpu_threads: 2,
        ..DispatchConfig::default()
    }
}

fn dispatcher(served: &Served, config: DispatchConfig) -> Dispatcher {
    let card: Arc<dyn Backend> = served.backend.clone();
    Dispatcher::new(vec![card], config)
}

fn mixed(n: usize, salt: u64) -> Vec<PreparedVerify> {
    let (mut rng, _) = rng(salt);
    random_cases(&mut rng, n).iter().filter_map(|c| xinlian_accel::prepare(&c.request(), None).ok()).collect()
}

/// `n` valid signatures by 16 signers.
pub(crate) fn valid(n: usize, salt: u64) -> Vec<PreparedVerify> {
    let (mut rng, _) = rng(salt);
    let keys: Vec<Keypair> = (0..16).map(|_| Keypair::random(&mut rng)).collect();
    (0..n)
        .map(|i| {
            let case = make_case(&mut rng, &keys[i % 16], &keys[(i + 1) % 16], Tamper::None);
            xinlian_accel::prepare(&case.request(), None).unwrap()
        })
        .collect()
}

pub(crate) fn by_name(d: &Dispatcher, name: &str) -> MetricsSnapshot {
    d.metrics().into_iter().find(|m| m.backend == name).unwrap()
}

/// Feed `items` in batches of `batch`, compare with the CPU reference, return nothing lost.
pub(crate) fn run_and_compare(d: &Dispatcher, items: &[PreparedVerify], batch: usize) {
    let want: Vec<Verdict> = items.iter().map(verify_one).collect();
    let mut got = Vec::with_capacity(items.len());
    for part in items.chunks(batch) {
        let answers = d.verify_batch(part);
        assert_eq!(answers.len(), part.len(), "every item answered exactly once");
        got.extend(answers);
    }
    let wrong: Vec<usize> = (0..items.len()).filter(|&i| got[i] != want[i]).collect();
    assert!(wrong.is_empty(), "{} verdicts differ from the CPU, first at {:?}", wrong.len(), wrong.first());
}

#[test]
fn a_faulty_card_never_changes_a_verdict() {
    let served = serve("corrupt=0.03,drop=0.01,hang=0.01", 11);
    // Mixed valid and tampered: every device verdict re-checked. No start-up calibration here
    // and below: on 2 cores shared with the other tests a calibration can find the card slow
    // and route it nothing, and then this test would not test the card at all.
    let d = dispatcher(&served, DispatchConfig { recheck_valid_rate: 1.0, calibrate: false, ..config(21) });
    let items = mixed(3_000, 51);
    run_and_compare(&d, &items, 250);
    let card = by_name(&d, "card");
    assert!(card.items > 0, "the card carried no work: {card:?}");
    let total: u64 = d.metrics().iter().map(|m| m.items).sum();
    assert!(total >= items.len() as u64, "{:?}", d.metrics());

    // All valid: the default checks alone (canaries, re-check of every device Invalid).
    let d = dispatcher(&served, DispatchConfig { calibrate: false, ..config(22) });
    let items = valid(3_000, 52);
    run_and_compare(&d, &items, 250);
    let card = by_name(&d, "card");
    assert!(card.items > 0 && card.canary_items > 0, "{card:?}");
    let text = d.render_prometheus();
    assert!(text.contains("xinlian_accel_items_total{backend=\"card\"}"), "{text}");
    eprintln!("{:?}\n{:?}", d.metrics(), served.card.counters());

    // Ten times the rates, so that every kind surely fires: still the CPU's answers.
    let before = served.card.counters().faults;
    served.card.set_faults("corrupt=0.3,drop=0.1,hang=0.1".parse().unwrap());
    let d = dispatcher(&served, DispatchConfig { recheck_valid_rate: 1.0, calibrate: false, ..config(27) });
    let items = mixed(1_500, 57);
    run_and_compare(&d, &items, 250);
    let card = by_name(&d, "card");
    assert!(served.card.counters().faults > before, "no fault fired: {:?}", served.card.counters());
    assert!(card.errors + card.quarantines > 0 && card.fallback_items > 0, "{card:?}");
    eprintln!("{:?}\n{:?}", d.metrics(), served.card.counters());
}

#[test]
fn a_card_that_always_lies_is_quarantined() {
    let served = serve("corrupt=1", 12);
    let d = dispatcher(&served, DispatchConfig { calibrate: false, ..config(23) });
    let items = valid(1_500, 53);
    run_and_compare(&d, &items, 500);
    let card = by_name(&d, "card");
    assert!(card.quarantines >= 1 && card.canary_failures + card.recheck_failures >= 1, "{card:?}");
    assert_eq!(card.items, 0, "no answer of a lying card was taken: {card:?}");
    assert!(card.fallback_items > 0, "{card:?}");
    // Its self-test fails while it lies, so it stays out.
    std::thread::sleep(Duration::from_millis(60));
    run_and_compare(&d, &items[..500], 500);
    assert!(d.is_quarantined("card"), "{:?}", d.last_failure("card"));
    assert!(by_name(&d, "card").self_test_failures >= 1);
}

#[test]
fn a_card_that_resets_comes_back_after_its_self_test() {
    let served = serve("reset=1", 13);
    let d = dispatcher(&served, DispatchConfig { calibrate: false, ..config(24) });
    let items = valid(1_000, 54);
    run_and_compare(&d, &items, 1_000);
    assert_eq!(d.is_healthy("card"), Some(false));
    assert!(by_name(&d, "card").errors >= 1);
    served.card.set_faults(FaultConfig::none());
    let deadline = Instant::now() + Duration::from_secs(20);
    while by_name(&d, "card").items == 0 {
        assert!(Instant::now() < deadline, "not re-admitted: {:?} {:?}", d.metrics(), d.last_failure("card"));
        std::thread::sleep(Duration::from_millis(20));
        run_and_compare(&d, &items, 1_000);
    }
    let card = by_name(&d, "card");
    assert!(card.readmissions >= 1 && d.is_healthy("card") == Some(true), "{card:?}");
}

#[test]
fn hashes_and_merkle_roots_match_the_reference() {
    let served = serve("none", 14);
    let d = dispatcher(&served, config(25));
    let (mut rng, _) = rng(55);
    let owned: Vec<Vec<u8>> = (0..20_000)
        .map(|_| {
            let len = rng.gen_range(0..200);
            (0..len).map(|_| rng.gen()).collect()
        })
        .collect();
    let msgs: MessageBatch = owned.iter().map(Vec::as_slice).collect();
    let got = d.sm3_batch(&msgs);
    assert_eq!(got.len(), owned.len());
    assert!(got.iter().zip(&owned).all(|(d, m)| *d == sm3::digest(m)));
    for n in [0usize, 1, 2, 3, 64, 1_001, 20_000] {
        let leaves: Vec<_> = (0..n).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect();
        assert_eq!(d.merkle_root(&leaves), merkle::root(&leaves), "{n} leaves");
    }
    assert!(d.verify_batch(&[]).is_empty());
    assert!(d.sm3_batch(&MessageBatch::new()).is_empty());
}

/// A device that misbehaves in one set way, every time.
struct Liar {
    info: xinlian_accel::BackendInfo,
    how: &'static str,
    calls: std::sync::atomic::AtomicUsize,
}

impl Liar {
    fn new(how: &'static str) -> Arc<Liar> {
        Arc::new(Liar {
            info: xinlian_accel::BackendInfo {
                name: format!("liar-{how}"),
                kind: xinlian_accel::BackendKind::OpenCl,
                device: "a device that misbehaves".to_string(),
                max_batch: 300,
                parallelism: 1,
            },
            how,
            calls: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}

impl Backend for Liar {
    fn info(&self) -> &xinlian_accel::BackendInfo {
        &self.info
    }
    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, xinlian_accel::AccelError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.how {
            "error" => Err(xinlian_accel::AccelError::DeviceLost("gone".to_string())),
            "too-large" => Err(xinlian_accel::AccelError::BatchTooLarge { got: items.len(), max: 0 }),
            "all-valid" => Ok(vec![Verdict::Valid; items.len()]),
            "short" => Ok(items.iter().skip(1).map(verify_one).collect()),
            _ => Ok(items.iter().map(verify_one).collect()),
        }
    }
    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<xinlian_accel::Digest>, xinlian_accel::AccelError> {
        match self.how {
            "error" => Err(xinlian_accel::AccelError::Timeout { millis: 1 }),
            "too-large" => Err(xinlian_accel::AccelError::MessageTooLarge { bytes: msgs.total_bytes(), max: 0 }),
            "all-valid" => Ok(vec![[0u8; 32]; msgs.len()]),
            "short" => Ok(msgs.iter().skip(1).map(sm3::digest).collect()),
            _ => Ok(msgs.iter().map(sm3::digest).collect()),
        }
    }
    fn merkle_level(
        &self,
        nodes: &[xinlian_accel::Digest],
    ) -> Result<Vec<xinlian_accel::Digest>, xinlian_accel::AccelError> {
        match self.how {
            "error" => Err(xinlian_accel::AccelError::Timeout { millis: 1 }),
            "too-large" => Err(xinlian_accel::AccelError::BatchTooLarge { got: nodes.len(), max: 0 }),
            "all-valid" => Ok(vec![[0u8; 32]; nodes.len().div_ceil(2)]),
            "short" => Ok(vec![]),
            _ => Ok(merkle::parent_level(nodes)),
        }
    }
    fn self_test(&self) -> Result<(), xinlian_accel::AccelError> {
        xinlian_accel::self_test::run(self)
    }
}

#[test]
fn devices_that_err_lie_or_answer_short_never_change_an_answer() {
    let items = mixed(1_200, 56);
    let owned: Vec<Vec<u8>> = (0..5_000u32).map(|i| i.to_le_bytes().repeat(usize::try_from(i % 50).unwrap())).collect();
    let msgs: MessageBatch = owned.iter().map(Vec::as_slice).collect();
    let leaves: Vec<_> = (0..5_000u32).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect();
    for how in ["error", "too-large", "all-valid", "short", "honest"] {
        let liar = Liar::new(how);
        let dev: Arc<dyn Backend> = liar.clone();
        // Devices cost nothing in this model's eyes, so they always get a share.
        let d = Dispatcher::new(vec![dev], DispatchConfig { calibrate: false, ..config(26) });
        run_and_compare(&d, &items, 600);
        let got = d.sm3_batch(&msgs);
        assert!(got.iter().zip(&owned).all(|(d, m)| *d == sm3::digest(m)), "{how}");
        assert_eq!(d.merkle_root(&leaves), merkle::root(&leaves), "{how}");
        let m = by_name(&d, &format!("liar-{how}"));
        assert!(liar.calls.load(std::sync::atomic::Ordering::Relaxed) > 0, "{how}: never tried");
        match how {
            "honest" => assert!(m.items > 0 && m.errors == 0 && m.quarantines == 0, "{m:?}"),
            "error" => assert!(m.errors >= 1 && m.items == 0, "{m:?}"),
            // Work too large for a device is not a fault: redone elsewhere, the device stays in.
            "too-large" => {
                assert!(m.errors == 0 && m.quarantines == 0 && m.items == 0 && m.fallback_items > 0, "{m:?}");
                assert!(m.healthy && d.last_failure(&m.backend).is_none(), "{m:?}");
            }
            "all-valid" => assert!(m.quarantines >= 1 && m.canary_failures >= 1 && m.items == 0, "{m:?}"),
            _ => assert!(m.errors >= 1 && m.items == 0, "{m:?}"),
        }
    }
}

/// Issue 11: one SM3 message longer than the card's DMA window is hashed on the CPU; the card,
/// which is healthy, is not taken out of service for it and keeps carrying work.
#[test]
fn a_message_longer_than_the_dma_window_goes_to_the_cpu_and_the_card_stays_in_service() {
    let served = serve("none", 18);
    let window = served.backend.identity().window_bytes;
    let d = dispatcher(&served, DispatchConfig { calibrate: false, ..config(31) });
    // Enough messages that the default costs give the card a share of about 670 (see
    // `router::split`); the long one last, so in the card's share (the CPU's comes first).
    let mut owned: Vec<Vec<u8>> = (0..4_000u32).map(|i| i.to_le_bytes().repeat(8)).collect();
    owned.push(vec![0xA5; window + 1]);
    let msgs: MessageBatch = owned.iter().map(Vec::as_slice).collect();
    let got = d.sm3_batch(&msgs);
    assert_eq!(got.len(), owned.len());
    assert_eq!(got[4_000], sm3::digest(&owned[4_000]), "the long message's digest");
    assert!(got.iter().zip(&owned).all(|(g, m)| *g == sm3::digest(m)));
    let card = by_name(&d, "card");
    assert!(card.items > 0, "the card carried none of the batch: {card:?}");
    assert_eq!((card.errors, card.quarantines, card.fallback_items), (0, 0, 0), "{card:?}");
    assert_eq!(d.is_healthy("card"), Some(true));
    assert!(!d.is_quarantined("card") && d.last_failure("card").is_none());
    // Later batches still go to it (400 signatures: a share of about 120 by the default costs).
    run_and_compare(&d, &valid(400, 61), 400);
    let after = by_name(&d, "card");
    assert!(after.items > card.items, "no later batch reached the card: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_through_the_async_api_get_the_reference_answers() {
    let served = serve("corrupt=0.03,drop=0.01,hang=0.01", 15);
    let card: Arc<dyn Backend> = served.backend.clone();
    let d = Arc::new(Dispatcher::new(vec![card], DispatchConfig { recheck_valid_rate: 1.0, ..config(28) }));
    let config = xinlian_accel::BatcherConfig { max_batch: 512, ..Default::default() };
    let api = Arc::new(xinlian_accel::AsyncDispatcher::new(Arc::clone(&d), config));
    let items = Arc::new(mixed(2_000, 58));
    let want: Arc<Vec<Verdict>> = Arc::new(items.iter().map(verify_one).collect());
    let mut tasks = Vec::new();
    for t in 0..16usize {
        let (api, items, want) = (Arc::clone(&api), Arc::clone(&items), Arc::clone(&want));
        tasks.push(tokio::spawn(async move {
            let mut at = t * 97 % 1_900;
            for round in 0..30usize {
                let n = 1 + (t * 31 + round * 7) % 60;
                let lo = at % (items.len() - n);
                let got = api.verify(items[lo..lo + n].to_vec()).await;
                assert_eq!(got, want[lo..lo + n], "task {t} round {round}");
                at += n * 13;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // One big request skips the queue; hashing and Merkle roots too.
    assert_eq!(api.verify(items.to_vec()).await, *want);
    let leaves: Vec<_> = (0..3_000u32).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect();
    assert_eq!(api.merkle_root(leaves.clone()).await, merkle::root(&leaves));
    let msgs: MessageBatch = [b"abc".as_slice(), b""].into_iter().collect();
    assert_eq!(api.sm3(msgs).await, vec![sm3::digest(b"abc"), sm3::digest(b"")]);
    let budget = api.latency_budget();
    assert!(budget >= config.min_budget && budget <= config.max_budget, "{budget:?}");
    // Coalesced: far fewer batches than the 480 requests.
    let batches: u64 = d.metrics().iter().map(|m| m.batches).sum();
    assert!(batches < 480, "{:?}", d.metrics());
}

#[test]
fn a_large_batch_is_split_across_the_card_opencl_and_the_cpu() {
    let served = serve("corrupt=0.03,drop=0.01,hang=0.01", 16);
    let card: Arc<dyn Backend> = served.backend.clone();
    let mut backends = vec![card];
    // OpenCL when a device is found (POCL in CI); a `SKIPPED` line otherwise.
    let opencl = crate::opencl::conformance_backend().map(Arc::<dyn Backend>::from);
    let opencl_name = opencl.as_ref().map(|b| b.info().name.clone());
    backends.extend(opencl);
    let d = Dispatcher::new(backends, DispatchConfig { recheck_valid_rate: 1.0, ..config(29) });
    let items = mixed(2_000, 59);
    let many: Vec<PreparedVerify> = items.iter().cycle().take(6_000).cloned().collect();
    for _ in 0..2 {
        run_and_compare(&d, &many, many.len());
    }
    let m = d.metrics();
    for name in std::iter::once("card".to_string()).chain(std::iter::once("cpu".to_string())).chain(opencl_name) {
        let b = by_name(&d, &name);
        assert!(b.items + b.fallback_items > 0, "{name} got no share: {m:?} {:?}", d.verify_costs());
    }
    eprintln!("{m:?}\n{:?}", d.verify_costs());
}

/// Issue 5's acceptance: 1,000,000 signatures, valid and tampered mixed, driven through the
/// dispatcher from many concurrent tasks with a faulty card and the OpenCL device present:
/// verdicts identical to the CPU reference. The items cycle through a pool of 2,000 prepared
/// signatures (whose reference verdicts are computed once) in requests of varying sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_signatures_from_many_tasks_match_the_reference() {
    const TOTAL: usize = 1_000_000;
    const TASKS: usize = 32;
    let served = serve("corrupt=0.03,drop=0.01,hang=0.01", 17);
    let card: Arc<dyn Backend> = served.backend.clone();
    let mut backends = vec![card];
    backends.extend(crate::opencl::conformance_backend().map(Arc::<dyn Backend>::from));
    // Every device verdict re-checked: the only setting under which a flipped `valid` from a
    // corrupting card is caught for certain (canaries alone are statistical).
    let d = Arc::new(Dispatcher::new(backends, DispatchConfig { recheck_valid_rate: 1.0, ..config(30) }));
    let api = Arc::new(xinlian_accel::AsyncDispatcher::new(Arc::clone(&d), xinlian_accel::BatcherConfig::default()));
    let pool = Arc::new(mixed(2_000, 60));
    let want: Arc<Vec<Verdict>> = Arc::new(pool.iter().map(verify_one).collect());
    assert!(want.iter().any(Verdict::is_valid) && want.iter().any(|v| !v.is_valid()));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (api, pool, want) = (Arc::clone(&api), Arc::clone(&pool), Arc::clone(&want));
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            let mut at = t * 61;
            let mut round = 0usize;
            while done < TOTAL / TASKS {
                // Sizes from 1 to about 4,000: small ones are coalesced, large ones go alone.
                let n = (1 + (t * 131 + round * 977) % 4_000).min(TOTAL / TASKS - done);
                let items: Vec<PreparedVerify> = (0..n).map(|i| pool[(at + i) % pool.len()].clone()).collect();
                let got = api.verify(items).await;
                assert_eq!(got.len(), n, "task {t} round {round}: every item answered once");
                for (i, v) in got.iter().enumerate() {
                    assert_eq!(*v, want[(at + i) % pool.len()], "task {t} round {round} item {i}");
                }
                done += n;
                at += n * 7 + 3;
                round += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, TOTAL);
    let items: u64 = d.metrics().iter().map(|m| m.items).sum();
    assert!(items >= TOTAL as u64, "{:?}", d.metrics());
    eprintln!("{:?}\n{:?}", d.metrics(), served.card.counters());
}
