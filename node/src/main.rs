//! `xinlian`: the one binary. Thin: parse the command line, hand over to `cli`.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
