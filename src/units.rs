//! Value types typed on the command line and in scenario files, and their
//! parsers: durations (`500ms`, `25s`, `2m`), rates (`50/s`, `3/10s`),
//! backoff policies (`exp:500ms..30s`), headers (`Name: value`), the
//! `{client}`/`{uuid}` identity templates, and redaction of secrets.
//!
//! Everything here is pure and shared by the CLI, the plans and the scenario
//! files, so a value means the same thing wherever a user writes it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use crate::redact::{is_secret_name, redact_header_value, redact_url};

/// Parses a human duration: `500ms`, `25s`, `2m`, `1h`, `1.5s`, `2m30s`.
///
/// humantime does the work; decimals (`1.5s`), which it refuses, are read
/// here because people write them.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: write a number with a unit, such as 500ms, 25s or 2m".into());
    }
    if let Ok(d) = humantime::parse_duration(text) {
        return Ok(d);
    }
    parse_decimal_duration(text)
        .ok_or_else(|| format!("invalid duration '{text}': write a number with a unit, such as 500ms, 25s or 2m"))
}

fn parse_decimal_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds_per_unit = match unit.trim() {
        "ns" => 0.000_000_001,
        "us" | "µs" => 0.000_001,
        "ms" => 0.001,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hours" => 3600.0,
        _ => return None,
    };
    let seconds = value * seconds_per_unit;
    (seconds.is_finite() && (0.0..=1.0e9).contains(&seconds)).then(|| Duration::from_secs_f64(seconds))
}

/// Formats a duration the way users type it (`1.5s`, `250ms`, `2m`,
/// `40us`), so that what is printed parses back to the same duration.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if d < Duration::from_micros(1) {
        format!("{}ns", d.as_nanos())
    } else if d < Duration::from_millis(1) {
        format!("{}us", trim_float(d.as_nanos() as f64 / 1000.0))
    } else if ms < 1000.0 {
        format!("{}ms", trim_float(ms))
    } else if ms < 120_000.0 {
        format!("{}s", trim_float(ms / 1000.0))
    } else {
        format!("{}m", trim_float(ms / 60_000.0))
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A rate: `count` events per `per` (`50/s`, `3/10s`, `100/1m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many events are allowed (or scheduled) per window.
    pub count: u32,
    /// The window length.
    pub per: Duration,
}

impl Rate {
    /// The steady interval between two events of this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }

    /// Events per second, for display and comparisons.
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid rate '{text}': write COUNT/WINDOW, such as 50/s, 3/10s or 100/1m");
        let (count, window) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let window = window.trim();
        let window =
            if window.starts_with(|c: char| c.is_ascii_digit()) { window.to_string() } else { format!("1{window}") };
        let per = parse_duration(&window).map_err(|_| bad())?;
        if count == 0 || per.is_zero() {
            return Err(format!("invalid rate '{text}': count and window must be above zero"));
        }
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.per == Duration::from_secs(1) {
            write!(f, "{}/s", self.count)
        } else {
            write!(f, "{}/{}", self.count, format_duration(self.per))
        }
    }
}

/// How a client waits before its next reconnect attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Reconnect at once: the thundering herd.
    None,
    /// Always wait the same time.
    Fixed(Duration),
    /// Double the wait after each failure, from `min` up to `max`.
    Exponential {
        /// First wait.
        min: Duration,
        /// Cap on the wait.
        max: Duration,
    },
}

impl Backoff {
    /// The wait before attempt number `attempt` (1 = the first retry), before jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Fixed(d) => d,
            Backoff::Exponential { min, max } => {
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
                min.saturating_mul(factor).min(max)
            }
        }
    }
}

impl FromStr for Backoff {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid backoff '{text}': write none, fixed:5s or exp:500ms..30s");
        let text = text.trim();
        if text == "none" {
            return Ok(Backoff::None);
        }
        let (kind, arg) = text.split_once(':').ok_or_else(bad)?;
        match kind {
            "fixed" => Ok(Backoff::Fixed(parse_duration(arg).map_err(|_| bad())?)),
            "exp" => {
                let (min, max) = arg.split_once("..").ok_or_else(bad)?;
                let min = parse_duration(min).map_err(|_| bad())?;
                let max = parse_duration(max).map_err(|_| bad())?;
                if min.is_zero() || max < min {
                    return Err(format!("invalid backoff '{text}': exp:MIN..MAX needs 0 < MIN <= MAX"));
                }
                Ok(Backoff::Exponential { min, max })
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backoff::None => f.write_str("none"),
            Backoff::Fixed(d) => write!(f, "fixed:{}", format_duration(*d)),
            Backoff::Exponential { min, max } => {
                write!(f, "exp:{}..{}", format_duration(*min), format_duration(*max))
            }
        }
    }
}

/// A request header given as `Name: value`; the value may hold templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name as typed.
    pub name: String,
    /// Header value, possibly with `{client}`/`{uuid}`.
    pub value: String,
}

impl FromStr for Header {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (name, value) = text.split_once(':').ok_or_else(|| {
            format!("invalid header '{}': write \"Name: value\"", crate::redact::redact_header_arg(text))
        })?;
        let name = name.trim();
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            return Err(format!("invalid header name '{name}': use letters, digits and dashes"));
        }
        if value.contains(['\r', '\n']) {
            return Err(format!("invalid header '{name}': the value has a line break"));
        }
        Ok(Header { name: name.to_string(), value: value.trim().to_string() })
    }
}

/// One client's identity within a run: its index and its random id, fixed
/// for the whole run so a reconnect keeps the same identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientId {
    /// 0-based client index, what `{client}` expands to.
    pub index: u32,
    /// What `{uuid}` expands to.
    pub uuid: uuid::Uuid,
}

impl ClientId {
    /// A client with its random id: a per-process random base spread by the
    /// index (an odd multiplier is a bijection), so ids are unique and
    /// unpredictable without a system call per client.
    pub fn new(index: u32) -> Self {
        static BASE: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
        let base = *BASE.get_or_init(|| uuid::Uuid::new_v4().as_u128());
        let mixed = base.wrapping_add(u128::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
        ClientId { index, uuid: uuid::Builder::from_random_bytes(mixed.to_be_bytes()).into_uuid() }
    }
}

/// Expands `{client}` and `{uuid}` in a URL or header template.
pub fn expand(template: &str, client: ClientId) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    template.replace("{client}", &client.index.to_string()).replace("{uuid}", &client.uuid.to_string())
}

/// True when the template gives each client its own identity.
pub fn has_client_template(template: &str) -> bool {
    template.contains("{client}") || template.contains("{uuid}")
}

/// Random spread added to each backoff wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jitter {
    /// Wait exactly the backoff.
    None,
    /// Wait a random time between 0 and the backoff.
    #[default]
    Full,
    /// Wait half the backoff plus a random part of the other half.
    Equal,
}

impl Jitter {
    /// A wait of `d` with this jitter applied.
    pub fn apply(self, d: Duration) -> Duration {
        let nanos = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        match self {
            Jitter::None => d,
            Jitter::Full => Duration::from_nanos(fastrand::u64(0..=nanos)),
            Jitter::Equal => Duration::from_nanos(nanos / 2 + fastrand::u64(0..=nanos / 2)),
        }
    }
}

impl std::fmt::Display for Jitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
        })
    }
}

/// Seconds as a float rounded to milliseconds, the way reports show time.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Milliseconds as a float rounded to microseconds.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("25s"), Ok(Duration::from_secs(25)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m30s"), Ok(Duration::from_secs(150)));
        assert!(parse_duration("fast").unwrap_err().contains("500ms"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn durations_format_back() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
    }

    #[test]
    fn sub_millisecond_windows_round_trip() {
        // Found by the `rate` fuzz target: a 1 µs window printed as "0ms".
        let r: Rate = "333333/us".parse().unwrap();
        assert_eq!(r.to_string().parse::<Rate>().unwrap(), r);
        assert_eq!(format_duration(Duration::from_micros(250)), "250us");
        assert_eq!(parse_duration("1.5us"), Ok(Duration::from_nanos(1500)));
        assert_eq!(format_duration(Duration::from_nanos(7)), "7ns");
    }

    #[test]
    fn rates_parse_with_and_without_window_count() {
        let r: Rate = "3/10s".parse().unwrap();
        assert_eq!((r.count, r.per), (3, Duration::from_secs(10)));
        let r: Rate = "50/s".parse().unwrap();
        assert_eq!((r.count, r.per), (50, Duration::from_secs(1)));
        assert_eq!(r.interval(), Duration::from_millis(20));
        assert_eq!("50/s".parse::<Rate>().unwrap().to_string(), "50/s");
        assert_eq!("3/10s".parse::<Rate>().unwrap().to_string(), "3/10s");
        assert!("0/s".parse::<Rate>().is_err());
        assert!("3 per second".parse::<Rate>().unwrap_err().contains("3/10s"));
    }

    #[test]
    fn backoff_policies() {
        assert_eq!("none".parse::<Backoff>(), Ok(Backoff::None));
        assert_eq!("fixed:5s".parse::<Backoff>(), Ok(Backoff::Fixed(Duration::from_secs(5))));
        let exp: Backoff = "exp:500ms..30s".parse().unwrap();
        assert_eq!(exp.delay(1), Duration::from_millis(500));
        assert_eq!(exp.delay(2), Duration::from_secs(1));
        assert_eq!(exp.delay(30), Duration::from_secs(30));
        assert_eq!(exp.to_string(), "exp:500ms..30s");
        assert!("exp:5s..1s".parse::<Backoff>().is_err());
        assert!("linear:1s".parse::<Backoff>().is_err());
    }

    #[test]
    fn client_uuids_are_distinct_v4_and_stable() {
        let a = ClientId::new(1);
        assert_eq!(a.uuid, ClientId::new(1).uuid);
        assert_ne!(a.uuid, ClientId::new(2).uuid);
        assert_eq!(a.uuid.get_version_num(), 4);
    }

    #[test]
    fn headers_and_templates() {
        let h: Header = "X-Device: dev-{client}".parse().unwrap();
        assert_eq!(h.name, "X-Device");
        let c = ClientId::new(7);
        assert_eq!(expand(&h.value, c), "dev-7");
        assert_eq!(expand("ws://h/?id={uuid}", c), format!("ws://h/?id={}", c.uuid));
        assert!("no colon".parse::<Header>().is_err());
        assert!("Bad Name: x".parse::<Header>().is_err());
    }
}
