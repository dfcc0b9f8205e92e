//! Driver and card in two processes: `xinlian card serve` in a child process, the card
//! backend (and `xinlian verify --backend card`) in others.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

mod common;

use common::Served;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use xinlian_accel::{Backend, CardBackend, MessageBatch};
use xinlian_kernels::sm3;

fn xinlian() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xinlian"))
}

fn bar(served: &Served) -> &Path {
    &served.bar
}

#[test]
fn a_card_served_by_another_process_answers_the_driver() {
    let served = Served::start("driver", &["--profile", "fpga-1m", "--pacing", "fast"]);
    let backend = CardBackend::open(bar(&served)).unwrap();
    backend.self_test().unwrap();
    let msgs: MessageBatch = [b"abc".as_slice(), b"", &[7u8; 5000]].into_iter().collect();
    let digests = backend.sm3_batch(&msgs).unwrap();
    assert!(digests.iter().zip(msgs.iter()).all(|(d, m)| *d == sm3::digest(m)));
    drop(backend);
    let (clean, removed) = served.interrupt();
    assert!(clean, "card serve exits 0 on Ctrl-C");
    assert!(removed, "card serve removes its BAR file");
}

#[test]
fn xinlian_verify_on_a_served_card_gives_the_cpu_verdicts() {
    let served = Served::start("verify", &["--profile", "pcie-2019", "--pacing", "realtime"]);
    // The Annex A example (GB/T 32918.5), then the same with a changed message.
    let key = "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020CCEA490CE26775A52DC6EA718CC1AA600\
               AED05FBF35E084A6632F6072DA9AD13";
    let sig = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3B1B6AA29DF212FD8763182BC0D421CA1BB90\
               38FD1F7F42D4840B69C485BBC1AA";
    let good = hex_of(b"message digest");
    let bad = hex_of(b"message digesT");
    let input = format!(
        "{{\"pubkey\":\"{key}\",\"msg\":\"{good}\",\"sig\":\"{sig}\"}}\n{{\"pubkey\":\"{key}\",\"msg\":\"{bad}\",\"sig\":\"{sig}\"}}\n"
    );
    let run = |backend: &[&str]| {
        let mut child = xinlian()
            .arg("verify")
            .args(backend)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let card = run(&["--backend", "card", "--card", served.bar.to_str().unwrap()]);
    let cpu = run(&["--backend", "cpu"]);
    assert_eq!(card, cpu);
    assert!(card.contains("\"valid\"") && card.contains("\"invalid\""), "{card}");
    let (clean, removed) = served.interrupt();
    assert!(clean && removed);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issue 14, point 8: `xinlian devices` pointed at a card another driver holds reports it as in
/// use by that process and leaves it alone: the owner's work goes on, nothing was reset.
#[test]
fn devices_reports_a_card_in_use_without_touching_it() {
    let served = Served::start("in-use", &["--profile", "fpga-1m", "--pacing", "fast"]);
    let owner = CardBackend::open(&served.bar).expect("this test drives the card");
    let out = xinlian().args(["devices", "--card"]).arg(&served.bar).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains(&format!("in use by pid {}", std::process::id())), "{stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("card:") && l.contains("self-test")), "{stdout}");
    let msgs: MessageBatch = [&b"abc"[..]].into_iter().collect();
    assert_eq!(owner.sm3_batch(&msgs).unwrap(), vec![sm3::digest(b"abc")], "the owner's card was not reset");
}
