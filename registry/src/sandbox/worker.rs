//! The worker process (`quarry sandbox-worker`, started by the registry, never by hand): reads
//! jobs from stdin and answers on stdout, one at a time, each under the memory limit its job
//! names. It lowers its own priority, dies with the registry, never writes a core dump, and keeps
//! the blueprints it has loaded so that a render does not unpack the same archive again.

use super::protocol::{self, Answer, CheckedBlueprint, Envelope, Job, Refusal, RenderJob, Reply};
use quarry_core::blueprint::Blueprint;
use quarry_core::digest::Sha256;
use quarry_core::render::{self, RenderRequest};
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

/// A worker that has grown past this (resident) retires after its job; the next starts small.
const RETIRE_RESIDENT_BYTES: u64 = 192 << 20;

/// Bytes of blueprint files a worker keeps loaded at most.
const MAX_CACHED_BYTES: usize = 64 << 20;

/// The blueprints this worker has loaded, by archive digest.
#[derive(Default)]
struct Loaded {
    blueprints: HashMap<String, Arc<Blueprint>>,
    bytes: usize,
}

impl Loaded {
    fn insert(&mut self, digest: String, blueprint: Arc<Blueprint>) {
        let size: usize = blueprint.files.values().map(Vec::len).sum();
        if self.bytes + size > MAX_CACHED_BYTES {
            self.blueprints.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        self.blueprints.insert(digest, blueprint);
    }
}

/// Pages of this process: (address space, resident).
fn statm() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    let page = 4096;
    Some((fields.next()?.ok()? * page, fields.next()?.ok()? * page))
}

/// Limits the address space this process may grow by `bytes` from now (Linux), or lifts the
/// limit (`None`).
fn limit_memory(bytes: Option<u64>) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let maximum = getrlimit(Resource::As).maximum;
    let current = bytes.and_then(|bytes| {
        let (size, _) = statm()?;
        Some(size.saturating_add(bytes))
    });
    let current = match (current, maximum) {
        (Some(current), Some(maximum)) => Some(current.min(maximum)),
        (current, _) => current,
    };
    // A refused limit leaves the job unbounded in memory but still bounded in time.
    let _ = setrlimit(Resource::As, Rlimit { current, maximum });
}

/// Settles the process before the first job.
fn prepare() {
    use rustix::process::{
        Resource, Rlimit, Signal, nice, set_parent_process_death_signal, setrlimit,
    };
    // An aborted job (out of memory) must not write a core file the size of its heap.
    let _ = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    // Requests the registry answers itself come before the work of its workers.
    let _ = nice(10);
    // A worker never outlives the registry that started it.
    let _ = set_parent_process_death_signal(Some(Signal::KILL));
}

/// Runs the worker until its input ends; the process's exit code.
pub fn run() -> i32 {
    prepare();
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    let mut loaded = Loaded::default();
    loop {
        let frame = protocol::read_blocking::<Envelope>(&mut input, u64::MAX);
        let (envelope, payload) = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return 0,
            Err(error) => {
                eprintln!("sandbox worker: unreadable job: {error}");
                return 2;
            }
        };
        limit_memory(Some(envelope.memory_limit));
        let (reply, packed) = handle(envelope.job, &payload, &mut loaded);
        drop(payload);
        limit_memory(None);
        let retire = statm().is_some_and(|(_, resident)| resident > RETIRE_RESIDENT_BYTES);
        let frame = match protocol::encode(&Answer { reply, retire }, &packed) {
            Ok(frame) => frame,
            Err(error) => {
                eprintln!("sandbox worker: cannot encode the answer: {error}");
                return 2;
            }
        };
        if output
            .write_all(&frame)
            .and_then(|()| output.flush())
            .is_err()
        {
            return 0;
        }
        if retire {
            return 0;
        }
    }
}

fn handle(job: Job, payload: &[u8], loaded: &mut Loaded) -> (Reply, Vec<u8>) {
    match job {
        Job::Ping => (Reply::Pong, Vec::new()),
        Job::AnalyzeModule { limits } => {
            let analysed = quarry_core::archive::inspect_module(payload, &limits)
                .map_err(Refusal::Archive)
                .and_then(|inspected| {
                    quarry_core::module::analyze(&inspected.files)
                        .map(Box::new)
                        .map_err(Refusal::Analysis)
                });
            (Reply::Module(analysed), Vec::new())
        }
        Job::CheckBlueprint { limits } => {
            let checked = quarry_core::archive::read_files(payload, &limits)
                .map_err(Refusal::Archive)
                .and_then(|files| quarry_core::blueprint::check(files).map_err(Refusal::Blueprint))
                .map(|blueprint| {
                    Box::new(CheckedBlueprint {
                        namespace: blueprint.namespace.to_string(),
                        name: blueprint.name.to_string(),
                        readme: blueprint
                            .files
                            .get("README.md")
                            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                            .unwrap_or_default(),
                        manifest: blueprint.manifest,
                    })
                });
            (Reply::Blueprint(checked), Vec::new())
        }
        Job::CheckRelease {
            limits,
            name,
            version,
            mirrored,
        } => {
            let check = if mirrored {
                quarry_core::provider::check_mirrored
            } else {
                quarry_core::provider::check_release
            };
            let checked = quarry_core::archive::read_files(payload, &limits)
                .map_err(Refusal::Archive)
                .and_then(|files| {
                    check(&files, &name, &version, &limits)
                        .map(Box::new)
                        .map_err(Refusal::Release)
                });
            (Reply::Release(checked), Vec::new())
        }
        Job::Render(job) => render_job(job, payload, loaded),
    }
}

fn render_job(job: RenderJob, payload: &[u8], loaded: &mut Loaded) -> (Reply, Vec<u8>) {
    let blueprint = match loaded.blueprints.get(&job.digest) {
        Some(blueprint) => blueprint.clone(),
        None if payload.is_empty() => return (Reply::NeedArchive, Vec::new()),
        None => {
            if Sha256::of(payload).to_hex() != job.digest {
                return (
                    Reply::Unreadable("the archive sent does not match its digest".into()),
                    Vec::new(),
                );
            }
            let files = match quarry_core::archive::read_files(payload, &job.limits) {
                Ok(files) => files,
                Err(error) => return (Reply::Unreadable(error.to_string()), Vec::new()),
            };
            match quarry_core::blueprint::load(files) {
                Ok(blueprint) => {
                    let blueprint = Arc::new(blueprint);
                    loaded.insert(job.digest.clone(), blueprint.clone());
                    blueprint
                }
                Err(problem) => return (Reply::Unreadable(problem.to_string()), Vec::new()),
            }
        }
    };
    let rendered = render::render_resolved(
        RenderRequest {
            blueprint: &blueprint,
            version: &job.version,
            archive_sha256: &job.digest,
            constraint: None,
            registry_host: &job.registry_host,
            inputs: job.inputs,
            output_limit: job.output_limit,
        },
        &job.resolutions,
    );
    match rendered {
        Err(failure) => (Reply::RenderFailed(failure), Vec::new()),
        Ok(_) if !job.pack => (Reply::Rendered, Vec::new()),
        Ok(stack) => match quarry_core::archive::pack_files(&stack.files) {
            Ok(packed) => (Reply::Rendered, packed),
            Err(error) => (Reply::Unreadable(format!("packing: {error}")), Vec::new()),
        },
    }
}
