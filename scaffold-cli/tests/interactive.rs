//! `scaffold new` on a real pseudo-terminal: a pattern that fails and then passes, a select, a
//! hidden secret, and a question asked only because of an earlier answer (if/then).

use quarry_e2e::{Quarry, REGISTRY_HOST, fixture_module};
use rexpect::session::spawn_command;

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";
const BACKSPACE: &str = "\x7f";

/// Sends keys at once (the session's writer is line-buffered and raw-mode keys end in `\r`).
fn keys(session: &mut rexpect::session::PtySession, text: &str) {
    session.send(text).expect("send keys");
    session.flush().expect("flush keys");
}

/// Lets a prompt finish drawing and switch the terminal to raw mode before keys arrive.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(400));
}

/// A registry with the greeting module and the greeter blueprint 1.0.0, and a publish token.
fn with_greeter() -> (Quarry, String) {
    let quarry = Quarry::start(&[]).expect("quarry starts");
    let token = quarry.token("ci", &["publish:fixtures"]).expect("token");
    assert_eq!(
        quarry
            .publish_dir(
                &token,
                "fixtures/greeting/generic",
                "1.2.0",
                &fixture_module("greeting")
            )
            .expect("publish"),
        201
    );
    quarry
        .publish_fixture_blueprint(&token, "greeter", "1.0.0")
        .expect("publish blueprint");
    (quarry, token)
}

#[test]
fn prompts_follow_the_schema_on_a_terminal() {
    let home = tempfile::tempdir().expect("home");
    let (quarry, _) = with_greeter();

    let out = home.path().join("stack");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scaffold"));
    command
        .args(["new", "fixtures/greeter", "-o"])
        .arg(&out)
        .env("HOME", home.path())
        .env("SCAFFOLD_CACHE_DIR", home.path().join("cache"))
        .env("SCAFFOLD_REGISTRY", &quarry.url)
        .env("SCAFFOLD_SOURCE_HOST", REGISTRY_HOST)
        .env("TERM", "xterm-256color")
        .env_remove("CI");
    let mut session = spawn_command(command, Some(20_000)).expect("spawns on a pty");

    // A pattern: `ada` is refused as typed, `Ada` accepted.
    session.exp_string("Who").expect("asks who");
    settle();
    keys(&mut session, &format!("ada{ENTER}"));
    session
        .exp_string("^[A-Z][a-z]+$")
        .expect("names the pattern it broke");
    settle();
    keys(
        &mut session,
        &format!("{BACKSPACE}{BACKSPACE}{BACKSPACE}Ada{ENTER}"),
    );

    // An enum as a select: move down to `prod`.
    session
        .exp_string("Environment")
        .expect("asks the environment");
    session.exp_string("prod").expect("offers prod");
    settle();
    keys(&mut session, &format!("{DOWN}{ENTER}"));

    // A secret: typed without echo.
    session.exp_string("API key").expect("asks the secret");
    settle();
    keys(&mut session, &format!("terminal-secret-9876{ENTER}"));

    // Asked only because environment is prod (if/then).
    let before = session
        .exp_string("Approvers")
        .expect("asks approvers for prod");
    assert!(
        !before.contains("terminal-secret-9876"),
        "the secret was echoed: {before}"
    );
    settle();
    keys(&mut session, &format!("ana, bo{ENTER}"));

    let rest = session.exp_eof().expect("finishes");
    assert!(
        !rest.contains("terminal-secret-9876"),
        "the secret was echoed: {rest}"
    );
    let answers: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(".scaffold/answers.json")).expect("stack written"),
    )
    .expect("json");
    assert_eq!(answers["inputs"]["who"], "Ada");
    assert_eq!(answers["inputs"]["environment"], "prod");
    assert_eq!(
        answers["inputs"]["approvers"],
        serde_json::json!(["ana", "bo"])
    );
    assert!(answers["inputs"].get("api_key").is_none());
}

/// `scaffold update` on a terminal asks for the input the new version requires, and never for
/// the secret (the update does not need it).
#[test]
fn update_asks_for_a_new_required_input_and_not_for_the_secret() {
    let home = tempfile::tempdir().expect("home");
    let (quarry, token) = with_greeter();
    let scaffold = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_scaffold"));
        command
            .env("HOME", home.path())
            .env("SCAFFOLD_CACHE_DIR", home.path().join("cache"))
            .env("SCAFFOLD_REGISTRY", &quarry.url)
            .env("SCAFFOLD_SOURCE_HOST", REGISTRY_HOST)
            .env("TF_TOKEN_registry_test", &token)
            .env("TERM", "xterm-256color")
            .env_remove("CI");
        command
    };
    let stack = home.path().join("stack");
    let made = scaffold()
        .args(["new", "fixtures/greeter", "--non-interactive"])
        .args(["--set", "who=Ada", "--set", "environment=dev"])
        .args(["--set", "api_key=never-on-disk-42", "-o"])
        .arg(&stack)
        .output()
        .expect("runs");
    assert!(made.status.success(), "{made:?}");

    // Version 1.1.0 requires a team.
    let source = home.path().join("greeter-1.1.0");
    let fixture = quarry_e2e::repo_root().join("tests/fixtures/blueprints/greeter");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(&fixture)
        .arg(&source)
        .status()
        .expect("cp");
    assert!(copied.success());
    let manifest = source.join("blueprint.yaml");
    let text = std::fs::read_to_string(&manifest).expect("read");
    let text = text
        .replace(
            "required: [who, environment, api_key]",
            "required: [who, environment, api_key, team]",
        )
        .replace(
            "  properties:\n    who:",
            "  properties:\n    team:\n      type: string\n      title: Owning team\n      pattern: \"^[a-z]+$\"\n    who:",
        );
    std::fs::write(&manifest, text).expect("write");
    let published = scaffold()
        .args(["publish", "blueprint"])
        .arg(&source)
        .args(["--version", "1.1.0"])
        .output()
        .expect("runs");
    assert!(published.status.success(), "{published:?}");

    let mut command = scaffold();
    command.arg("update").arg(&stack);
    let mut session = spawn_command(command, Some(20_000)).expect("spawns on a pty");
    let asked = session
        .exp_string("Owning team")
        .expect("asks the new input");
    assert!(!asked.contains("API key"), "asked for the secret: {asked}");
    settle();
    keys(&mut session, &format!("platform{ENTER}"));
    let rest = session.exp_eof().expect("finishes");
    assert!(!rest.contains("API key"), "asked for the secret: {rest}");
    assert!(rest.contains("updated") && rest.contains("1.1.0"), "{rest}");
    let answers: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(stack.join(".scaffold/answers.json")).expect("answers"),
    )
    .expect("json");
    assert_eq!(answers["inputs"]["team"], "platform");
    assert_eq!(answers["blueprint"]["version"], "1.1.0");
}
