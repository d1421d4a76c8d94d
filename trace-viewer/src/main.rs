//! The `trace-viewer` binary: parses the command line and hands it to
//! [`trace_viewer::cli::run`], which does everything else.

use std::process::ExitCode;

use clap::Parser;
use trace_viewer::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = cli::run(
        cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
