//! The conformance suite: every backend built must give the CPU reference's answers.
//! Today only the cpu backend exists; the OpenCL and card issues add theirs to `backends()`.

use xinlian_accel::{Backend, CpuBackend};

fn backends() -> Vec<Box<dyn Backend>> {
    vec![Box::new(CpuBackend::new(1)), Box::new(CpuBackend::new(2))]
}

#[test]
fn self_test_passes_on_every_backend() {
    for b in backends() {
        b.self_test().unwrap_or_else(|e| panic!("{}: {e}", b.info().name));
    }
}
