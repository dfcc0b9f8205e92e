//! `xinlian devices`: every backend this binary can reach, each with a known-answer self-test.
//!
//! One line per device, then an indented line with the self-test result; a failing device
//! says why. Exit status 0 when every listed device passes, 1 otherwise.

use xinlian_accel::{Backend, CpuBackend};
use xinlian_kernels::sm2;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// One device as listed.
struct Listed {
    name: String,
    detail: String,
    self_test: Result<(), String>,
}

fn cpu() -> Listed {
    let backend = CpuBackend::new(0);
    let path = match sm2::verify_path() {
        sm2::VerifyPath::Ifma => "SM2 on AVX-512 IFMA (8 lanes)",
        sm2::VerifyPath::Portable => "SM2 portable",
    };
    Listed {
        name: "cpu".to_string(),
        detail: format!("{}, {path}", backend.info().device),
        self_test: backend.self_test().map_err(|e| e.to_string()),
    }
}

pub(crate) fn run(_args: &Args) -> anyhow::Result<bool> {
    let listed = vec![cpu()];
    let mut all_pass = true;
    for d in &listed {
        println!("{}: {}", d.name, d.detail);
        match &d.self_test {
            Ok(()) => println!("    self-test: pass"),
            Err(why) => {
                all_pass = false;
                println!("    self-test: FAIL: {why}");
            }
        }
    }
    Ok(all_pass)
}
