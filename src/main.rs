//! The `strait` command: `strait -c FILE` runs the gateway, `strait check -c
//! FILE` validates a config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// glibc malloc showed as a tenth of the CPU per proxied request and
/// fragments under many long streams; mimalloc measured faster and smaller
/// (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc commits whole arenas up front on Linux (`arena_eager_commit`),
/// and every open stream then cost twice the resident memory it uses:
/// 123 KiB against 62 KiB at 9,000 streams (BENCHMARKS.md). Committed
/// lazily, memory freed is by default handed back to the OS and faulted in
/// again on reuse, which cost 7 % more CPU per request; it is kept instead
/// (`purge_delay` -1), so RSS stays at its high-water mark, as it did with
/// eager commit. The options are read when the first arena is reserved,
/// before `main`, so they are set from `.preinit_array`, which runs ahead
/// of every constructor, mimalloc's included. As defaults:
/// `MIMALLOC_ARENA_EAGER_COMMIT` and `MIMALLOC_PURGE_DELAY` still win.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".preinit_array"]
static MIMALLOC_OPTIONS: extern "C" fn() = mimalloc_options;

#[cfg(target_os = "linux")]
extern "C" fn mimalloc_options() {
    // `mi_option_arena_eager_commit` and `mi_option_purge_delay` in
    // mimalloc.h; the bindings do not name them.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets plain values in mimalloc's option table; allocates
    // nothing and needs no initialised allocator.
    unsafe {
        libmimalloc_sys::mi_option_set_default(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set_default(PURGE_DELAY, -1);
    }
}
use strait::Mode;

#[derive(Parser)]
#[command(
    name = "strait",
    version,
    about = "Passthrough gateway for LLM provider APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The YAML config file.
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        default_value = "/etc/strait/strait.yaml"
    )]
    config: PathBuf,
    /// Run in the background (Pingora daemon mode; needs server.pid_file).
    #[arg(short, long)]
    daemon: bool,
    /// Take over the listening sockets of a running strait (binary upgrade).
    #[arg(short, long)]
    upgrade: bool,
    /// Validate the config and exit, like `strait check`.
    #[arg(short, long)]
    test: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Run,
    /// Validate the config: exit 0, or print every error and exit 1.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    strait::init_logging();

    if cli.test || matches!(cli.command, Some(Command::Check)) {
        return check(&cli.config);
    }
    let loaded = match strait::load(&cli.config, Mode::Run) {
        Ok(l) => l,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            return ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        log::warn!("{w}");
    }
    let opts = strait::Options {
        daemon: cli.daemon,
        upgrade: cli.upgrade,
        config: cli.config.clone(),
    };
    match strait::run(loaded, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match strait::load(path, Mode::Check) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
