//! How the real binary runs as a process: `quarry serve` starts itself again with glibc's
//! allocator limited to one arena per core (the memory an idle server holds after loading its
//! listing), in the same process, with the same arguments, unless the operator chose a limit.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use quarry_e2e::*;

/// What `/proc/PID/FILE` holds, split at its NULs (`environ`, `cmdline`).
fn proc_list(pid: u32, file: &str) -> Vec<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/{file}")).expect("read /proc");
    bytes
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

fn arena_settings(pid: u32) -> Vec<String> {
    proc_list(pid, "environ")
        .into_iter()
        .filter(|entry| entry.starts_with("MALLOC_ARENA_MAX="))
        .collect()
}

#[test]
fn the_server_runs_with_one_allocator_arena_per_core_unless_the_operator_chose_a_limit() {
    let quarry = Quarry::start_with_env(&[], &[("MALLOC_ARENA_MAX", None)]).expect("quarry starts");
    // The process the test started is the one serving, started again with the setting…
    let cores = std::thread::available_parallelism().expect("cores");
    assert_eq!(
        arena_settings(quarry.pid()),
        [format!("MALLOC_ARENA_MAX={cores}")]
    );
    // …and with the arguments it was given.
    let arguments = proc_list(quarry.pid(), "cmdline");
    assert!(arguments[0].ends_with("quarry"), "{arguments:?}");
    assert!(
        arguments.ends_with(&["serve".into(), "--listen".into(), "127.0.0.1:0".into()]),
        "{arguments:?}"
    );
    let answer = reqwest::blocking::get(format!("{}/v1/modules", quarry.url)).expect("GET");
    assert_eq!(answer.status().as_u16(), 200);

    let chosen =
        Quarry::start_with_env(&[], &[("MALLOC_ARENA_MAX", Some("7"))]).expect("quarry starts");
    assert_eq!(arena_settings(chosen.pid()), ["MALLOC_ARENA_MAX=7"]);
}
