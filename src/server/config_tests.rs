//! Tests of [`super::ServerConfig`]: flags that depend on each other, regexes, names.

use super::*;

#[test]
fn identity_sources_parse() {
    assert_eq!("query:device".parse(), Ok(IdentitySource::Query("device".into())));
    assert_eq!("header:X-Device".parse(), Ok(IdentitySource::Header("X-Device".into())));
    assert!("cookie:x".parse::<IdentitySource>().is_err());
    assert!("query:".parse::<IdentitySource>().is_err());
}

#[test]
fn pong_timeout_needs_pings() {
    let cfg = ServerConfig { pong_timeout: Some(Duration::from_secs(1)), ..Default::default() };
    assert!(cfg.validate().unwrap_err().contains("--ping-interval"));
    assert!(ServerConfig::default().validate().is_ok());
}

#[test]
fn a_pong_deadline_within_the_ping_interval_is_refused_naming_both() {
    let cfg = |ping: u64, pong: u64| ServerConfig {
        ping_interval: Some(Duration::from_millis(ping)),
        pong_timeout: Some(Duration::from_millis(pong)),
        ..Default::default()
    };
    for (ping, pong) in [(1000, 1000), (1000, 500)] {
        let err = cfg(ping, pong).validate().unwrap_err();
        assert!(err.contains("--pong-timeout") && err.contains("--ping-interval"), "{err}");
    }
    assert!(cfg(300, 600).validate().is_ok());
}

#[test]
fn invalid_regexes_are_refused_with_the_flag_name() {
    let cfg = ServerConfig { require_init: Some("conn(".into()), ..Default::default() };
    assert!(cfg.validate().unwrap_err().starts_with("--require-init 'conn('"));
    let cfg = ServerConfig { app_ping: Some("2".into()), app_pong: Some("[".into()), ..Default::default() };
    assert!(cfg.validate().unwrap_err().starts_with("--app-pong '['"));
}

#[test]
fn app_options_need_what_they_depend_on() {
    let cfg = ServerConfig { app_pong: Some("^3$".into()), ..Default::default() };
    assert!(cfg.validate().unwrap_err().contains("--app-ping"));
    let cfg = ServerConfig { workers: 0, ..Default::default() };
    assert!(cfg.validate().unwrap_err().contains("--workers"));
    let cfg = ServerConfig { app_ping: Some("2".into()), app_pong: Some("^3$".into()), ..Default::default() };
    assert_eq!(cfg.app_pong_window(), Duration::from_secs(10));
    assert!(cfg.validate().is_ok());
}

#[test]
fn fault_names_match_the_flag_and_the_scenario_spelling() {
    use clap::ValueEnum;
    for fault in Fault::value_variants() {
        assert_eq!(fault.to_possible_value().unwrap().get_name(), fault.name());
        let parsed: Fault = serde_json::from_str(&format!("\"{}\"", fault.name())).unwrap();
        assert_eq!(parsed, *fault);
    }
}
