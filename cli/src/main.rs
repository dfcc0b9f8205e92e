//! `xinlian`: the one binary. Thin: parse the command line, hand over to the `xinlian` library.

use std::process::ExitCode;

fn main() -> ExitCode {
    xinlian::main()
}
