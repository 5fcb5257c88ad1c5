//! The acceptance path: modules published over HTTP to the built `quarry`, fetched by the real
//! `terraform init`, with public reads and with token reads.

use quarry_e2e::*;

const VERSIONS: [&str; 5] = ["1.0.0", "1.1.0", "1.2.0", "1.3.0-beta.1", "2.0.0"];

const MAIN_TF: &str = r#"
module "greeting" {
  source  = "registry.test/acme/greeting/generic"
  version = "~> 1.1"
  name    = "World"
}

module "shout" {
  source  = "registry.test/acme/greeting/generic//modules/shout"
  version = "~> 1.1"
  text    = "quarry"
}

output "message" {
  value = module.greeting.message
}
"#;

fn publish_all_versions(quarry: &Quarry, token: &str) {
    for version in VERSIONS {
        let status = quarry
            .publish_dir(
                token,
                "acme/greeting/generic",
                version,
                &fixture_module("greeting"),
            )
            .expect("publish request");
        assert_eq!(status, 201, "publishing {version}");
    }
}

fn assert_installed_1_2_0(terraform: &Terraform) {
    let mut modules = terraform.installed_modules().expect("modules.json");
    modules.sort();
    let greeting = modules
        .iter()
        .find(|(key, _, _)| key == "greeting")
        .expect("greeting installed");
    assert_eq!(
        greeting.1, "1.2.0",
        "~> 1.1 picks the newest 1.x, never the prerelease"
    );
    let shout = modules
        .iter()
        .find(|(key, _, _)| key == "shout")
        .expect("shout installed");
    assert_eq!(shout.1, "1.2.0");
    assert!(
        shout.2.ends_with("modules/shout"),
        "the //subdir selects the submodule: {}",
        shout.2
    );
    let work = terraform.work_dir();
    for file in [
        format!("{}/main.tf", greeting.2),
        format!("{}/variables.tf", greeting.2),
        format!("{}/README.md", greeting.2),
        format!("{}/main.tf", shout.2),
    ] {
        assert!(work.join(&file).exists(), "{file} arrived");
    }
}

#[test]
fn terraform_init_installs_published_modules_with_public_reads() {
    let quarry = Quarry::start(&[]).expect("quarry starts");
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    publish_all_versions(&quarry, &token);

    let terraform = Terraform::new(&quarry.url, MAIN_TF).expect("terraform dir");
    let output = terraform.init().expect("terraform init");
    assert!(
        output.contains("Downloading registry.test/acme/greeting/generic 1.2.0"),
        "{output}"
    );
    assert_installed_1_2_0(&terraform);

    let plan = terraform
        .succeeds(&["plan", "-input=false", "-no-color"])
        .expect("terraform plan");
    assert!(plan.contains("Hello, World!"), "{plan}");

    // Over a real socket, HEAD and GET of the archive give its true length.
    let client = reqwest::blocking::Client::new();
    let download = client
        .get(format!(
            "{}/v1/modules/acme/greeting/generic/1.2.0/download",
            quarry.url
        ))
        .send()
        .expect("download");
    assert_eq!(download.status(), 204);
    let location = download.headers()["x-terraform-get"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let archive_url = format!("{}{location}", quarry.url);
    let head = client.head(&archive_url).send().expect("head");
    let body = client
        .get(&archive_url)
        .send()
        .expect("get")
        .bytes()
        .expect("body");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        body.len().to_string().as_str()
    );
}

#[test]
fn terraform_init_with_token_reads_sends_the_token_and_follows_signed_urls() {
    let quarry = Quarry::start(&["--read-access", "token", "--access-log"]).expect("quarry starts");
    let publisher = quarry.token("ci", &["publish:acme"]).expect("token");
    let reader = quarry.token("developer", &["read"]).expect("token");
    publish_all_versions(&quarry, &publisher);

    let anonymous = reqwest::blocking::get(format!(
        "{}/v1/modules/acme/greeting/generic/versions",
        quarry.url
    ))
    .expect("request");
    assert_eq!(anonymous.status(), 401);

    let without_token = Terraform::new(&quarry.url, MAIN_TF).expect("terraform dir");
    let init = without_token
        .run(&["init", "-input=false", "-no-color"])
        .expect("terraform runs");
    assert!(
        !init.status.success(),
        "init without a token must fail:\n{}",
        text(&init)
    );
    assert!(text(&init).contains("401"), "{}", text(&init));

    let terraform = Terraform::new(&quarry.url, MAIN_TF)
        .expect("terraform dir")
        .with_token(&reader);
    let init = terraform
        .run(&["init", "-input=false", "-no-color"])
        .expect("terraform runs");
    assert!(
        init.status.success(),
        "terraform init with a token failed:\n{}",
        text(&init)
    );
    assert_installed_1_2_0(&terraform);

    // The token never reaches the log.
    let logs = quarry.drain_logs().join("\n");
    assert!(
        !logs.contains(&reader) && !logs.contains(&publisher),
        "a token was logged"
    );
}

#[test]
fn serve_with_import_serves_the_example_modules() {
    let examples = repo_root().join("blueprints");
    let quarry = Quarry::start(&["--import", examples.to_str().expect("utf-8 path")])
        .expect("quarry starts");
    let listing: serde_json::Value =
        reqwest::blocking::get(format!("{}/v1/modules?limit=100", quarry.url))
            .expect("request")
            .json()
            .expect("json");
    let ids = quarry_core::test_support::texts(&listing["modules"], "id");
    assert_eq!(
        ids,
        [
            "platform/database/aws/1.0.0",
            "platform/network/aws/1.2.0",
            "platform/scheduled-job/aws/0.3.0",
            "platform/service/aws/2.0.1",
            "platform/static-site/aws/1.1.0",
        ]
    );
}

#[test]
fn an_import_whose_files_changed_but_not_its_version_is_warned_about_loudly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let module = dir.path().join("network");
    let source = repo_root().join("blueprints/modules/network");
    std::fs::create_dir_all(&module).expect("mkdir");
    for entry in std::fs::read_dir(&source).expect("read the example") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), module.join(entry.file_name())).expect("copy");
        }
    }
    let import = ["--import", dir.path().to_str().expect("utf-8 path")];
    let quarry = Quarry::start(&import).expect("quarry starts");
    assert!(
        !quarry
            .drain_logs()
            .iter()
            .any(|line| line.contains("WARNING")),
        "nothing changed yet"
    );
    let main = module.join("main.tf");
    let text = std::fs::read_to_string(&main).expect("main.tf");
    std::fs::write(&main, text + "\n# changed without a new version\n").expect("edit");
    let quarry = quarry.crash_and_restart(&import).expect("restarts");
    let logs = quarry.drain_logs().join("\n");
    assert!(
        logs.contains("WARNING: 1 module or blueprint under")
            && logs.contains("platform/network/aws/1.2.0")
            && logs.contains("Change the version"),
        "{logs}"
    );
}
