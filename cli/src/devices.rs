//! `xinlian devices`: every backend this binary can reach, each with a known-answer self-test.
//!
//! One line per device, then an indented line with the self-test result; a failing device
//! says why; then a note for each kind of device that was looked for and not found. Exit
//! status 0 when every listed device passes, 1 otherwise (no device of a kind is not a failure).

use xinlian_accel::{Backend, CpuBackend};
use xinlian_kernels::sm2;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The card's BAR file to look for (default: /dev/shm/xinlian-card-0). A card another
    /// driver holds (a running node) is reported as in use and not touched.
    #[arg(long, value_name = "PATH")]
    card: Option<std::path::PathBuf>,
    /// A vendor's GM/T 0018 (SDF) library to open and list with its DEVICEINFO (repeatable).
    /// A library that says "valid" to a known-bad signature fails its self-test.
    #[arg(long, value_name = "PATH")]
    sdf_lib: Vec<std::path::PathBuf>,
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

/// The card, when a BAR file is there; otherwise a note saying where none was found.
fn card(args: &Args) -> Result<Listed, String> {
    let path = args.card.clone().unwrap_or_else(|| xinlian_hw_sim::DEFAULT_BAR_PATH.into());
    if !path.exists() {
        return Err(format!("card: none at {} (start a simulated one with `xinlian card serve`)", path.display()));
    }
    Ok(match super::card::open_backend(Some(&path)) {
        Ok(backend) => Listed {
            name: "card".to_string(),
            detail: backend.info().device.clone(),
            self_test: backend.self_test().map_err(|e| e.to_string()),
        },
        // A card another driver holds is reported, not opened: opening it would reset it.
        Err(e)
            if matches!(
                e.downcast_ref::<xinlian_accel::AccelError>(),
                Some(xinlian_accel::AccelError::InUse { .. })
            ) =>
        {
            return Err(format!("card: {e:#}"));
        }
        Err(e) => {
            Listed { name: "card".to_string(), detail: path.display().to_string(), self_test: Err(format!("{e:#}")) }
        }
    })
}

/// Every OpenCL device, each started and self-tested (a program build on a cold cache takes a
/// moment: the binary cache makes the next start quick); a note when there is none.
fn opencl() -> Result<Vec<Listed>, String> {
    use xinlian_accel::backends::opencl;
    match opencl::devices() {
        Err(e) => Err(format!("opencl: {e}")),
        Ok(_) => Ok(opencl::list_devices()
            .into_iter()
            .map(|report| {
                let d = &report.info;
                let startup = report.startup.map_or(String::new(), |s| {
                    format!(", started in {:.2} s ({:?} program)", s.total_seconds, s.program)
                });
                Listed {
                    name: format!("opencl:{}", d.index),
                    detail: format!("{}{startup}", d.describe()),
                    self_test: report.self_test,
                }
            })
            .collect()),
    }
}

/// Each SDF library named, opened and self-tested, with its DEVICEINFO.
fn sdf(args: &Args) -> Vec<Listed> {
    use xinlian_accel::{SdfBackend, SdfConfig};
    args.sdf_lib
        .iter()
        .map(|path| {
            let name = format!("sdf:{}", path.display());
            match SdfBackend::open_untested(&SdfConfig::new(path)) {
                Ok(b) => {
                    let i = b.device_info();
                    let detail = format!(
                        "{} {} (serial {}), device version {:#x}, standard version {:#x}, {} sessions",
                        i.issuer,
                        i.name,
                        i.serial,
                        i.device_version,
                        i.standard_version,
                        b.sessions()
                    );
                    Listed { name, detail, self_test: b.self_test().map_err(|e| e.to_string()) }
                }
                Err(e) => Listed { name, detail: "did not open".into(), self_test: Err(e.to_string()) },
            }
        })
        .collect()
}

pub(crate) fn run(args: &Args) -> anyhow::Result<bool> {
    let opencl = opencl();
    let card = card(args);
    let mut listed = vec![cpu()];
    listed.extend(sdf(args));
    let mut notes = Vec::new();
    match opencl {
        Ok(devices) => listed.extend(devices),
        Err(note) => notes.push(note),
    }
    match card {
        Ok(card) => listed.push(card),
        Err(note) => notes.push(note),
    }
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
    for note in notes {
        println!("{note}");
    }
    Ok(all_pass)
}
