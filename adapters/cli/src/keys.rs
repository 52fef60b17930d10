//! `brokerctl keys`: generate, status, rotate.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use vault::{KeyId, KeyMaterial, Keyring, RecordBackend, Vault};

use crate::context::{Globals, Store, on_vault};
use crate::failure::{EXIT_INCOMPLETE, EXIT_KEY, EXIT_RUNTIME, Failure, Outcome};
use crate::output::{Progress, print_json};

/// `brokerctl keys …`
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Generate a fresh 256-bit key into a new keyring file (mode 600); refuses to overwrite.
    Generate {
        /// Id of the new key (e.g. `k1`).
        #[arg(long)]
        id: String,
    },
    /// Show the keyring's key ids (never the keys), primary first; with --count, how many
    /// stored ciphertexts each key seals.
    Status {
        /// Also count the store's ciphertexts per key (opens the store).
        #[arg(long)]
        count: bool,
    },
    /// Rotate to a new primary key: it is generated into the keyring file (atomically,
    /// older keys kept), then every stored ciphertext is re-sealed under it. Rerun without
    /// --id after an interruption to finish.
    Rotate {
        /// Id of the new primary key; omit it to finish an interrupted rotation.
        #[arg(long)]
        id: Option<String>,
        /// Rows re-sealed per batch.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Afterwards, drop every older key that no stored ciphertext needs any more.
        #[arg(long)]
        remove_old: bool,
    },
}

/// Runs a `keys` command.
pub async fn run(globals: &Globals, command: KeysCommand) -> Outcome {
    match command {
        KeysCommand::Generate { id } => generate(&id, keys_file(globals)?),
        KeysCommand::Status { count } => status(globals, count).await,
        KeysCommand::Rotate {
            id,
            batch,
            remove_old,
        } => rotate(globals, id.as_deref(), batch, remove_old).await,
    }
}

fn keys_file(globals: &Globals) -> Outcome<&Path> {
    globals.keys_file.as_deref().ok_or_else(|| {
        Failure::new(
            EXIT_KEY,
            "this command writes the keyring: give --keys-file or BROKER_KEYS_FILE",
        )
    })
}

fn key_id(id: &str) -> Outcome<KeyId> {
    KeyId::new(id).map_err(|error| Failure::new(EXIT_KEY, error.to_string()))
}

fn generate(id: &str, keys_file: &Path) -> Outcome {
    let id = key_id(id)?;
    let key = KeyMaterial::generate();
    let line = SecretString::from(format!(
        "{}:{}\n",
        id.as_str(),
        key.to_base64().expose_secret()
    ));
    // create_new: an existing keyring is never overwritten (that would lose its keys).
    write_private_file(keys_file, &line, true).map_err(|error| Failure {
        code: if error.kind() == std::io::ErrorKind::AlreadyExists {
            EXIT_KEY
        } else {
            EXIT_RUNTIME
        },
        message: format!("cannot create {}: {error}", keys_file.display()),
    })?;
    println!("generated key {} in {}", id.as_str(), keys_file.display());
    Ok(())
}

/// Writes `text` to a new file of mode 600 (from the first byte) and syncs it; removes it
/// again when the write fails, so no half-written keyring is left.
fn write_private_file(path: &Path, text: &SecretString, create_new: bool) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).mode(0o600);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(path)?;
    let written = file
        .write_all(text.expose_secret().as_bytes())
        .and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

/// Replaces the keyring file by `text` atomically: a private temporary file beside it,
/// synced, renamed over it, and the directory synced. Readers see the old or the new ring,
/// never a mix. `text` is parsed first, so a malformed ring is never written.
fn replace_keyring(path: &Path, text: &SecretString) -> Outcome {
    Keyring::parse(text)?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keys".into());
    let temporary = directory.join(format!(".{name}.brokerctl-{}", std::process::id()));
    let io = |error: std::io::Error| {
        Failure::runtime(format!("cannot replace {}: {error}", path.display()))
    };
    write_private_file(&temporary, text, false).map_err(io)?;
    if let Err(error) = fs::rename(&temporary, path) {
        let _ = fs::remove_file(&temporary);
        return Err(io(error));
    }
    fs::File::open(&directory)
        .and_then(|dir| dir.sync_all())
        .map_err(io)
}

/// The keyring file's entries (`kid:<base64>`), primary first.
fn entries(path: &Path) -> Outcome<Vec<SecretString>> {
    // Read through the vault first: it refuses an insecure or foreign file.
    Keyring::from_file(path)?;
    let text = SecretString::from(fs::read_to_string(path).map_err(|error| {
        Failure::new(EXIT_KEY, format!("cannot read {}: {error}", path.display()))
    })?);
    Ok(text
        .expose_secret()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(|entry| SecretString::from(entry.to_owned()))
        .collect())
}

fn joined(entries: &[SecretString]) -> SecretString {
    SecretString::from(
        entries
            .iter()
            .map(|entry| format!("{}\n", entry.expose_secret()))
            .collect::<String>(),
    )
}

fn entry_id(entry: &SecretString) -> &str {
    entry
        .expose_secret()
        .split_once(':')
        .map_or("", |(id, _)| id)
}

async fn status(globals: &Globals, count: bool) -> Outcome {
    let keyring = globals.keyring()?;
    let ids: Vec<&str> = keyring.key_ids().map(KeyId::as_str).collect();
    let counts = if count {
        let store = globals.open_store(keyring.clone()).await?;
        Some(on_vault!(&store, |vault| vault
            .backend()
            .ciphertexts_per_key()
            .await?))
    } else {
        None
    };
    if globals.json {
        let mut value =
            serde_json::json!({ "primary": keyring.primary_id().as_str(), "keys": ids });
        if let Some(counts) = &counts {
            value["ciphertexts"] = serde_json::json!(counts);
        }
        return print_json(&value);
    }
    println!("primary: {}", keyring.primary_id().as_str());
    for id in &ids {
        match &counts {
            Some(counts) => println!(
                "key: {id} ({} ciphertexts)",
                counts.get(*id).copied().unwrap_or(0)
            ),
            None => println!("key: {id}"),
        }
    }
    if let Some(counts) = &counts {
        for (id, sealed) in counts.iter().filter(|(id, _)| !ids.contains(&id.as_str())) {
            println!("missing key: {id} ({sealed} ciphertexts)");
        }
    }
    Ok(())
}

async fn rotate(globals: &Globals, id: Option<&str>, batch: usize, remove_old: bool) -> Outcome {
    let path = keys_file(globals)?;
    let keyring = Keyring::from_file(path)?;
    let store = globals.open_store(keyring.clone()).await?;
    let unreadable = match &store {
        Store::File(vault) => reseal(vault, path, id, batch, globals.json).await?,
        Store::Postgres(vault, _) => reseal(vault, path, id, batch, globals.json).await?,
    };
    if unreadable > 0 {
        return Err(Failure::new(
            EXIT_INCOMPLETE,
            format!(
                "{unreadable} row(s) do not open with any key of the ring and keep their key in use; repair or delete them, then run `keys rotate` again"
            ),
        ));
    }
    if remove_old {
        on_vault!(&store, |vault| remove_unused(vault, path).await)?;
    }
    Ok(())
}

/// Starts a rotation (with `id`) or finishes the one under way, showing progress; the number
/// of unreadable rows left.
async fn reseal<B: RecordBackend>(
    vault: &Vault<B>,
    path: &Path,
    id: Option<&str>,
    batch: usize,
    json: bool,
) -> Outcome<u64> {
    let primary = vault.keyring().primary_id().clone();
    let pending = vault.pending_reencryption().await?.older_keys;
    match id {
        Some(id) if pending > 0 && id != primary.as_str() => {
            return Err(Failure::new(
                EXIT_KEY,
                format!(
                    "the rotation to {} is unfinished ({pending} row(s) still to re-seal under it): run `brokerctl keys rotate` without --id to finish it first",
                    primary.as_str()
                ),
            ));
        }
        Some(id) if id != primary.as_str() => {
            let id = key_id(id)?;
            if vault.keyring().contains(&id) {
                return Err(Failure::new(
                    EXIT_KEY,
                    format!("key {} is already in the ring", id.as_str()),
                ));
            }
            let key = KeyMaterial::generate();
            let mut ring = entries(path)?;
            ring.insert(
                0,
                SecretString::from(format!(
                    "{}:{}",
                    id.as_str(),
                    key.to_base64().expose_secret()
                )),
            );
            // The file first: if the process stops now, the next run finds the new primary
            // and finishes the re-sealing.
            replace_keyring(path, &joined(&ring))?;
            vault.add_primary_key(id.clone(), &key)?;
            if !json {
                println!(
                    "new primary key {} written to {}",
                    id.as_str(),
                    path.display()
                );
            }
        }
        _ if pending > 0 && !json => {
            println!("finishing the rotation to {}", primary.as_str());
        }
        _ => {}
    }
    let primary = vault.keyring().primary_id().clone();
    let total = vault.pending_reencryption().await?.older_keys;
    let mut progress = Progress::new("re-sealed rows", total);
    let report = vault
        .rotate_with_progress(batch, |so_far| {
            progress.set(so_far.rows + so_far.unreadable);
        })
        .await?;
    progress.finish(report.rows + report.unreadable);
    if json {
        print_json(&serde_json::json!({
            "primary": primary.as_str(),
            "rows": report.rows,
            "ciphertexts": report.fields,
            "unreadable": report.unreadable,
            "conflicts": report.conflicts,
        }))?;
    } else {
        println!(
            "primary {}: re-sealed {} ciphertext(s) in {} row(s); {} unreadable",
            primary.as_str(),
            report.fields,
            report.rows,
            report.unreadable
        );
    }
    Ok(report.unreadable)
}

/// Drops every older key nothing needs from the vault and the keyring file.
async fn remove_unused<B: RecordBackend>(vault: &Vault<B>, path: &Path) -> Outcome {
    let keyring = vault.keyring();
    let older: Vec<KeyId> = keyring
        .key_ids()
        .filter(|id| *id != keyring.primary_id())
        .cloned()
        .collect();
    for id in older {
        // Refuses (KeyInUse, exit 6) while any ciphertext still needs the key.
        vault.remove_key(&id).await?;
        let ring: Vec<SecretString> = entries(path)?
            .into_iter()
            .filter(|entry| entry_id(entry) != id.as_str())
            .collect();
        replace_keyring(path, &joined(&ring))?;
        eprintln!("removed key {}", id.as_str());
    }
    Ok(())
}
