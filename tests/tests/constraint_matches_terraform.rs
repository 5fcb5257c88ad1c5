//! `core::constraint` picks the version the real `terraform init` picks, for every operator and
//! both `~>` forms, with prereleases in the list.

use quarry_core::constraint::Constraint;
use quarry_core::version::Version;
use quarry_e2e::*;

const PUBLISHED: [&str; 8] = quarry_core::test_support::VERSIONS;

const CONSTRAINTS: [&str; 13] = [
    "~> 1.1",
    "~> 1.2.0",
    "~> 1",
    ">= 1.0, < 1.2",
    "= 1.3.0-beta.1",
    "1.3.0-beta.1",
    "1.1.0",
    "!= 2.0.0",
    "> 1.2.0",
    "<= 1.2.0",
    ">= 1.0.0, != 1.2.5, < 2.0.0",
    "~> 0.9",
    ">= 2.1.0-rc.1",
];

#[test]
fn constraint_selection_matches_terraform_init() {
    let quarry = Quarry::start(&[]).expect("quarry starts");
    let token = quarry.token("ci", &["publish:acme"]).expect("token");
    for version in PUBLISHED {
        let status = quarry
            .publish_dir(
                &token,
                "acme/greeting/generic",
                version,
                &fixture_module("greeting"),
            )
            .expect("publish");
        assert_eq!(status, 201);
    }
    let versions: Vec<Version> = PUBLISHED
        .iter()
        .map(|v| Version::parse(v).expect("valid"))
        .collect();

    for constraint_text in CONSTRAINTS {
        let constraint = Constraint::parse(constraint_text).expect("valid constraint");
        let ours = constraint.select(&versions).map(ToString::to_string);
        let main_tf = format!(
            "module \"m\" {{\n  source  = \"registry.test/acme/greeting/generic\"\n  version = \"{constraint_text}\"\n  name    = \"x\"\n}}\n"
        );
        let terraform = Terraform::new(&quarry.url, &main_tf).expect("terraform dir");
        let init = terraform
            .run(&["init", "-input=false", "-no-color", "-backend=false"])
            .expect("terraform runs");
        let theirs = if init.status.success() {
            let modules = terraform.installed_modules().expect("modules.json");
            modules
                .into_iter()
                .find(|(key, _, _)| key == "m")
                .map(|(_, version, _)| version)
        } else {
            assert!(
                text(&init).contains("no available releases match")
                    || text(&init).contains("Unresolvable module version constraint"),
                "{constraint_text}: init failed for another reason:\n{}",
                text(&init)
            );
            None
        };
        assert_eq!(ours, theirs, "constraint `{constraint_text}`");
    }
}
