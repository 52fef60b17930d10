//! Secrets in: from a no-echo prompt, standard input or a file, never from arguments.
//!
//! Input is `name=value`, one a line (blank lines and `#` comments skipped), or one JSON
//! object of strings. Values never appear in messages.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use secrecy::SecretString;

use crate::failure::{Failure, Outcome};

/// Where a command's secrets come from (default: a prompt on the terminal, without echo).
#[derive(Debug, Clone, clap::Args)]
pub struct SecretSource {
    /// Read the secrets from standard input (`name=value` lines, or a JSON object).
    #[arg(long, conflicts_with = "secrets_file")]
    pub secrets_stdin: bool,
    /// Read the secrets from this file (same format; keep it private).
    #[arg(long)]
    pub secrets_file: Option<PathBuf>,
}

/// Named secrets read from a [`SecretSource`].
pub struct Secrets(BTreeMap<String, SecretString>);

impl SecretSource {
    /// Reads exactly the secrets `names`: every one must be given and no other.
    ///
    /// # Errors
    /// A usage failure naming a missing, unknown or repeated name, or input that is not in
    /// the format; a runtime failure when the input cannot be read.
    pub fn read(&self, names: &[&str]) -> Outcome<Secrets> {
        let given = if self.secrets_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| {
                    Failure::runtime(format!("cannot read standard input: {error}"))
                })?;
            parse(&text)?
        } else if let Some(path) = &self.secrets_file {
            let text = std::fs::read_to_string(path).map_err(|error| {
                Failure::runtime(format!("cannot read {}: {error}", path.display()))
            })?;
            parse(&text)?
        } else {
            return prompt(names);
        };
        if let Some(unknown) = given.keys().find(|name| !names.contains(&name.as_str())) {
            return Err(Failure::usage(format!(
                "unknown secret {unknown:?}: expected {}",
                names.join(", ")
            )));
        }
        if let Some(missing) = names.iter().find(|name| !given.contains_key(**name)) {
            return Err(Failure::usage(format!(
                "secret {missing:?} is missing: expected {}",
                names.join(", ")
            )));
        }
        Ok(Secrets(given))
    }
}

impl Secrets {
    /// The secret `name` (one of the names read).
    pub fn take(&mut self, name: &str) -> SecretString {
        self.0
            .remove(name)
            .unwrap_or_else(|| SecretString::from(String::new()))
    }
}

/// Asks for each secret on the terminal without echo.
fn prompt(names: &[&str]) -> Outcome<Secrets> {
    let mut secrets = BTreeMap::new();
    for name in names {
        let value = rpassword::prompt_password(format!("{name}: ")).map_err(|error| {
            Failure::usage(format!(
                "cannot prompt for {name} ({error}): use --secrets-stdin or --secrets-file"
            ))
        })?;
        secrets.insert((*name).to_owned(), SecretString::from(value));
    }
    Ok(Secrets(secrets))
}

/// Parses `name=value` lines or a JSON object of strings.
fn parse(text: &str) -> Outcome<BTreeMap<String, SecretString>> {
    let mut secrets = BTreeMap::new();
    if text.trim_start().starts_with('{') {
        let object: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|error| {
                // serde_json's message names a position, never the text.
                Failure::usage(format!("secrets are not a JSON object of strings: {error}"))
            })?;
        for (name, value) in object {
            let serde_json::Value::String(value) = value else {
                return Err(Failure::usage(format!("secret {name:?} is not a string")));
            };
            secrets.insert(name, SecretString::from(value));
        }
        return Ok(secrets);
    }
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(Failure::usage(format!(
                "secrets line {} is not name=value",
                number + 1
            )));
        };
        let name = name.trim().to_owned();
        if secrets
            .insert(name.clone(), SecretString::from(value.trim().to_owned()))
            .is_some()
        {
            return Err(Failure::usage(format!("secret {name:?} is given twice")));
        }
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn lines_and_json_give_the_same_secrets() {
        let lines = parse("# comment\napi_key = k1\n\napi_secret=s=1\n").unwrap();
        let json = parse(r#"{"api_key": "k1", "api_secret": "s=1"}"#).unwrap();
        for secrets in [lines, json] {
            assert_eq!(secrets["api_key"].expose_secret(), "k1");
            assert_eq!(secrets["api_secret"].expose_secret(), "s=1");
        }
    }

    #[test]
    fn malformed_input_is_refused_without_echoing_it() {
        let error = parse("api_key hunter2").err().unwrap();
        assert!(!error.message.contains("hunter2"), "{}", error.message);
        assert!(parse("a=1\na=2").is_err());
        let error = parse(r#"{"api_key": 7}"#).err().unwrap();
        assert!(error.message.contains("not a string"));
    }
}
