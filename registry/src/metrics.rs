//! What `/metrics` reports, in Prometheus' text format: requests by route and status with their
//! latency, publishes and refused publishes by reason, cache hits and misses, the database
//! pool, storage errors and the build. Per-request counting is what the access log is not: cheap
//! enough to keep on for every request.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry as Collected;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern (`/v1/modules/{namespace}/{name}/{system}/versions`), never the
    /// path itself, so the label's values stay few; `unmatched` for paths no route takes.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectionLabels {
    pub kind: &'static str,
    /// Why, as a short name: `version_exists`, `invalid_archive`, `too_large`, …
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `idle` or `in_use`.
    pub state: &'static str,
}

/// Every metric, shared by the workers (each one is a handle to shared atomics).
#[derive(Clone, Debug)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub publishes: Family<KindLabels, Counter>,
    pub rejections: Family<RejectionLabels, Counter>,
    pub cache_hits: Family<CacheLabels, Counter>,
    pub cache_misses: Family<CacheLabels, Counter>,
    pub pool: Family<PoolLabels, Gauge>,
    pub storage_errors: Counter,
}

/// Latency buckets from 0.1 ms to about 13 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            publishes: Family::default(),
            rejections: Family::default(),
            cache_hits: Family::default(),
            cache_misses: Family::default(),
            pool: Family::default(),
            storage_errors: Counter::default(),
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn cache(&self, cache: &'static str, hit: bool) {
        let family = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        family.get_or_create(&CacheLabels { cache }).inc();
    }

    /// The text exposition of every metric, with the pool's state as it is now.
    pub fn encode(&self, pool: Option<(u32, u32)>) -> String {
        if let Some((idle, in_use)) = pool {
            self.pool
                .get_or_create(&PoolLabels { state: "idle" })
                .set(i64::from(idle));
            self.pool
                .get_or_create(&PoolLabels { state: "in_use" })
                .set(i64::from(in_use));
        }
        let mut collected = Collected::with_prefix("quarry");
        collected.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        collected.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            self.requests.clone(),
        );
        collected.register_with_unit(
            "http_request_duration",
            "Time to answer a request (to its body's start), by route",
            prometheus_client::registry::Unit::Seconds,
            self.latency.clone(),
        );
        collected.register(
            "publishes",
            "Versions published, by kind",
            self.publishes.clone(),
        );
        collected.register(
            "publish_rejections",
            "Publishes refused, by kind and reason",
            self.rejections.clone(),
        );
        collected.register(
            "cache_hits",
            "Reads answered from a cache, by cache",
            self.cache_hits.clone(),
        );
        collected.register(
            "cache_misses",
            "Reads a cache could not answer, by cache",
            self.cache_misses.clone(),
        );
        collected.register(
            "database_connections",
            "The database pool's connections, idle and in use",
            self.pool.clone(),
        );
        collected.register(
            "storage_errors",
            "Object storage operations that failed",
            self.storage_errors.clone(),
        );
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &collected)
            .expect("writing to a String cannot fail");
        text
    }
}
