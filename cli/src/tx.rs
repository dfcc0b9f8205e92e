//! `xinlian tx put|transfer` (sign with a PEM key and submit) and `xinlian query ...`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Subcommand;
use rand::Rng as _;
use serde_json::Value;
use xinlian_chain::json::TxJson;
use xinlian_chain::types::canonical_key;
use xinlian_chain::Signer;
use xinlian_chain::{Payload, Transaction};

use super::client::{Client, RpcArgs};

/// `xinlian tx ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TxCommand {
    /// Write a record: sign a Put transaction and submit it. Prints the tx id as the last line.
    Put(PutArgs),
    /// Move balance: sign a Transfer transaction and submit it. Prints the tx id as the last line.
    Transfer(TransferArgs),
}

/// Options every `tx` command shares.
#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The signer's key: PKCS#8 PEM (`openssl genpkey -algorithm SM2`, `xinlian keygen`).
    #[arg(long, value_name = "FILE.pem")]
    pub(crate) signer: PathBuf,
    #[command(flatten)]
    pub(crate) rpc: RpcArgs,
    /// The chain id (default: the node's, from GET /status).
    #[arg(long, value_name = "ID")]
    pub(crate) chain_id: Option<String>,
    /// The nonce (default: random below 2^53). Any number not used before with the same content.
    #[arg(long)]
    pub(crate) nonce: Option<u64>,
    /// Wait until the transaction is committed (or rejected), and print its block.
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 30)]
    pub(crate) timeout: u64,
    /// Print the signed transaction's JSON instead of submitting it.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `xinlian tx put`.
#[derive(Debug, clap::Args)]
pub(crate) struct PutArgs {
    /// The record's key (UTF-8 text; with --hex, hex bytes).
    #[arg(long)]
    pub(crate) key: String,
    /// The record's value (UTF-8 text; with --hex, hex bytes).
    #[arg(long)]
    pub(crate) value: String,
    /// Read --key and --value as hex.
    #[arg(long)]
    pub(crate) hex: bool,
    #[command(flatten)]
    pub(crate) sign: SignArgs,
}

/// `xinlian tx transfer`.
#[derive(Debug, clap::Args)]
pub(crate) struct TransferArgs {
    /// The receiver's public key (SEC1 hex, 65 or 33 bytes).
    #[arg(long, value_name = "PUBKEY")]
    pub(crate) to: String,
    /// How much.
    #[arg(long)]
    pub(crate) amount: u64,
    #[command(flatten)]
    pub(crate) sign: SignArgs,
}

/// Sign a transaction with `signer`.
pub(crate) fn sign_tx(signer: &Signer, chain_id: &str, nonce: u64, payload: Payload) -> Transaction {
    let mut tx = Transaction {
        chain_id: chain_id.to_string(),
        nonce,
        sender: *signer.public_key(),
        payload,
        signature: [0; 64],
    };
    tx.signature = signer.sign(&tx.signing_bytes());
    tx
}

pub(crate) fn run(cmd: &TxCommand) -> anyhow::Result<()> {
    let (args, payload) = match cmd {
        TxCommand::Put(a) => {
            let (key, value) = if a.hex {
                (hex::decode(&a.key).context("--key: not hex")?, hex::decode(&a.value).context("--value: not hex")?)
            } else {
                (a.key.clone().into_bytes(), a.value.clone().into_bytes())
            };
            (&a.sign, Payload::Put { key, value })
        }
        TxCommand::Transfer(a) => {
            let to = canonical_key(&hex::decode(&a.to).context("--to: not hex")?, "--to")?;
            (&a.sign, Payload::Transfer { to, amount: a.amount })
        }
    };
    let signer = Signer::from_pem_file(&args.signer)?;
    let client = Client::new(&args.rpc.rpc);
    let chain_id = match &args.chain_id {
        Some(c) => c.clone(),
        None => client.chain_id()?,
    };
    let nonce = args.nonce.unwrap_or_else(|| rand::thread_rng().gen_range(0..1u64 << 53));
    let tx = sign_tx(&signer, &chain_id, nonce, payload);
    let json = TxJson::from_tx(&tx);
    // Check what we send the same way the node will (sizes, chain id).
    json.to_tx()?;
    let id = hex::encode(tx.id());
    let body = serde_json::to_string(&json)?;
    if args.dry_run {
        println!("{body}");
        println!("{id}");
        return Ok(());
    }
    let answer = client.post_json("/tx", &body)?;
    if answer.status != 202 {
        bail!("the node refused the transaction (HTTP {}): {}", answer.status, answer.error_text());
    }
    eprintln!("submitted: pending");
    if args.wait {
        wait_committed(&client, &id, Duration::from_secs(args.timeout))?;
    }
    println!("{id}");
    Ok(())
}

/// Poll `GET /tx/{id}` until it is committed or rejected.
pub(crate) fn wait_committed(client: &Client, id: &str, timeout: Duration) -> anyhow::Result<Value> {
    let start = Instant::now();
    loop {
        let a = client.get(&format!("/tx/{id}"))?;
        let status = a.body.get("status").and_then(Value::as_str).unwrap_or("");
        match (a.status, status) {
            (200, "committed") => {
                let height = a.body.get("height").and_then(Value::as_u64).unwrap_or(0);
                let receipt = a.body.get("receipt").cloned().unwrap_or(Value::Null);
                if receipt.get("ok").and_then(Value::as_bool) == Some(false) {
                    let why = receipt.get("error").and_then(Value::as_str).unwrap_or("no reason given");
                    bail!("committed in block {height}, but it failed: {why}");
                }
                eprintln!("committed in block {height}");
                return Ok(a.body);
            }
            (200, "rejected") => {
                bail!("rejected: {}", a.body.get("reason").and_then(Value::as_str).unwrap_or("no reason given"))
            }
            (200, _) | (404, _) => {}
            (code, _) => bail!("GET /tx/{id}: HTTP {code}: {}", a.error_text()),
        }
        if start.elapsed() > timeout {
            bail!("not committed after {} s (still {status:?})", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `xinlian query ...`: print what the node answers, as JSON.
#[derive(Debug, Subcommand)]
pub(crate) enum QueryCommand {
    /// A transaction's status: pending, committed (block, receipt) or rejected (reason).
    Tx {
        /// The tx id (64 hex digits).
        id: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A block, by height or `latest`.
    Block {
        /// A height, or `latest`.
        which: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// A record written by `tx put`.
    State {
        /// The key (UTF-8 text; with --hex, hex bytes).
        key: String,
        /// The key is hex.
        #[arg(long)]
        hex: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// An account's balance and nonce.
    Account {
        /// SEC1 public key, hex.
        pubkey: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Height, mempool, accel backends.
    Status {
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

/// Percent-encode a path segment (every byte but unreserved ones).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn query(cmd: &QueryCommand) -> anyhow::Result<()> {
    let (rpc, path) = match cmd {
        QueryCommand::Tx { id, rpc } => (rpc, format!("/tx/{}", encode_segment(id))),
        QueryCommand::Block { which, rpc } => (rpc, format!("/block/{}", encode_segment(which))),
        QueryCommand::State { key, hex, rpc } => {
            (rpc, format!("/state/{}{}", encode_segment(key), if *hex { "?encoding=hex" } else { "" }))
        }
        QueryCommand::Account { pubkey, rpc } => (rpc, format!("/account/{}", encode_segment(pubkey))),
        QueryCommand::Status { rpc } => (rpc, "/status".to_string()),
    };
    let answer = Client::new(&rpc.rpc).get(&path)?;
    if answer.status != 200 {
        bail!("HTTP {}: {}", answer.status, answer.error_text());
    }
    println!("{}", serde_json::to_string_pretty(&answer.body)?);
    Ok(())
}
