//! `xinlian run`, `xinlian init`, `xinlian keygen`: running a node and making its files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use xinlian_chain::{Genesis, Signer};
use xinlian_node::config::{Config, DEFAULT_TOML};

/// `xinlian run` options.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The config file (TOML; see `xinlian init`). Without it: the embedded defaults.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The data directory (overrides node.data_dir).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// The HTTP API address (overrides rpc.listen), e.g. 127.0.0.1:8600; port 0 picks a free one.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
}

/// `xinlian init` options.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// The data directory to prepare.
    #[arg(long, value_name = "DIR", default_value = "xinlian-data")]
    pub(crate) data: PathBuf,
    /// Where to write the config (default: DIR/config.toml).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Make a network of N validators on this machine instead (with --out).
    #[arg(long, value_name = "N", requires = "out", conflicts_with_all = ["data", "config"])]
    pub(crate) validators: Option<usize>,
    /// The network's directory: genesis.toml and node-0 … node-(N-1).
    #[arg(long, value_name = "DIR", requires = "validators")]
    pub(crate) out: Option<PathBuf>,
    /// Node I serves HTTP on 127.0.0.1:(P+I).
    #[arg(long, value_name = "P", default_value_t = 8700)]
    pub(crate) base_port: u16,
    /// Node I listens for consensus peers on 127.0.0.1:(Q+I).
    #[arg(long, value_name = "Q", default_value_t = 27000)]
    pub(crate) consensus_port: u16,
}

/// `xinlian keygen` options.
#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the key (PKCS#8 PEM, readable by `openssl pkey`); never overwritten.
    #[arg(long, value_name = "FILE.pem")]
    pub(crate) out: PathBuf,
}

pub(crate) fn load_config(path: Option<&Path>, data: Option<&Path>, listen: Option<&str>) -> anyhow::Result<Config> {
    let mut config = match path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(d) = data {
        config.node.data_dir = d.to_path_buf();
    }
    if let Some(l) = listen {
        config.rpc.listen = l.to_string();
    }
    config.validate()?;
    Ok(config)
}

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_deref(), args.data.as_deref(), args.listen.as_deref())?;
    // Before any thread starts: each thread takes an arena on its first allocation.
    xinlian_node::memory::limit_allocator_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("xinlian")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(xinlian_node::server::run(config))?;
    Ok(())
}

pub(crate) fn init(args: &InitArgs) -> anyhow::Result<()> {
    if let (Some(validators), Some(out)) = (args.validators, &args.out) {
        return crate::net_init::init_network(&crate::net_init::NetPlan {
            validators,
            out,
            base_port: args.base_port,
            consensus_port: args.consensus_port,
        });
    }
    let config_path = args.config.clone().unwrap_or_else(|| args.data.join("config.toml"));
    if config_path.exists() {
        bail!("{} exists: not overwritten", config_path.display());
    }
    std::fs::create_dir_all(&args.data).with_context(|| format!("cannot create {}", args.data.display()))?;
    // The commented defaults, with this data directory.
    let data = args.data.display().to_string().replace('\\', "\\\\").replace('"', "\\\"");
    let text = DEFAULT_TOML.replacen("data_dir = \"xinlian-data\"", &format!("data_dir = \"{data}\""), 1);
    let config = Config::from_toml(&text).context("the default config does not parse (a bug)")?;
    std::fs::write(&config_path, text).with_context(|| format!("cannot write {}", config_path.display()))?;
    let key_path = config.key_path();
    let signer = if key_path.exists() {
        eprintln!("node key {} exists: kept", key_path.display());
        Signer::from_pem_file(&key_path)?
    } else {
        let s = Signer::generate()?;
        s.write_pem_file(&key_path)?;
        s
    };
    let genesis_path = config.genesis_path();
    if genesis_path.exists() {
        eprintln!("genesis {} exists: kept", genesis_path.display());
    } else {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        let accounts = [(*signer.public_key(), config.genesis.node_balance)];
        let genesis = Genesis::single(&config.node.chain_id, now_ms, signer.public_key(), &accounts);
        std::fs::write(&genesis_path, genesis.to_toml()?)
            .with_context(|| format!("cannot write {}", genesis_path.display()))?;
    }
    eprintln!(
        "wrote {}, node key {} and genesis {}",
        config_path.display(),
        key_path.display(),
        genesis_path.display()
    );
    eprintln!("start the node with: xinlian run --config {}", config_path.display());
    println!("{}", hex::encode(signer.public_key()));
    Ok(())
}

pub(crate) fn keygen(args: &KeygenArgs) -> anyhow::Result<()> {
    let signer = Signer::generate()?;
    signer.write_pem_file(&args.out)?;
    eprintln!("wrote {} (PKCS#8 PEM; `openssl pkey -in {} -text` shows it)", args.out.display(), args.out.display());
    println!("{}", hex::encode(signer.public_key()));
    Ok(())
}
