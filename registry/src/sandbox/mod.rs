//! Work that anyone's upload can make expensive — checking an archive, parsing templates and
//! policies, rendering a stack — runs in worker processes, never on the server's own threads.
//! Templates have no way to be interrupted and can spend unbounded memory without writing a byte,
//! so a budget the server can trust has to be enforced from outside: each job has a deadline,
//! after which its worker is killed, and a memory limit its worker's address space cannot pass
//! (an allocation beyond it ends the worker, not the server). At most `workers` jobs run at once;
//! a job that cannot get a worker within its wait is refused (503), not queued without end.
//! A job whose caller goes away (a client that disconnected) is stopped with it.
//!
//! Workers are this same binary started as `quarry sandbox-worker`, kept between jobs and
//! replaced when one is killed, fails or grows too large.

pub mod protocol;
pub mod worker;

use protocol::{Answer, Envelope, Job, Reply};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::{Semaphore, watch};

/// What one job may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time, from handing the job to a worker to its answer.
    pub time: Duration,
    /// Bytes of memory (address space) the job may take.
    pub memory: u64,
    /// How long the job may wait for a free worker before it is refused as busy.
    pub wait: Duration,
}

/// Why a job gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "the registry is busy: {workers} checks and renders are running, the most it runs at once; retry in a moment"
    )]
    Busy { workers: usize },
    #[error("{what} took longer than the limit of {} s", .limit.as_secs_f64())]
    TimedOut { what: &'static str, limit: Duration },
    #[error("{what} needed more memory than the limit of {} MiB", .limit >> 20)]
    OutOfMemory { what: &'static str, limit: u64 },
    #[error("{what} nests too deeply to process")]
    TooDeep { what: &'static str },
    #[error("the registry is shutting down; retry against another replica or in a moment")]
    ShuttingDown,
    #[error("a worker process failed: {0}")]
    Failed(String),
}

/// The last bytes a worker wrote to stderr: how it died, when it did.
type Tail = Arc<Mutex<Vec<u8>>>;

const TAIL_BYTES: usize = 4096;

/// One worker process and its pipes.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Tail,
    stderr_reader: tokio::task::JoinHandle<()>,
}

/// A pool of workers; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Sandbox {
    pool: Arc<Pool>,
}

struct Pool {
    program: PathBuf,
    workers: usize,
    permits: Semaphore,
    idle: Mutex<Vec<Worker>>,
    stopping: watch::Sender<bool>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("program", &self.pool.program)
            .field("workers", &self.pool.workers)
            .finish_non_exhaustive()
    }
}

/// The largest payload a worker may send back (a packed stack).
const MAX_ANSWER_PAYLOAD: u64 = 1 << 30;

fn failed(context: &str, error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Failed(format!("{context}: {error}"))
}

impl Sandbox {
    /// A pool of at most `workers` worker processes of `program`, started as they are needed.
    pub fn new(program: PathBuf, workers: usize) -> Self {
        let workers = workers.max(1);
        Self {
            pool: Arc::new(Pool {
                program,
                workers,
                permits: Semaphore::new(workers),
                idle: Mutex::new(Vec::new()),
                stopping: watch::Sender::new(false),
            }),
        }
    }

    fn spawn(&self) -> Result<Worker, SandboxError> {
        let mut child = tokio::process::Command::new(&self.pool.program)
            .arg("sandbox-worker")
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                failed(
                    &format!("cannot start {}", self.pool.program.display()),
                    error,
                )
            })?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Failed("a worker's pipes are missing".into()));
        };
        let tail: Tail = Arc::default();
        let keep = tail.clone();
        let stderr_reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buffer = [0u8; 1024];
            while let Ok(read) = stderr.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                let mut tail = keep.lock().unwrap_or_else(PoisonError::into_inner);
                tail.extend_from_slice(&buffer[..read]);
                let excess = tail.len().saturating_sub(TAIL_BYTES);
                tail.drain(..excess);
            }
        });
        Ok(Worker {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: tail,
            stderr_reader,
        })
    }

    /// Starts a worker and exchanges a ping with it: fails when the worker program cannot run.
    pub async fn check_starts(&self) -> Result<(), SandboxError> {
        let budget = Budget {
            time: Duration::from_secs(10),
            memory: 64 << 20,
            wait: Duration::from_secs(10),
        };
        match self
            .run("starting a worker", Job::Ping, &[], budget)
            .await?
        {
            (Reply::Pong, _) => Ok(()),
            (other, _) => Err(SandboxError::Failed(format!(
                "a worker answered a ping with {other:?}"
            ))),
        }
    }

    /// Runs `job` with `payload` in a worker under `budget`; `what` names the job in errors
    /// ("rendering the stack"). The answer's payload comes with the reply.
    pub async fn run(
        &self,
        what: &'static str,
        job: Job,
        payload: &[u8],
        budget: Budget,
    ) -> Result<(Reply, Vec<u8>), SandboxError> {
        let mut stopping = self.pool.stopping.subscribe();
        if *stopping.borrow() {
            return Err(SandboxError::ShuttingDown);
        }
        let permit = tokio::time::timeout(budget.wait, self.pool.permits.acquire())
            .await
            .map_err(|_| SandboxError::Busy {
                workers: self.pool.workers,
            })?
            .map_err(|_| SandboxError::ShuttingDown)?;
        let idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut worker = match idle {
            Some(worker) => worker,
            None => self.spawn()?,
        };
        let frame = protocol::encode(
            &Envelope {
                memory_limit: budget.memory,
                job,
            },
            payload,
        )
        .map_err(|error| failed("encoding the job", error))?;
        let exchange = async {
            worker.stdin.write_all(&frame).await?;
            worker.stdin.flush().await?;
            protocol::read_async::<Answer>(&mut worker.stdout, MAX_ANSWER_PAYLOAD).await
        };
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(budget.time, exchange) => outcome,
            _ = stopping.wait_for(|stopping| *stopping) => {
                return Err(SandboxError::ShuttingDown);
            }
        };
        let result = match outcome {
            Ok(Ok((answer, payload))) => {
                if !answer.retire && !*self.pool.stopping.borrow() {
                    self.pool
                        .idle
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(worker);
                }
                Ok((answer.reply, payload))
            }
            Ok(Err(_)) => Err(self.death(worker, what, budget).await),
            Err(_) => {
                // Dropping the worker kills it.
                Err(SandboxError::TimedOut {
                    what,
                    limit: budget.time,
                })
            }
        };
        drop(permit);
        result
    }

    /// Why a worker stopped answering: it ran out of memory, out of stack, or failed.
    async fn death(&self, mut worker: Worker, what: &'static str, budget: Budget) -> SandboxError {
        let status = tokio::time::timeout(Duration::from_secs(2), worker.child.wait()).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut worker.stderr_reader).await;
        let tail =
            String::from_utf8_lossy(&worker.stderr.lock().unwrap_or_else(PoisonError::into_inner))
                .into_owned();
        if tail.contains("memory allocation of") || tail.contains("capacity overflow") {
            return SandboxError::OutOfMemory {
                what,
                limit: budget.memory,
            };
        }
        if tail.contains("has overflowed its stack") {
            return SandboxError::TooDeep { what };
        }
        let status = match status {
            Ok(Ok(status)) => status.to_string(),
            _ => "still running".to_owned(),
        };
        tracing::error!(%status, stderr = %tail.trim(), "a sandbox worker failed");
        SandboxError::Failed(format!("the worker ended ({status})"))
    }

    /// Stops every worker, idle or busy: jobs in flight end with [`SandboxError::ShuttingDown`],
    /// and no new job starts.
    pub fn shutdown(&self) {
        self.pool.stopping.send_replace(true);
        self.pool.permits.close();
        self.pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
