//! `xinlian card serve`: the simulated crypto card in its own process, and opening a card for
//! `--backend card`.
//!
//! Owns: the command-line face of `xinlian-hw-sim` (which BAR, profile, pacing, faults, seed),
//! waiting for Ctrl-C (or SIGTERM) and shutting the card down cleanly (status HALTED, BAR file
//! removed). Never: card behaviour (that is `hw-sim`) or driving a card (that is
//! `xinlian-accel`'s card backend).

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::Context;
use xinlian_accel::CardBackend;
use xinlian_hw_sim::{BarLocation, Card, CardConfig, FaultConfig, Pacing, Profile, DEFAULT_BAR_PATH, DEFAULT_PROFILE};

/// `xinlian card serve`: run a simulated crypto card until Ctrl-C.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The BAR file to create and serve (removed on exit).
    #[arg(long, default_value = DEFAULT_BAR_PATH)]
    pub(crate) bar: PathBuf,
    /// A built-in profile (pcie-2019, fpga-1m) or a profile TOML file.
    #[arg(long, default_value = DEFAULT_PROFILE)]
    pub(crate) profile: String,
    /// realtime: completions not before their modelled time; fast: as soon as computed
    /// (modelled time still reported in the card's counters).
    #[arg(long, default_value = "realtime")]
    pub(crate) pacing: Pacing,
    /// Fault injection, rates in [0, 1]: corrupt=R,drop=R,hang=R,reset=R,status=R,backdoor=R (any subset).
    #[arg(long, default_value = "none")]
    pub(crate) faults: FaultConfig,
    /// Seed of the fault generator.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
}

/// Run the card until Ctrl-C or SIGTERM, then shut it down and print its counters to stderr.
pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let profile = Profile::by_name_or_file(&args.profile)?;
    let config = CardConfig {
        bar: BarLocation::Path(args.bar.clone()),
        profile: profile.clone(),
        pacing: args.pacing,
        faults: args.faults,
        seed: args.seed,
    };
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        // A second signal while shutting down finds the receiver gone: nothing to do.
        let _ = stop_tx.send(());
    })
    .context("cannot install the Ctrl-C handler")?;
    let card = Card::spawn(config).with_context(|| format!("cannot serve a card at {}", args.bar.display()))?;
    eprintln!(
        "card serving {} (profile {}: {}; pacing {}; faults {}; seed {}). Ctrl-C to stop.",
        card.path().display(),
        profile.name,
        profile.description,
        args.pacing,
        if args.faults.is_none() { "none".to_string() } else { args.faults.to_string() },
        args.seed
    );
    // Err: the handler's sender is gone, which only happens at process exit.
    let _ = stop_rx.recv();
    let c = card.counters();
    card.shutdown();
    eprintln!(
        "card stopped: {} descriptors, {} items, {} resets, {} faults injected, modelled time {:.3} s",
        c.descriptors,
        c.items,
        c.resets,
        c.faults,
        c.modelled_ns as f64 / 1e9
    );
    Ok(())
}

/// Open the card at `path` (default [`DEFAULT_BAR_PATH`]) for `--backend card --card PATH`
/// and `xinlian devices`, with an error that says what to run when no card is there.
pub(crate) fn open_backend(path: Option<&Path>) -> anyhow::Result<CardBackend> {
    let path = path.unwrap_or(Path::new(DEFAULT_BAR_PATH));
    CardBackend::open(path).map_err(|e| match e {
        // The card is there and driven by someone else: the hint below would mislead.
        e @ xinlian_accel::AccelError::InUse { .. } => anyhow::Error::new(e),
        other => anyhow::Error::new(other).context(format!(
            "no usable card at {} (start one with `xinlian card serve --bar {}`)",
            path.display(),
            path.display()
        )),
    })
}

/// `xinlian card sdf-keys` options.
#[derive(Debug, clap::Args)]
pub(crate) struct SdfKeysArgs {
    /// The key file to write (mode 0600; never overwritten). Name it as `keystore` in the soft
    /// card's `xinlian-sdf-sim.toml`, or in $XINLIAN_SDF_SIM_KEYSTORE.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// How many keys, at indexes 1..=N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    count: u32,
    /// A file holding the keys' access password (its first line). Never given on the command
    /// line, where other users could read it.
    #[arg(long, value_name = "FILE")]
    password_file: PathBuf,
}

pub(crate) fn sdf_keys(args: &SdfKeysArgs) -> anyhow::Result<()> {
    let password = xinlian_node::card_key::read_password_file(&args.password_file)?;
    let keys: Vec<xinlian_sdf_sim::NewKey<'_>> =
        (1..=args.count).map(|index| xinlian_sdf_sim::NewKey { index, password: &password, secret: None }).collect();
    let made = xinlian_sdf_sim::create_keystore(&args.out, &keys)
        .with_context(|| format!("cannot make the key file {}", args.out.display()))?;
    eprintln!("wrote {} keys to {}", made.len(), args.out.display());
    for k in made {
        println!("{} {}", k.index, hex::encode(k.public_key));
    }
    Ok(())
}
