//! The card driver against the simulated card, in one process (the card on a thread).
//!
//! What is checked:
//! - the driver refuses what is not a card it understands (no magic, another ABI major, a
//!   halted card) with `DeviceLost` naming why;
//! - both built-in profiles pass the self-test, give the CPU reference's answers, and a big
//!   batch is pipelined into many descriptors; several threads share one card;
//! - every fault kind at rate 1.0 (seeded) reaches the caller as the right [`AccelError`]:
//!   drop and hang `Timeout`, reset `DeviceLost`, garbage status `Corrupt`; the driver then
//!   recovers (reset and re-initialised) once the faults stop; a flipped verdict (`corrupt`) is
//!   a wrong answer the driver cannot see (the dispatcher's canaries will); with every
//!   detectable kind on at once, from one thread and from three, each answer is the CPU's or
//!   an error, never a wrong verdict (fault seeds follow `XINLIAN_TEST_SEED`);
//! - a message longer than a DMA window allows is `MessageTooLarge` (not a device fault), never
//!   truncated, and the longest one allowed is hashed; a second card
//!   on a served BAR path is refused; a card that shuts down is `DeviceLost`;
//! - the timing model reproduces each profile's nominal throughput within 5% (modelled time),
//!   and realtime pacing never completes before the modelled latency.
//!
//! The two-process test (`xinlian card serve` in its own process) lives in `node/tests/card.rs`.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xinlian_accel::backends::card::DriverConfig;
use xinlian_accel::backends::cpu::verify_run;
use xinlian_accel::{AccelError, Backend, BackendInfo, CardBackend, Digest, MessageBatch, PreparedVerify, Verdict};
use xinlian_hw_sim::abi::{self, Bar};
use xinlian_hw_sim::{BarLocation, Card, CardConfig, CardHandle, FaultConfig, Pacing, Profile};
use xinlian_kernels::{merkle, sm3};

use crate::conformance::{random_cases, rng};

/// A card on a thread and the backend driving it; the backend is dropped before the card.
pub(crate) struct SimulatedCard {
    pub(crate) backend: CardBackend,
    pub(crate) card: CardHandle,
}

impl Backend for SimulatedCard {
    fn info(&self) -> &BackendInfo {
        self.backend.info()
    }
    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        self.backend.verify_batch(items)
    }
    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        self.backend.sm3_batch(msgs)
    }
    fn max_message_bytes(&self) -> usize {
        self.backend.max_message_bytes()
    }
    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError> {
        self.backend.merkle_level(nodes)
    }
    fn self_test(&self) -> Result<(), AccelError> {
        self.backend.self_test()
    }
}

/// Short timeouts, so the fault tests take milliseconds, not seconds.
fn quick() -> DriverConfig {
    DriverConfig {
        timeout: Duration::from_millis(300),
        timeout_per_item: Duration::from_micros(10),
        reset_timeout: Duration::from_secs(2),
        heartbeat_timeout: Duration::from_secs(2),
    }
}

pub(crate) fn simulated(profile: &str, pacing: Pacing, faults: FaultConfig, seed: u64) -> SimulatedCard {
    let mut config = CardConfig::new(Profile::built_in(profile).unwrap());
    config.pacing = pacing;
    config.faults = faults;
    config.seed = seed;
    let card = Card::spawn(config).unwrap();
    // Short timeouts only where faults are expected: a healthy card on a loaded machine must
    // never be mistaken for a hung one.
    let driver = if faults.is_none() { DriverConfig::default() } else { quick() };
    let backend = CardBackend::open_with(card.path(), driver).unwrap();
    SimulatedCard { backend, card }
}

/// The card backend for the conformance suite: `pcie-2019` shape, no faults, fast pacing.
pub(crate) fn conformance_backend() -> Box<dyn Backend> {
    Box::new(simulated("pcie-2019", Pacing::Fast, FaultConfig::none(), 0))
}

fn items(n: usize, salt: u64) -> (Vec<PreparedVerify>, Vec<Verdict>) {
    let (mut rng, _) = rng(salt);
    let cases = random_cases(&mut rng, n);
    let prepared: Vec<PreparedVerify> =
        cases.iter().filter_map(|c| xinlian_accel::prepare(&c.request(), None).ok()).collect();
    let expected = verify_run(&prepared);
    (prepared, expected)
}

#[test]
fn the_driver_refuses_what_is_not_a_card_it_understands() {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("xinlian-not-a-card-{}", std::process::id()));
    let bar = Bar::create(&path, 1 << 16).unwrap();
    let err = CardBackend::open(&path).err().unwrap();
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("not a card")), "{err}");
    bar.write32(abi::REG_VERSION, 2 << 16);
    bar.write32(abi::REG_STATUS, abi::STATUS_READY);
    bar.write32(abi::REG_MAGIC, abi::MAGIC);
    let err = CardBackend::open(&path).err().unwrap();
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("ABI version 2.0")), "{err}");
    bar.write32(abi::REG_VERSION, abi::ABI_VERSION);
    bar.write32(abi::REG_STATUS, abi::STATUS_HALTED);
    let err = CardBackend::open(&path).err().unwrap();
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("not running")), "{err}");
    bar.write32(abi::REG_STATUS, abi::STATUS_READY);
    bar.write32(abi::REG_CAPS, abi::CAP_SM3 | abi::CAP_SM2_VERIFY | abi::CAP_MERKLE);
    bar.write32(abi::REG_QUEUE_DEPTH, 4);
    bar.write32(abi::REG_SQ_OFFSET, 0x1001);
    let err = CardBackend::open(&path).err().unwrap();
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("layout is inconsistent")), "{err}");
    std::fs::remove_file(&path).unwrap();
    let err = CardBackend::open(&path).err().unwrap();
    assert!(matches!(err, AccelError::DeviceLost(_)));
}

#[test]
fn both_profiles_pass_the_self_test_and_agree_with_the_cpu() {
    for profile in ["pcie-2019", "fpga-1m"] {
        let sim = simulated(profile, Pacing::Fast, FaultConfig::none(), 0);
        sim.self_test().unwrap();
        assert!(sim.info().device.contains(profile), "{}", sim.info().device);
        let (prepared, expected) = items(300, 41);
        assert_eq!(sim.verify_batch(&prepared).unwrap(), expected, "{profile}");
    }
}

#[test]
fn a_big_batch_is_pipelined_into_many_descriptors() {
    let sim = simulated("pcie-2019", Pacing::Fast, FaultConfig::none(), 0);
    // pcie-2019: 1 MiB windows hold 6,500 SM2 items; max_items 4096 cuts 10,000 into 3.
    let (prepared, expected) = items(2_000, 42);
    let many: Vec<PreparedVerify> = prepared.iter().cycle().take(10_000).cloned().collect();
    let want: Vec<Verdict> = expected.iter().cycle().take(10_000).cloned().collect();
    let before = sim.card.counters().descriptors;
    assert_eq!(sim.verify_batch(&many).unwrap(), want);
    assert_eq!(sim.card.counters().descriptors - before, 3);
    // SM3: 3,000 messages of 1 KiB do not fit one 1 MiB window.
    let owned: Vec<Vec<u8>> = (0..3000u32).map(|i| vec![i.to_le_bytes()[0]; 1024]).collect();
    let msgs: MessageBatch = owned.iter().map(Vec::as_slice).collect();
    let before = sim.card.counters().descriptors;
    let got = sim.sm3_batch(&msgs).unwrap();
    assert!(sim.card.counters().descriptors - before >= 3);
    assert!(got.iter().zip(msgs.iter()).all(|(d, m)| *d == sm3::digest(m)));
    // Merkle: 50,000 nodes split in even runs.
    let leaves: Vec<Digest> = (0..50_001u32).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect();
    assert_eq!(sim.merkle_level(&leaves).unwrap(), merkle::parent_level(&leaves));
}

#[test]
fn several_threads_share_one_card() {
    let sim = Arc::new(simulated("fpga-1m", Pacing::Fast, FaultConfig::none(), 0));
    let (prepared, expected) = items(200, 43);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (sim, prepared, expected) = (&sim, &prepared, &expected);
            s.spawn(move || {
                for round in 0..20 {
                    let lo = (t * 7 + round) % 150;
                    let hi = lo + 1 + (round * 3) % 50;
                    assert_eq!(sim.verify_batch(&prepared[lo..hi]).unwrap(), expected[lo..hi]);
                }
            });
        }
    });
}

/// A card with one fault kind at rate 1.0; the first batch meets it, and once the faults
/// stop the same backend works again.
fn fault_kind(spec: &str) -> AccelError {
    let sim = simulated("fpga-1m", Pacing::Fast, spec.parse().unwrap(), 7);
    let (prepared, expected) = items(40, 44);
    let err = sim.verify_batch(&prepared).err().unwrap_or_else(|| panic!("{spec}: the driver took a faulty answer"));
    let err2 = sim.sm3_batch(&[b"abc".as_slice()].into_iter().collect()).err().unwrap();
    assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&err2), "{spec}: {err} / {err2}");
    sim.card.set_faults(FaultConfig::none());
    // The first call after a fault may still meet its aftermath (a reset in flight); the
    // driver must be working again within a couple of calls.
    let mut ok = false;
    for _ in 0..3 {
        if sim.verify_batch(&prepared).ok().as_ref() == Some(&expected) {
            ok = true;
            break;
        }
    }
    assert!(ok, "{spec}: the driver did not recover");
    sim.self_test().unwrap();
    err
}

#[test]
fn a_dropped_completion_is_a_timeout() {
    assert!(matches!(fault_kind("drop=1"), AccelError::Timeout { .. }));
}

#[test]
fn a_hung_engine_is_a_timeout() {
    assert!(matches!(fault_kind("hang=1"), AccelError::Timeout { .. }));
}

#[test]
fn a_spontaneous_reset_is_device_lost() {
    let err = fault_kind("reset=1");
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("reset")), "{err}");
}

#[test]
fn a_garbage_status_is_corrupt() {
    let err = fault_kind("status=1");
    assert!(matches!(&err, AccelError::Corrupt(m) if m.contains("undefined status")), "{err}");
}

#[test]
fn a_flipped_verdict_is_not_detectable_by_the_driver() {
    let sim = simulated("fpga-1m", Pacing::Fast, "corrupt=1".parse().unwrap(), 7);
    let (prepared, expected) = items(40, 45);
    let got = sim.verify_batch(&prepared).unwrap();
    let wrong = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(wrong, 1, "one flipped verdict per descriptor");
    assert!(sim.self_test().is_err(), "the known answers catch it");
}

#[test]
fn a_card_that_shuts_down_is_device_lost() {
    let sim = simulated("fpga-1m", Pacing::Fast, FaultConfig::none(), 0);
    sim.self_test().unwrap();
    let SimulatedCard { backend, card } = sim;
    let path = card.path().to_path_buf();
    card.shutdown();
    assert!(!path.exists(), "the BAR file is removed on shutdown");
    let err = backend.verify_batch(&items(3, 46).0).err().unwrap();
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("shut down")), "{err}");
}

#[test]
fn a_second_card_on_a_served_path_is_refused() {
    let sim = simulated("fpga-1m", Pacing::Fast, FaultConfig::none(), 0);
    let mut config = CardConfig::new(Profile::built_in("fpga-1m").unwrap());
    config.bar = BarLocation::Path(sim.card.path().to_path_buf());
    assert!(matches!(Card::spawn(config), Err(xinlian_hw_sim::Error::InUse(_))));
}

/// Modelled throughput of `items` verifications and of SM3 over 16 KiB messages.
fn modelled_rates(profile: &str, verifies: usize, sm3_bytes: usize) -> (f64, f64) {
    let (prepared, _) = items(200, 47);
    let many: Vec<PreparedVerify> = prepared.iter().cycle().take(verifies).cloned().collect();
    let sim = simulated(profile, Pacing::Fast, FaultConfig::none(), 0);
    sim.verify_batch(&many).unwrap();
    let sm2_rate = verifies as f64 / (sim.card.counters().modelled_ns as f64 / 1e9);
    let sim = simulated(profile, Pacing::Fast, FaultConfig::none(), 0);
    let msg = vec![0x5Au8; 16 << 10];
    let msgs: MessageBatch = std::iter::repeat_n(msg.as_slice(), sm3_bytes / msg.len()).collect();
    sim.sm3_batch(&msgs).unwrap();
    let sm3_mbps = (msgs.total_bytes() * 8) as f64 / 1e6 / (sim.card.counters().modelled_ns as f64 / 1e9);
    (sm2_rate, sm3_mbps)
}

#[test]
fn the_timing_model_reproduces_each_profile_nominal_throughput() {
    for (profile, verifies, sm3_bytes) in [("pcie-2019", 4_200, 64 << 20), ("fpga-1m", 40_000, 256 << 20)] {
        let nominal = Profile::built_in(profile).unwrap().nominal;
        let (sm2_rate, sm3_mbps) = modelled_rates(profile, verifies, sm3_bytes);
        eprintln!("{profile}: modelled SM2 {sm2_rate:.0}/s, SM3 {sm3_mbps:.0} Mbps");
        let off = |got: f64, want: u64| (got - want as f64).abs() / want as f64;
        assert!(off(sm2_rate, nominal.sm2_verify_per_s) < 0.05, "{profile}: SM2 {sm2_rate:.0}/s");
        assert!(off(sm3_mbps, nominal.sm3_mbps) < 0.05, "{profile}: SM3 {sm3_mbps:.0} Mbps");
    }
}

#[test]
fn realtime_pacing_never_completes_early() {
    // fpga-1m: one verification is due 80 us + 16 us + DMA after it arrives.
    let sim = simulated("fpga-1m", Pacing::Realtime, FaultConfig::none(), 0);
    let (prepared, expected) = items(1, 48);
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(sim.verify_batch(&prepared).unwrap(), expected);
        assert!(t.elapsed() >= Duration::from_micros(96), "{:?}", t.elapsed());
    }
    // pcie-2019: 20 verifications on 10 engines are 2 rounds of 2.38 ms, plus 50 us.
    let sim = simulated("pcie-2019", Pacing::Realtime, FaultConfig::none(), 0);
    let (prepared, expected) = items(20, 49);
    let t = Instant::now();
    assert_eq!(sim.verify_batch(&prepared).unwrap(), expected);
    assert!(t.elapsed() >= Duration::from_micros(4_800), "{:?}", t.elapsed());
}

#[test]
fn the_default_bar_path_is_documented() {
    assert_eq!(xinlian_hw_sim::DEFAULT_BAR_PATH, "/dev/shm/xinlian-card-0");
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("../hw-sim/ABI.md").exists());
}

/// The driver's overhead, for the README (timing-dependent, so not run by default):
/// `cargo test --release -p xinlian-accel --test it card::measure_driver_overhead -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check: run it by name with --ignored --nocapture"]
fn measure_driver_overhead() {
    let sim = simulated("fpga-1m", Pacing::Fast, FaultConfig::none(), 0);
    let one: MessageBatch = [b"".as_slice()].into_iter().collect();
    for _ in 0..200 {
        sim.sm3_batch(&one).unwrap();
    }
    let rounds = 5_000;
    let t = Instant::now();
    for _ in 0..rounds {
        sim.sm3_batch(&one).unwrap();
    }
    let sm3_round_trip = t.elapsed() / rounds;
    let direct = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(sm3::digest_batch(&[b"".as_slice()]));
    }
    let sm3_direct = direct.elapsed() / rounds;
    let (prepared, expected) = items(512, 50);
    let many: Vec<PreparedVerify> = prepared.iter().cycle().take(8192).cloned().collect();
    let want: Vec<Verdict> = expected.iter().cycle().take(8192).cloned().collect();
    assert_eq!(sim.verify_batch(&many).unwrap(), want);
    let t = Instant::now();
    let reps = 5u32;
    for _ in 0..reps {
        std::hint::black_box(sim.verify_batch(&many).unwrap());
    }
    let card = t.elapsed() / reps;
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(verify_run(&many));
    }
    let cpu = t.elapsed() / reps;
    let per_item_ns = (card.as_nanos() as f64 - cpu.as_nanos() as f64) / many.len() as f64;
    eprintln!(
        "round trip of a 1-item SM3 batch: {sm3_round_trip:?} (the hash itself: {sm3_direct:?}); \
         8,192 verifications: card {card:?} vs the same kernels on this thread {cpu:?}: \
         {per_item_ns:.0} ns per item of driver + card overhead"
    );
}

#[test]
fn with_faults_on_every_answer_is_right_or_an_error() {
    // Every detectable kind at once; a flipped verdict (corrupt) is left out: it is the one
    // fault the driver cannot see.
    let faults = "drop=0.1,hang=0.05,reset=0.1,status=0.1".parse().unwrap();
    let sim = simulated("fpga-1m", Pacing::Fast, faults, crate::conformance::seed(11));
    let (prepared, expected) = items(64, 51);
    let (mut right, mut errors) = (0, 0);
    for round in 0..60 {
        let n = 1 + round % 64;
        match sim.verify_batch(&prepared[..n]) {
            Ok(v) => {
                assert_eq!(v, expected[..n], "round {round}: a faulty card produced a wrong verdict");
                right += 1;
            }
            Err(AccelError::Timeout { .. } | AccelError::DeviceLost(_) | AccelError::Corrupt(_)) => errors += 1,
            Err(other) => panic!("round {round}: unexpected error {other}"),
        }
    }
    assert!(right > 10 && errors > 5, "{right} right, {errors} errors");
    assert!(sim.card.counters().faults > 0);
}

#[test]
fn a_message_larger_than_a_dma_window_is_refused_not_truncated() {
    let sim = simulated("fpga-1m", Pacing::Fast, FaultConfig::none(), 0);
    let max = sim.backend.max_message_bytes();
    assert!(max < sim.backend.identity().window_bytes, "{max}");
    let big = vec![1u8; max + 1];
    let msgs: MessageBatch = [b"abc".as_slice(), big.as_slice()].into_iter().collect();
    let err = sim.sm3_batch(&msgs).unwrap_err();
    assert_eq!(err, AccelError::MessageTooLarge { bytes: max + 1, max });
    assert!(!err.is_device_fault(), "work too large is the caller's, not the card's: {err}");
    // The longest message the card says it takes, it takes.
    let fits = vec![2u8; max];
    let msgs: MessageBatch = [b"abc".as_slice(), fits.as_slice()].into_iter().collect();
    assert_eq!(sim.sm3_batch(&msgs).unwrap(), vec![sm3::digest(b"abc"), sm3::digest(&fits)]);
}

#[test]
fn with_faults_on_concurrent_callers_get_right_answers_or_errors() {
    let faults = "drop=0.05,hang=0.02,reset=0.05,status=0.05".parse().unwrap();
    let sim = simulated("fpga-1m", Pacing::Fast, faults, crate::conformance::seed(12));
    let (prepared, expected) = items(64, 52);
    std::thread::scope(|s| {
        for t in 0..3usize {
            let (sim, prepared, expected) = (&sim, &prepared, &expected);
            s.spawn(move || {
                for round in 0..25usize {
                    let n = 1 + (t * 11 + round * 5) % 64;
                    match sim.verify_batch(&prepared[..n]) {
                        Ok(v) => assert_eq!(v, expected[..n], "thread {t} round {round}: wrong verdicts"),
                        Err(AccelError::Timeout { .. } | AccelError::DeviceLost(_) | AccelError::Corrupt(_)) => {}
                        Err(other) => panic!("thread {t} round {round}: unexpected error {other}"),
                    }
                }
            });
        }
    });
    // And the card is usable afterwards.
    sim.card.set_faults(FaultConfig::none());
    let recovered = (0..3).any(|_| sim.verify_batch(&prepared).ok().as_ref() == Some(&expected));
    assert!(recovered);
}

/// Issue 14, point 8: a card has one driver. A second opener is refused with the owner's pid
/// before it touches the BAR, so the first driver's work goes on; once the owner is gone the
/// card opens again.
#[test]
fn a_second_driver_is_refused_naming_the_owner_and_the_first_keeps_working() {
    let sim = simulated("pcie-2019", Pacing::Fast, FaultConfig::none(), 0);
    let bar = sim.card.path().to_path_buf();
    let first = sim.backend;
    let second = CardBackend::open(&bar);
    match second {
        Err(AccelError::InUse { owner, .. }) => assert_eq!(owner, format!("pid {}", std::process::id())),
        Err(other) => panic!("expected InUse, got {other}"),
        Ok(_) => panic!("a second driver opened the card"),
    }
    let msgs: MessageBatch = [&b"abc"[..]].into_iter().collect();
    assert_eq!(first.sm3_batch(&msgs).unwrap(), vec![sm3::digest(b"abc")], "the owner's card was not reset");
    drop(first);
    let again = CardBackend::open(&bar).expect("the card opens once its owner is gone");
    assert_eq!(again.sm3_batch(&msgs).unwrap(), vec![sm3::digest(b"abc")]);
}
