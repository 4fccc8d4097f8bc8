//! Running one command line as shards in one test (each shard in its own
//! thread, all starting together) and merging their reports as `wsprobe
//! merge` does.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use wsprobe::saved::Saved;

/// A shared start far enough ahead (1.5 s) that every shard thread is up by then.
pub fn start_at() -> String {
    wsprobe::clock::rfc3339(SystemTime::now() + Duration::from_millis(1500))
}

/// Runs the shards of one command line at once, each in its own thread.
pub fn shards(count: u32, args: &[&str]) -> Vec<Value> {
    let start = start_at();
    let threads: Vec<_> = (0..count)
        .map(|i| {
            let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            a.extend(["--shard".into(), format!("{i}/{count}"), "--start-at".into(), start.clone()]);
            std::thread::spawn(move || super::run_json(&a.iter().map(String::as_str).collect::<Vec<_>>()))
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("shard thread")).collect()
}

/// Merges reports as `wsprobe merge` does; the result holds the contract.
pub fn merged(parts: &[Value]) -> Value {
    let saved: Vec<Saved> =
        parts.iter().enumerate().map(|(i, r)| Saved { source: format!("shard-{i}.json"), report: r.clone() }).collect();
    let report = wsprobe::merge::merge(&saved).expect("the shards merge");
    let json = serde_json::to_value(report).expect("serializes");
    super::contract::check_value(&json).unwrap_or_else(|e| panic!("merged report breaks the contract: {e}\n{json:#}"));
    json
}

/// The unsigned number at `key` (a JSON pointer); fails the test without it.
pub fn u(v: &Value, key: &str) -> u64 {
    v.pointer(key).and_then(Value::as_u64).unwrap_or_else(|| panic!("{key} in {v:#}"))
}
