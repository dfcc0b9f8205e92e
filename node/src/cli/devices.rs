//! `xinlian devices`: every backend this binary can reach, each with a known-answer self-test.
//!
//! One line per device, then an indented line with the self-test result; a failing device
//! says why. Exit status 0 when every listed device passes, 1 otherwise.

use xinlian_accel::{Backend, CpuBackend};
use xinlian_kernels::sm2;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The card's BAR file to look for (default: /dev/shm/xinlian-card-0). Opening a card
    /// resets it: do not point this at a card a running node is using.
    #[arg(long, value_name = "PATH")]
    card: Option<std::path::PathBuf>,
}

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

/// The card, when a BAR file is there; `None` (and a note) when there is none.
fn card(args: &Args) -> Option<Listed> {
    let path = args.card.clone().unwrap_or_else(|| xinlian_hw_sim::DEFAULT_BAR_PATH.into());
    if !path.exists() {
        println!("card: none at {} (start a simulated one with `xinlian card serve`)", path.display());
        return None;
    }
    Some(match super::card::open_backend(Some(&path)) {
        Ok(backend) => Listed {
            name: "card".to_string(),
            detail: backend.info().device.clone(),
            self_test: backend.self_test().map_err(|e| e.to_string()),
        },
        Err(e) => {
            Listed { name: "card".to_string(), detail: path.display().to_string(), self_test: Err(format!("{e:#}")) }
        }
    })
}

pub(crate) fn run(args: &Args) -> anyhow::Result<bool> {
    let mut listed = vec![cpu()];
    listed.extend(card(args));
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
