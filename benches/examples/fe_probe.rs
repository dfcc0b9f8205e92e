//! Counts for profiling tools: 1,000,000 dependent field multiplications (or squarings).
//! `valgrind --tool=callgrind target/release/examples/fe_probe mul` gives instructions per op.
use std::hint::black_box;
use xinlian_kernels::sm2::field::Fe;
fn main() {
    let op = std::env::args().nth(1).unwrap_or_else(|| "mul".into());
    let a = Fe::from_bytes(&[7u8; 32]).expect("below p");
    let mut x = black_box(a);
    for _ in 0..1_000_000 {
        x = if op == "mul" { x.mul(&a) } else { x.square() };
    }
    println!("{:?}", black_box(x));
}
