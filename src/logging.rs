//! Logs: the crate logs with `tracing`; this module routes those events where an app can see
//! them.
//!
//! * the platform's log: logcat (`android_logger`) on Android, the unified log (`oslog`) on
//!   iOS and macOS, stderr elsewhere — on by default, [`set_platform_output`] turns it off;
//! * an app's own [`LogSink`], registered with [`set_sink`] (a Kotlin, Swift or Python object
//!   through the bindings).
//!
//! [`init`] installs the routing as the global `tracing` subscriber, once. The bindings call it
//! when a node starts; a Rust program with its own subscriber (the CLI) simply never calls it.
//! [`set_level`] applies to this crate's events; other crates' events (discv5, uTP) pass only
//! from `Warn` up, so that `Debug` means our debug and not a flood of theirs.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Once, RwLock};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// How much to log, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum LogLevel {
    /// Failures.
    Error = 1,
    /// Something is off but the node carries on.
    Warn = 2,
    /// Lifecycle: started, stopped, joined (the default).
    Info = 3,
    /// Per-query detail.
    Debug = 4,
    /// Per-message detail.
    Trace = 5,
}

impl LogLevel {
    fn from_tracing(level: &tracing::Level) -> Self {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        }
    }
}

/// One log line, as a [`LogSink`] receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// Where it comes from (a Rust module path, e.g. `portal_state::node`).
    pub target: String,
    /// The message and its fields, `message key=value …`.
    pub message: String,
}

/// An app's own receiver of log lines (implemented in Kotlin, Swift or Python through the
/// bindings). Called on the node's threads, synchronously: return quickly, and do not call
/// back into the node from it.
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait LogSink: Send + Sync {
    /// Receive one log line.
    fn log(&self, record: LogRecord);
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
static PLATFORM_OUTPUT: AtomicBool = AtomicBool::new(true);
static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
static INIT: Once = Once::new();

thread_local! {
    // Set while a sink runs: a sink that logs (through us) must not recurse forever.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Install the routing as the global `tracing` subscriber. Idempotent; does nothing when the
/// program already installed a global subscriber of its own.
pub fn init() {
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(RouteLayer);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Log this crate's events up to `level` (other crates': `Warn` and above).
pub fn set_level(level: LogLevel) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Send every log line to `sink` too, replacing any sink set before; `None` removes it.
/// Installs the routing ([`init`]) if it is not yet.
pub fn set_sink(sink: Option<Arc<dyn LogSink>>) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
    init();
}

/// Whether lines also go to the platform's log (stderr, logcat, unified log). On by default;
/// an app with its own sink may turn it off.
pub fn set_platform_output(enabled: bool) {
    PLATFORM_OUTPUT.store(enabled, Ordering::Relaxed);
}

fn enabled(metadata: &Metadata<'_>) -> bool {
    let level = LogLevel::from_tracing(metadata.level());
    let ours = metadata.target().starts_with("portal_state");
    let max = if ours {
        MAX_LEVEL.load(Ordering::Relaxed)
    } else {
        MAX_LEVEL.load(Ordering::Relaxed).min(LogLevel::Warn as u8)
    };
    (level as u8) <= max
}

struct RouteLayer;

impl<S: Subscriber> Layer<S> for RouteLayer {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Decided per event, never cached: the level can change at run time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        enabled(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if IN_SINK.with(|f| f.get()) {
            return;
        }
        let metadata = event.metadata();
        let level = LogLevel::from_tracing(metadata.level());
        let mut line = Line(String::new());
        event.record(&mut line);
        let message = line.0;
        if PLATFORM_OUTPUT.load(Ordering::Relaxed) {
            platform::write(level, metadata.target(), &message);
        }
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(sink) = sink {
            IN_SINK.with(|f| f.set(true));
            // A panicking sink must not take the node's thread down with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sink.log(LogRecord {
                    level,
                    target: metadata.target().to_string(),
                    message,
                })
            }));
            IN_SINK.with(|f| f.set(false));
        }
    }
}

/// `message key=value …`
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(target_os = "android")]
mod platform {
    use super::LogLevel;

    pub fn write(level: LogLevel, target: &str, line: &str) {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            // Filtering is ours; let everything we pass reach logcat. If the app already set a
            // `log` logger, init_once leaves it and our lines go there.
            android_logger::init_once(
                android_logger::Config::default()
                    .with_tag("portal_state")
                    .with_max_level(log::LevelFilter::Trace),
            );
        });
        let level = match level {
            LogLevel::Error => log::Level::Error,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Trace => log::Level::Trace,
        };
        log::log!(target: target, level, "{line}");
    }
}

#[cfg(any(target_os = "ios", target_os = "macos"))]
mod platform {
    use super::LogLevel;
    use std::sync::OnceLock;

    pub fn write(level: LogLevel, target: &str, line: &str) {
        static LOG: OnceLock<oslog::OsLog> = OnceLock::new();
        let log = LOG.get_or_init(|| oslog::OsLog::new("org.portal-state", "node"));
        let level = match level {
            LogLevel::Error => oslog::Level::Error,
            LogLevel::Warn => oslog::Level::Default,
            LogLevel::Info => oslog::Level::Info,
            LogLevel::Debug | LogLevel::Trace => oslog::Level::Debug,
        };
        log.with_level(level, &format!("{target}: {line}"));
    }
}

#[cfg(not(any(target_os = "android", target_os = "ios", target_os = "macos")))]
mod platform {
    use super::LogLevel;
    use std::io::Write;

    pub fn write(level: LogLevel, target: &str, line: &str) {
        // Not eprintln!: it panics when stderr is closed, and logging must never panic.
        let _ = writeln!(
            std::io::stderr().lock(),
            "{} {target}: {line}",
            level.name()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Collect(Mutex<Vec<LogRecord>>);

    impl LogSink for Collect {
        fn log(&self, record: LogRecord) {
            self.0.lock().unwrap().push(record);
        }
    }

    #[test]
    fn a_registered_sink_receives_our_lines_at_the_level_set() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        set_sink(Some(sink.clone()));
        set_level(LogLevel::Info);
        tracing::info!(peers = 3, "joined");
        tracing::debug!("too detailed");
        set_level(LogLevel::Debug);
        tracing::debug!("now wanted");
        tracing::debug!(target: "discv5::service", "not ours: filtered at warn");
        set_sink(None);
        tracing::info!("after removal");
        let got = sink.0.lock().unwrap().clone();
        let lines: Vec<_> = got.iter().map(|r| (r.level, r.message.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                (LogLevel::Info, "joined peers=3"),
                (LogLevel::Debug, "now wanted")
            ]
        );
        assert!(got[0].target.starts_with("portal_state"));
        set_level(LogLevel::Info);
    }
}
