//! An acknowledged publish survives a power cut on the embedded default. Traced with `strace`
//! around one publish to the real binary: the archive's bytes are flushed (`fsync` of the
//! staging file), the file is renamed into place and its directory flushed, all before the
//! database commit that lists the version is flushed (`fsync`/`fdatasync` of SQLite's WAL), and
//! that before the `201` is written to the client.

use quarry_e2e::*;

/// One traced system call, at the position it returned.
#[derive(Debug)]
struct Call {
    name: String,
    /// The call's text: arguments (fds with their paths, from `-y`) and result.
    text: String,
}

/// The calls of an `strace -f` log in the order they returned: a call interrupted by another
/// thread's (`<unfinished ...>`) is placed where it resumed, with its arguments.
fn calls(log: &str) -> Vec<Call> {
    let mut pending = std::collections::HashMap::new();
    let mut calls = Vec::new();
    for line in log.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(started) = rest.strip_suffix("<unfinished ...>") {
            pending.insert(pid.to_owned(), started.to_owned());
            continue;
        }
        let text = match rest.strip_prefix("<... ") {
            Some(resumed) => {
                let result = resumed.split_once("resumed>").map_or("", |(_, tail)| tail);
                format!("{}{result}", pending.remove(pid).unwrap_or_default())
            }
            None => rest.to_owned(),
        };
        let Some((name, _)) = text.split_once('(') else {
            continue;
        };
        calls.push(Call {
            name: name.to_owned(),
            text,
        });
    }
    calls
}

fn position(calls: &[Call], what: &str, found: impl Fn(&Call) -> bool) -> usize {
    calls
        .iter()
        .position(found)
        .unwrap_or_else(|| panic!("no {what} in the trace"))
}

#[test]
fn a_publish_is_on_disk_before_it_is_acknowledged() {
    let trace_dir = tempfile::tempdir().expect("temp dir");
    let trace = trace_dir.path().join("trace");
    let trace_arg = trace.to_str().expect("utf-8 path");
    let quarry = Quarry::start_under(
        &[
            "strace",
            "-f",
            "-y",
            "-qq",
            "-s",
            "40",
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg",
            "-o",
            trace_arg,
        ],
        &[],
    )
    .expect("quarry starts under strace");
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    let greeting = quarry_core::archive::pack_dir(&fixture_module("greeting")).expect("pack");
    quarry
        .published(&token, "/v1/modules/acme/greeting/generic/1.0.0", greeting)
        .expect("published");
    drop(quarry);
    let log = std::fs::read_to_string(&trace).expect("the trace");
    let calls = calls(&log);

    let is_sync = |call: &Call| call.name == "fsync" || call.name == "fdatasync";
    let answered = position(&calls, "201 written to the client", |call| {
        call.text.contains("HTTP/1.1 201")
    });
    let renamed = position(&calls, "rename of the staged archive", |call| {
        call.name.starts_with("rename") && call.text.contains(".tar.gz#")
    });
    let staged = calls[..renamed]
        .iter()
        .rposition(|call| is_sync(call) && call.text.contains(".tar.gz#"))
        .expect("the staged archive is flushed before it is renamed");
    let directory = calls[renamed..answered]
        .iter()
        .position(|call| is_sync(call) && call.text.contains("/archives/sha256>"))
        .map(|at| renamed + at)
        .expect("the archive's directory is flushed after the rename, before the answer");
    let committed = calls[directory..answered]
        .iter()
        .rposition(|call| is_sync(call) && call.text.contains("quarry.db-wal>"))
        .map(|at| directory + at)
        .unwrap_or_else(|| {
            panic!(
                "the database's commit is flushed after the archive, before the answer; calls from the rename on:\n{}",
                calls[renamed..=answered]
                    .iter()
                    .map(|call| call.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
    assert!(
        staged < renamed && renamed < directory && directory < committed && committed < answered,
        "order: staged {staged}, renamed {renamed}, directory {directory}, committed {committed}, answered {answered}"
    );
}
