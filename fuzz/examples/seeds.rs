//! Writes the seed inputs the fuzzers start from: a few valid inputs per target (signed
//! transactions and blocks, keys, DER signatures, config files, verify lines, SDF structs,
//! completions), so libFuzzer mutates real shapes instead of discovering magic bytes.
//!
//! `cargo run -p xinlian-fuzz --example seeds -- <dir>` writes `<dir>/<target>/seed-N`; the
//! corpus committed in `fuzz/corpus/` is what libFuzzer kept from these (fuzz/README.md).

use std::path::Path;

use xinlian_chain::builder;
use xinlian_chain::cert::{CommitCertificate, CommitSignature};
use xinlian_chain::json::TxJson;
use xinlian_chain::{Account, BlockHeader, Genesis, Payload, Receipt, Signer, Transaction, TxLocation};
use xinlian_hw_sim::abi::{Completion, CS_OK};
use xinlian_hw_sim::sdf_abi::FieldLayout;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: seeds <dir>");
    let dir = Path::new(&dir);
    let signer = Signer::new(&sm2::SecretKey::from_slice(&[7; 32]).expect("a valid secret")).expect("a key");
    let txs = transactions(&signer);
    let write = |target: &str, seeds: Vec<Vec<u8>>| {
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder).expect("a seed folder");
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(folder.join(format!("seed-{i}")), seed).expect("a seed file");
        }
    };
    write("tx_binary", txs.iter().map(Transaction::encode).collect());
    write("tx_json", tx_json(&txs));
    write("block_binary", blocks(&signer, &txs));
    write("store_records", store_records(&signer));
    let pk = signer.public_key();
    let compressed = xinlian_kernels::sm2::AffinePoint::from_sec1(pk).expect("a key").to_compressed();
    write("sec1", vec![pk.to_vec(), compressed.to_vec(), vec![0], vec![4; 65]]);
    write("signature", signatures(&txs));
    write("verify_line", verify_lines(&signer));
    write("accel_config", configs(ACCEL_CONFIGS));
    write("node_config", configs(&[xinlian_node_default(), "[rpc]\nlisten = \"0.0.0.0:1\"\n"]));
    write("card_completion", completions());
    let genesis = Genesis::single("xinlian-dev", 1_700_000_000_000, pk, &[(*pk, 1000)]);
    write("genesis", vec![genesis.to_toml().expect("TOML").into_bytes(), b"chain_id = \"x\"\n".to_vec()]);
    let pem = signer.to_pem().expect("PEM");
    write("key_pem", vec![pem.clone().into_bytes(), pem.replace("PRIVATE KEY", "EC PRIVATE KEY").into_bytes()]);
    write("sdf_structs", sdf_structs(pk));
    write("sm2_differential", sm2_cases(pk, &compressed));
}

fn transactions(signer: &Signer) -> Vec<Transaction> {
    let payloads = [
        Payload::Put { key: b"k".to_vec(), value: b"v".to_vec() },
        Payload::Put { key: vec![0xAB; 40], value: Vec::new() },
        Payload::Transfer { to: *signer.public_key(), amount: 5 },
    ];
    payloads
        .into_iter()
        .enumerate()
        .map(|(nonce, payload)| {
            let nonce = u64::try_from(nonce).expect("small");
            let mut tx = Transaction {
                chain_id: "xinlian-dev".into(),
                nonce,
                sender: *signer.public_key(),
                payload,
                signature: [0; 64],
            };
            tx.signature = signer.sign(&tx.signing_bytes());
            tx
        })
        .collect()
}

fn tx_json(txs: &[Transaction]) -> Vec<Vec<u8>> {
    let one = |tx: &Transaction| serde_json::to_vec(&TxJson::from_tx(tx)).expect("JSON");
    let all: Vec<TxJson> = txs.iter().map(TxJson::from_tx).collect();
    let mut seeds: Vec<Vec<u8>> = txs.iter().map(one).collect();
    seeds.push(serde_json::to_vec(&all).expect("JSON"));
    seeds.push(b"[{\"chain_id\": \"x\", \"nonce\": 1}, 7, null]".to_vec());
    seeds
}

fn blocks(signer: &Signer, txs: &[Transaction]) -> Vec<Vec<u8>> {
    let header = |count: usize, txs: &[Transaction]| BlockHeader {
        height: 3,
        prev_hash: [1; 32],
        tx_root: builder::tx_root(txs),
        state_root: [2; 32],
        timestamp_ms: 1_700_000_000_000,
        proposer: *signer.public_key(),
        tx_count: u32::try_from(count).expect("small"),
    };
    vec![
        builder::sign(header(0, &[]), signer, Vec::new()).encode(),
        builder::sign(header(txs.len(), txs), signer, txs.to_vec()).encode(),
    ]
}

fn store_records(signer: &Signer) -> Vec<Vec<u8>> {
    let tagged = |tag: u8, bytes: &[u8]| [&[tag], bytes].concat();
    let failed =
        TxLocation { height: 9, index: 2, receipt: Receipt { ok: false, error: Some("insufficient balance".into()) } };
    let cert = CommitCertificate {
        height: 9,
        round: 1,
        block_hash: [3; 32],
        signatures: vec![CommitSignature { validator: *signer.public_key(), signature: [5; 64] }],
    };
    vec![
        tagged(0, &Account { balance: 100, nonce: 2 }.encode()),
        tagged(1, &failed.encode()),
        tagged(1, &TxLocation { height: 1, index: 0, receipt: Receipt { ok: true, error: None } }.encode()),
        tagged(2, &cert.encode()),
        tagged(2, &CommitCertificate::solo(4, [6; 32]).encode()),
    ]
}

fn signatures(txs: &[Transaction]) -> Vec<Vec<u8>> {
    let sig = txs[0].signature;
    let der = sm2::dsa::Signature::from_slice(&sig).expect("a signature").to_der();
    vec![sig.to_vec(), der.as_bytes().to_vec(), vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]]
}

fn verify_lines(signer: &Signer) -> Vec<Vec<u8>> {
    let msg = b"hello";
    let sig = signer.sign(msg);
    let pk = hex::encode(signer.public_key());
    vec![
        format!(r#"{{"pubkey":"{pk}","msg":"{}","sig":"{}"}}"#, hex::encode(msg), hex::encode(sig)).into_bytes(),
        format!(r#"{{"pubkey":"{pk}","msg":"00","sig":"{}","id":"ALICE123@YAHOO.COM","tcId":1}}"#, hex::encode(sig))
            .into_bytes(),
        b"{\"pubkey\":\"04\",\"msg\":\"\",\"sig\":\"30\"}\r".to_vec(),
    ]
}

const ACCEL_CONFIGS: &[&str] = &[
    "",
    "backends = [\"cpu\"]\n",
    "backends = \"auto\"\nrecheck_valid_rate = 0.01\n",
    "backends = [\"cpu\", \"card\", \"sdf\", \"opencl\"]\n",
];

fn xinlian_node_default() -> &'static str {
    "[node]\nchain_id = \"xinlian-dev\"\n[block]\ninterval_ms = 500\nmax_txs = 100\n[accel]\nbackends = [\"cpu\"]\n"
}

fn configs(texts: &[&str]) -> Vec<Vec<u8>> {
    texts.iter().map(|t| t.as_bytes().to_vec()).collect()
}

fn completions() -> Vec<Vec<u8>> {
    let entry = |c: Completion, items: u32, out: &[u8]| {
        let mut bytes: Vec<u8> = c.to_words().iter().flat_map(|w| w.to_le_bytes()).collect();
        bytes.extend_from_slice(&items.to_le_bytes());
        bytes.extend_from_slice(&u16::try_from(out.len()).expect("short").to_le_bytes());
        bytes.extend_from_slice(out);
        bytes
    };
    let ok = Completion { tag: 7, status: CS_OK, items_done: 2, seq: 1, modelled_latency_ns: 900 };
    vec![entry(ok, 2, &[1, 0]), entry(Completion { status: 3, ..ok }, 2, &[]), entry(ok, 3, &[1, 1])]
}

fn sdf_structs(pk: &[u8; 65]) -> Vec<Vec<u8>> {
    let (x, y): ([u8; 32], [u8; 32]) = (pk[1..33].try_into().expect("x"), pk[33..].try_into().expect("y"));
    let key_bytes = |layout: FieldLayout| {
        let k = layout.public_key(&x, &y);
        [k.bits.to_le_bytes().as_slice(), &k.x, &k.y].concat()
    };
    let sig = FieldLayout::Bytes64.signature(&x, &y);
    let mut name = vec![0u8; 40];
    name.extend_from_slice(b"SoftSDF x8\0\0\0\0\0\0");
    vec![
        [&[0u8][..], &key_bytes(FieldLayout::Bytes64)].concat(),
        [&[1u8][..], &key_bytes(FieldLayout::Bytes32)].concat(),
        [&[2u8][..], &sig.r, &sig.s].concat(),
        [&[4u8][..], &name].concat(),
    ]
}

fn sm2_cases(pk: &[u8; 65], compressed: &[u8; 33]) -> Vec<Vec<u8>> {
    let mut cases: Vec<Vec<u8>> = (0u8..8).map(|m| vec![m, m, 5, 1, b'h', b'i']).collect();
    let rs = [0x11u8; 64];
    cases.push([&[0x40u8][..], pk, &rs, &[4], b"ABCD", b"msg"].concat());
    cases.push([&[0x41u8][..], compressed, &rs, &[0], b"msg"].concat());
    cases
}
