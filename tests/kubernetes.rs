//! `deploy/kubernetes/job.yaml` checked offline: valid against the
//! Kubernetes schemas (strict, through the kubernetes-validate package
//! that scripts/test installs), an Indexed Job whose shards wsprobe can
//! run (completions = parallelism = --shards, no retries per index, pods
//! spread over nodes, one shared START_AT), with container arguments that
//! wsprobe's own parser accepts. No cluster and no image build here.

use std::process::Command;

use clap::Parser;
use serde_json::Value;
use wsprobe::check::CheckCommand;
use wsprobe::cli::{Cli, Command as Sub};

const JOB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes/job.yaml");
const VALIDATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kubernetes/validate.py");
const START_AT: &str = "2025-12-01T12:00:00Z";

/// Runs the validator on `path`: its exit code and stdout (the manifest as JSON).
fn validate(path: &str) -> (Option<i32>, String, String) {
    let out = Command::new("python3").args([VALIDATE, path, START_AT]).output().expect("python3 runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn job() -> Value {
    let (code, stdout, stderr) = validate(JOB);
    assert_ne!(
        code,
        Some(3),
        "the schema validator is missing: run scripts/test (pip install kubernetes-validate)\n{stderr}"
    );
    assert_eq!(code, Some(0), "job.yaml is not valid against the Kubernetes schemas: {stderr}");
    let docs: Value = serde_json::from_str(&stdout).expect("the manifest as JSON");
    docs[0].clone()
}

#[test]
fn the_job_is_valid_and_a_broken_one_is_not() {
    let job = job();
    assert_eq!(job["kind"], "Job");
    let broken = std::env::temp_dir().join(format!("wsprobe-broken-job-{}.yaml", std::process::id()));
    let text = std::fs::read_to_string(JOB).expect("job.yaml").replace("backoffLimitPerIndex", "backofLimitPerIndex");
    std::fs::write(&broken, text).expect("write");
    let (code, _, stderr) = validate(&broken.display().to_string());
    let _ = std::fs::remove_file(&broken);
    assert_eq!(code, Some(1), "a misspelled field must fail strict validation: {stderr}");
    assert!(stderr.contains("backofLimitPerIndex"), "{stderr}");
}

#[test]
fn the_job_runs_one_shard_per_index_at_one_start() {
    let job = job();
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["backoffLimitPerIndex"], 0, "a shard that failed is not rerun late");
    assert_eq!(spec["podReplacementPolicy"], "Failed");
    let n = spec["completions"].as_u64().expect("completions");
    assert_eq!(spec["parallelism"].as_u64(), Some(n), "every shard runs at once");
    let pod = &spec["template"]["spec"];
    let spread = &pod["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname", "pods spread over nodes");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    let env: Vec<&Value> = container["env"].as_array().expect("env").iter().collect();
    assert!(env.iter().any(|e| e["name"] == "START_AT" && e["value"] == START_AT), "START_AT filled at apply time");
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").replace("$(START_AT)", START_AT))
        .collect();
    let cli = Cli::try_parse_from(std::iter::once("wsprobe".to_string()).chain(args.clone()))
        .unwrap_or_else(|e| panic!("the Job's arguments do not parse: {e}\n{args:?}"));
    let Sub::Check(CheckCommand::Storm(storm)) = cli.command else { panic!("the Job runs storm: {args:?}") };
    assert_eq!(storm.shard.shards, Some(n as u32), "--shards matches completions");
    assert!(storm.shard.start_at.is_some() && storm.client.output.json, "{args:?}");
}
