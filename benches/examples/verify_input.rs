//! Workloads for `xinlian verify`, and the efficient-sm2 baseline on the same signatures.
//!
//! ```text
//! cargo run --release -p xinlian-benches --example verify_input -- gen cold 20000 > cold.jsonl
//! cargo run --release -p xinlian-benches --example verify_input -- gen hot 20000 > hot.jsonl
//! cargo run --release -p xinlian-benches --example verify_input -- efficient cold.jsonl
//! ```
//!
//! `gen cold N`: N signatures, every one by a new key (RustCrypto `sm2`, default ID).
//! `gen hot N`: N signatures by 16 keys. `efficient FILE`: decodes every line first, then
//! times efficient-sm2's `verify_digest` loop alone (its fastest entry point, e precomputed)
//! and prints verifies/s on one thread. `scripts/bench-verify.sh` runs the comparison.

use std::io::{BufRead, BufReader, Write};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use sm2::dsa::signature::Signer;

fn secret(rng: &mut impl Rng) -> [u8; 32] {
    loop {
        let mut b = [0u8; 32];
        rng.fill(&mut b);
        b[0] &= 0x7F; // below n
        if b != [0; 32] {
            return b;
        }
    }
}

fn gen(kind: &str, count: usize) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let keys = match kind {
        "cold" => count,
        "hot" => 16,
        other => anyhow::bail!("unknown workload {other:?} (cold or hot)"),
    };
    let signers: Vec<sm2::dsa::SigningKey> = (0..keys.min(count).max(1))
        .map(|_| sm2::dsa::SigningKey::from_slice("1234567812345678", &secret(&mut rng)))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("key: {e}"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..count {
        let signer = &signers[i % signers.len()];
        let msg = format!("{{\"put\":\"key-{i}\",\"value\":\"{}\"}}", rng.gen::<u64>());
        let sig: sm2::dsa::Signature = signer.sign(msg.as_bytes());
        writeln!(
            out,
            r#"{{"pubkey":"{}","msg":"{}","sig":"{}"}}"#,
            hex::encode(signer.verifying_key().to_sec1_bytes()),
            hex::encode(msg),
            hex::encode(sig.to_der().as_bytes())
        )?;
    }
    Ok(())
}

fn efficient(path: &str) -> anyhow::Result<()> {
    let file = BufReader::new(std::fs::File::open(path)?);
    let mut work = Vec::new();
    for line in file.lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let field = |k: &str| -> anyhow::Result<Vec<u8>> {
            Ok(hex::decode(v[k].as_str().ok_or_else(|| anyhow::anyhow!("no {k}"))?)?)
        };
        let (pk, msg, sig) = (field("pubkey")?, field("msg")?, field("sig")?);
        let key = xinlian_kernels::sm2::AffinePoint::from_sec1(&pk)?;
        let z = xinlian_kernels::sm2::z_value(xinlian_kernels::sm2::DEFAULT_ID, &key)?;
        let e = xinlian_kernels::sm2::message_digest(&z, &msg);
        let sig = sm2::dsa::Signature::from_der(&sig).map_err(|e| anyhow::anyhow!("sig: {e}"))?;
        let r: [u8; 32] = sig.r_bytes().into();
        let s: [u8; 32] = sig.s_bytes().into();
        let pk = efficient_sm2::PublicKey::new(&pk[1..33], &pk[33..65]);
        work.push((pk, r, s, e));
    }
    let started = Instant::now();
    let mut ok = 0usize;
    for (pk, r, s, e) in &work {
        let sig = efficient_sm2::Signature::new(r, s).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if sig.verify_digest(pk, e).is_ok() {
            ok += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "efficient-sm2 verify_digest: {} signatures ({ok} valid) in {secs:.3} s = {:.0}/s (one thread)",
        work.len(),
        work.len() as f64 / secs
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["gen", kind, n] => gen(kind, n.parse()?),
        ["efficient", path] => efficient(path),
        _ => anyhow::bail!("usage: verify_input gen cold|hot N | verify_input efficient FILE"),
    }
}
