//! `mcp-oauth`: the MCP authorization flow from the command line, on the blocking adapter.
//!
//! - `mcp-oauth demo` shows the whole flow working on this machine against an authorization
//!   server and an MCP server embedded in the binary (the project's testbed), with no server
//!   of the user's own.
//! - `login`, `token`, `status`, `logout` and `call` do the same against real MCP servers and
//!   hand tokens to scripts, like `gh auth token` or `gcloud auth print-access-token`.
//!
//! It lives in its own crate so library users do not pay for clap. Stdout carries data only
//! (tokens, JSON); progress goes to stderr, and only on a terminal. Exit codes are in
//! [`exit`] and `mcp-oauth --help`.
// Doc comments on the clap types are `--help` text, where `<https://...>` would show literally.
#![allow(rustdoc::bare_urls)]

mod args;
mod call;
mod cimd;
mod commands;
mod demo;
mod exit;
mod headless;
mod setup;
mod status;
mod term;
mod ui;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};
use commands::Ctx;
use exit::CliError;
use ui::Ui;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(usage_error(&e)),
    };
    std::process::exit(run(cli));
}

/// Prints a parse error. `--help` and `--version` exit 0; every other error exits 2 (clap's
/// convention) and ends with the usage line of the subcommand concerned, which clap leaves
/// out for invalid values.
fn usage_error(e: &clap::Error) -> i32 {
    let _ = e.print();
    if !e.use_stderr() {
        return exit::OK;
    }
    let rendered = e.render().to_string();
    if !rendered.contains("Usage:") {
        let mut command = Cli::command();
        command.build();
        let named = std::env::args().skip(1).find_map(|arg| {
            command
                .get_subcommands()
                .find(|s| s.get_name() == arg)
                .map(|s| s.clone().render_usage().to_string())
        });
        let usage = named.unwrap_or_else(|| command.render_usage().to_string());
        eprintln!("\n{usage}");
    }
    exit::USAGE
}

/// Dispatches and turns a failure into its exit code and one stderr line.
fn run(cli: Cli) -> i32 {
    let ui = Ui::new(cli.global.verbose);
    let outcome = match &cli.command {
        Command::HeadlessBrowser { url } => return headless::run(url),
        Command::Demo(args) => return demo::run(args, &ui, cli.global.json),
        Command::ClientMetadata(args) => cimd::run(args),
        command => setup::open_store(&cli.global, &ui).and_then(|store| {
            ui.verbose(&format!("store: {}", store.describe()));
            let ctx = Ctx {
                ui,
                store,
                json: cli.global.json,
                allow_private_network: cli.global.allow_private_network,
                timeout: std::time::Duration::from_secs(cli.global.timeout),
            };
            dispatch(command, &ctx)
        }),
    };
    match outcome {
        Ok(()) => exit::OK,
        Err(CliError { code, message }) => {
            eprintln!("mcp-oauth: {}", term::field(&message));
            if code == exit::USAGE {
                eprintln!("For more information, try '--help'.");
            }
            code
        }
    }
}

fn dispatch(command: &Command, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        Command::Login(args) => commands::login(args, ctx),
        Command::Token(args) => commands::token(args, ctx),
        Command::Status(args) => status::run(args, &ctx.store, ctx.json, commands::now_wall()),
        Command::Logout(args) => commands::logout(args, ctx),
        Command::Call(args) => call::run(args, ctx),
        // Handled before the store is opened.
        Command::Demo(_) | Command::ClientMetadata(_) | Command::HeadlessBrowser { .. } => Ok(()),
    }
}
