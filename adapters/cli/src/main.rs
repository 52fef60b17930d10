//! `brokerctl`: the operator's command line for the broker toolkit.
//!
//! Implemented so far: `keys generate` and `keys status`. Key material never appears in
//! arguments or on the terminal; it is written to (and read from) a keyring file that only its
//! owner may read, in the vault's `kid:<base64>` format (primary first).
//!
//! ```text
//! brokerctl keys generate --id k1 --keys-file /etc/broker/keys
//! brokerctl keys status --keys-file /etc/broker/keys --json
//! ```
//!
//! Exit codes: 0 success, 1 runtime failure (I/O), 2 usage error (from clap),
//! 3 key error (unreadable, insecure or malformed keyring, or a file that already exists).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use vault::{KeyId, KeyMaterial, Keyring};

/// Exit code for I/O and other runtime failures.
const EXIT_RUNTIME: u8 = 1;
/// Exit code for a key or keyring problem.
const EXIT_KEY: u8 = 3;

#[derive(Parser)]
#[command(
    name = "brokerctl",
    version,
    about = "Operate the broker toolkit's vault"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the vault's encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a fresh 256-bit key into a new keyring file (mode 600); refuses to overwrite.
    Generate {
        /// Id of the new key (e.g. `k1`).
        #[arg(long)]
        id: String,
        /// Where to write the keyring.
        #[arg(long, env = "BROKER_KEYS_FILE")]
        keys_file: PathBuf,
    },
    /// Show the keyring's key ids (never the keys), primary first.
    Status {
        /// The keyring file to read.
        #[arg(long, env = "BROKER_KEYS_FILE")]
        keys_file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A failure with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("brokerctl: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Keys(KeysCommand::Generate { id, keys_file }) => generate(&id, &keys_file),
        Command::Keys(KeysCommand::Status { keys_file, json }) => status(&keys_file, json),
    }
}

fn generate(id: &str, keys_file: &Path) -> Result<(), Failure> {
    let id = KeyId::new(id).map_err(|error| Failure {
        code: EXIT_KEY,
        message: error.to_string(),
    })?;
    let key = KeyMaterial::generate();
    // create_new: an existing keyring is never overwritten (that would lose its keys); mode 600
    // from the first byte so the key is never readable by others.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(keys_file)
        .map_err(|error| Failure {
            code: if error.kind() == std::io::ErrorKind::AlreadyExists {
                EXIT_KEY
            } else {
                EXIT_RUNTIME
            },
            message: format!("cannot create {}: {error}", keys_file.display()),
        })?;
    let line = format!("{}:{}\n", id.as_str(), key.to_base64().expose_secret());
    if let Err(error) = file
        .write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
    {
        // No half-written keyring left behind.
        let _ = fs::remove_file(keys_file);
        return Err(Failure {
            code: EXIT_RUNTIME,
            message: format!("cannot write {}: {error}", keys_file.display()),
        });
    }
    println!("generated key {} in {}", id.as_str(), keys_file.display());
    Ok(())
}

fn status(keys_file: &Path, json: bool) -> Result<(), Failure> {
    let keyring = Keyring::from_file(keys_file).map_err(|error| Failure {
        code: EXIT_KEY,
        message: error.to_string(),
    })?;
    let ids: Vec<&str> = keyring.key_ids().map(KeyId::as_str).collect();
    if json {
        let value = serde_json::json!({ "primary": keyring.primary_id().as_str(), "keys": ids });
        println!("{value}");
    } else {
        println!("primary: {}", keyring.primary_id().as_str());
        for id in ids {
            println!("key: {id}");
        }
    }
    Ok(())
}
