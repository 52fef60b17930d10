//! The journal in an append-only file: one JSON record per line, fsync'd before a write is
//! acknowledged.
//!
//! Writes are group-committed: one writer task appends every record waiting for it, then
//! calls `fsync` once for all of them (on a blocking thread), so ten thousand concurrent
//! `submitting` records cost a handful of syncs, not ten thousand. A record is acknowledged
//! only after its sync, so a torn last line (a crash mid-write) was never acknowledged and is
//! dropped when the file is opened.
//!
//! The writer is a task of the Tokio runtime of the first write (not a thread of its own):
//! handing a record to it and acknowledging it are task wake-ups inside the runtime, with no
//! thread woken per record.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, mpsc, oneshot};
use uuid::Uuid;

use crate::journal::{Execution, Journal, JournalError, Run};
use crate::slots::Slot;

/// One line of the file, as read.
#[derive(Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Line {
    Run(Run),
    Execution(Execution),
}

/// One line of the file, as written (the same form as [`Line`], borrowed).
#[derive(Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Record<'a> {
    Run(&'a Run),
    Execution(&'a Execution),
}

/// A record waiting for the writer, and whom to tell once it is durable.
struct Pending {
    line: Vec<u8>,
    done: oneshot::Sender<Result<(), String>>,
}

#[derive(Default)]
struct State {
    runs: HashMap<(NaiveDate, Slot), Run>,
    executions: HashMap<Uuid, BTreeMap<String, Execution>>,
}

/// The journal in an append-only, fsync'd file (see the module docs). One process per file.
#[derive(Clone)]
pub struct FileJournal {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    /// The file, until the writer task takes it at the first write.
    file: Arc<Mutex<Option<File>>>,
    writer: Arc<OnceCell<mpsc::UnboundedSender<Pending>>>,
    /// Serialises run creation so that one (date, slot) gets one run.
    run_gate: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for FileJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileJournal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileJournal {
    /// Opens (or creates) the journal at `path` and reads what it holds.
    ///
    /// # Errors
    /// [`JournalError::Io`], or [`JournalError::Corrupt`] for a line that cannot be read
    /// (other than a torn last line, which is dropped).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path = path.as_ref().to_owned();
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        if !text.is_empty() && !text.ends_with('\n') {
            // A torn write of a record that was never acknowledged: drop it, so the next
            // record starts on a line of its own.
            let keep = text.rfind('\n').map_or(0, |end| end + 1);
            text.truncate(keep);
            file.set_len(keep as u64)?;
            file.sync_all()?;
        }
        if !existed {
            sync_parent(&path)?;
        }
        let mut state = State::default();
        for (number, line) in text.lines().enumerate() {
            let record: Line = serde_json::from_str(line).map_err(|error| {
                JournalError::Corrupt(format!("{} line {}: {error}", path.display(), number + 1))
            })?;
            match record {
                Line::Run(run) => {
                    state.runs.insert((run.trading_date, run.slot), run);
                }
                Line::Execution(execution) => {
                    state
                        .executions
                        .entry(execution.run_id)
                        .or_default()
                        .insert(execution.intent_id.clone(), execution);
                }
            }
        }
        Ok(Self {
            path,
            state: Arc::new(Mutex::new(state)),
            file: Arc::new(Mutex::new(Some(file))),
            writer: Arc::new(OnceCell::new()),
            run_gate: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn append(&self, record: Record<'_>) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(&record)
            .map_err(|error| JournalError::Corrupt(format!("cannot encode a record: {error}")))?;
        line.push(b'\n');
        let writer = self
            .writer
            .get_or_try_init(|| async {
                let file = self
                    .file
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .ok_or(JournalError::WriterStopped)?;
                let (writer, pending) = mpsc::unbounded_channel();
                tokio::spawn(write_batches(file, pending));
                Ok::<_, JournalError>(writer)
            })
            .await?;
        let (done, durable) = oneshot::channel();
        writer
            .send(Pending { line, done })
            .map_err(|_| JournalError::WriterStopped)?;
        durable
            .await
            .map_err(|_| JournalError::WriterStopped)?
            .map_err(|message| JournalError::Io(std::io::Error::other(message)))
    }
}

/// The writer task: appends every waiting record, syncs once (on a blocking thread),
/// acknowledges them all. Stops at the first failure, since a failed append may leave a
/// partial line behind.
async fn write_batches(file: File, mut pending: mpsc::UnboundedReceiver<Pending>) {
    let file = Arc::new(file);
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = pending.try_recv() {
            batch.push(next);
        }
        let mut bytes = Vec::with_capacity(batch.iter().map(|p| p.line.len()).sum());
        for record in &batch {
            bytes.extend_from_slice(&record.line);
        }
        let file = Arc::clone(&file);
        let outcome = tokio::task::spawn_blocking(move || {
            (&*file).write_all(&bytes).and_then(|()| file.sync_data())
        })
        .await
        .map_err(|error| error.to_string())
        .and_then(|written| written.map_err(|error| error.to_string()));
        let failed = outcome.is_err();
        for record in batch {
            // The caller may have gone (its run was cancelled); the record is durable anyway.
            let _ = record.done.send(outcome.clone());
        }
        if failed {
            return;
        }
    }
}

/// Makes a new file's directory entry durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

#[async_trait]
impl Journal for FileJournal {
    async fn open_run(&self, trading_date: NaiveDate, slot: Slot) -> Result<Run, JournalError> {
        let _gate = self.run_gate.lock().await;
        if let Some(run) = self.lock().runs.get(&(trading_date, slot)) {
            return Ok(run.clone());
        }
        let run = Run {
            id: Uuid::new_v4(),
            trading_date,
            slot,
            created_at: Utc::now(),
        };
        self.append(Record::Run(&run)).await?;
        self.lock().runs.insert((trading_date, slot), run.clone());
        Ok(run)
    }

    async fn executions(&self, run: &Run) -> Result<Vec<Execution>, JournalError> {
        Ok(self
            .lock()
            .executions
            .get(&run.id)
            .map(|executions| executions.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn record(&self, execution: &Execution) -> Result<(), JournalError> {
        self.append(Record::Execution(execution)).await?;
        self.lock()
            .executions
            .entry(execution.run_id)
            .or_default()
            .insert(execution.intent_id.clone(), execution.clone());
        Ok(())
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<Run>, JournalError> {
        let mut runs: Vec<Run> = self.lock().runs.values().cloned().collect();
        runs.sort_by_key(|run| std::cmp::Reverse((run.trading_date, run.slot)));
        runs.truncate(limit);
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use vault::{AccountId, UserId};

    use super::*;
    use crate::journal::ExecutionState;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    #[tokio::test]
    async fn runs_and_executions_survive_a_reopen_and_the_latest_state_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let journal = FileJournal::open(&path).unwrap();
        let run = journal.open_run(date(), Slot::DEFAULT).await.unwrap();
        assert_eq!(journal.open_run(date(), Slot::DEFAULT).await.unwrap(), run);
        let execution = Execution::new(&run, "i1", UserId::new_random(), AccountId::new_random());
        journal.record(&execution).await.unwrap();
        let placed = execution.moved_to(ExecutionState::Placed, None, None);
        journal.record(&placed).await.unwrap();
        drop(journal);

        let reopened = FileJournal::open(&path).unwrap();
        assert_eq!(reopened.open_run(date(), Slot::DEFAULT).await.unwrap(), run);
        assert_eq!(reopened.executions(&run).await.unwrap(), vec![placed]);
        assert_eq!(reopened.recent_runs(10).await.unwrap(), vec![run.clone()]);
        let other = reopened
            .open_run(date(), Slot::at(9, 20).unwrap())
            .await
            .unwrap();
        assert_ne!(other.id, run.id);
        assert!(reopened.executions(&other).await.unwrap().is_empty());
        let tomorrow = reopened
            .open_run(date().succ_opt().unwrap(), Slot::at(9, 20).unwrap())
            .await
            .unwrap();
        assert_eq!(
            reopened.recent_runs(10).await.unwrap(),
            vec![tomorrow.clone(), run, other],
            "newest date first, then the later slot"
        );
        assert_eq!(reopened.recent_runs(1).await.unwrap(), vec![tomorrow]);
    }

    #[tokio::test]
    async fn a_torn_last_line_is_dropped_and_a_corrupt_line_is_loud() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let journal = FileJournal::open(&path).unwrap();
        let run = journal.open_run(date(), Slot::DEFAULT).await.unwrap();
        drop(journal);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"record\":\"execution\",\"run_").unwrap();
        drop(file);

        let reopened = FileJournal::open(&path).unwrap();
        assert_eq!(reopened.open_run(date(), Slot::DEFAULT).await.unwrap(), run);
        let execution = Execution::new(&run, "i1", UserId::new_random(), AccountId::new_random());
        reopened.record(&execution).await.unwrap();
        drop(reopened);
        assert_eq!(
            FileJournal::open(&path)
                .unwrap()
                .executions(&run)
                .await
                .unwrap(),
            vec![execution]
        );

        std::fs::write(&path, "not json\n").unwrap();
        assert!(matches!(
            FileJournal::open(&path),
            Err(JournalError::Corrupt(message)) if message.contains("line 1")
        ));
    }

    #[tokio::test]
    async fn concurrent_records_are_all_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let journal = FileJournal::open(&path).unwrap();
        let run = journal.open_run(date(), Slot::DEFAULT).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..200 {
            let journal = journal.clone();
            let execution = Execution::new(
                &run,
                &format!("i{index}"),
                UserId::new_random(),
                AccountId::new_random(),
            );
            tasks.spawn(async move { journal.record(&execution).await });
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap().unwrap();
        }
        drop(journal);
        let reopened = FileJournal::open(&path).unwrap();
        assert_eq!(reopened.executions(&run).await.unwrap().len(), 200);
    }
}
