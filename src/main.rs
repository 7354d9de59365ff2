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
/// 123 KiB against 62 KiB at 9,000 streams (BENCHMARKS.md). The option is
/// read when the first arena is reserved, before `main`, so it is set from
/// `.preinit_array`, which runs ahead of every constructor, mimalloc's
/// included. As a default: `MIMALLOC_ARENA_EAGER_COMMIT` still wins.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".preinit_array"]
static LAZY_ARENAS: extern "C" fn() = lazy_arenas;

#[cfg(target_os = "linux")]
extern "C" fn lazy_arenas() {
    // `mi_option_arena_eager_commit` in mimalloc.h; the bindings do not
    // name it.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    // SAFETY: sets a plain value in mimalloc's option table; it allocates
    // nothing and needs no initialised allocator.
    unsafe { libmimalloc_sys::mi_option_set_default(ARENA_EAGER_COMMIT, 0) };
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
