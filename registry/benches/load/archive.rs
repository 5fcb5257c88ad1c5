//! Archive throughput: several clients download one large archive at once, streaming and
//! discarding the body, while a thread samples the server's resident memory, so a server that
//! buffers archives shows up as growth even when it is fast.

use crate::rss_kib;
use anyhow::Context;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Throughput {
    pub bytes: u64,
    pub elapsed: Duration,
    /// The server's VmRSS just before the downloads, and the highest sample during them.
    pub baseline_kib: u64,
    pub peak_kib: u64,
    pub samples: usize,
}

impl Throughput {
    pub fn gib_per_second(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64() / f64::from(1u32 << 30)
    }

    pub fn growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.baseline_kib)
    }
}

/// Samples a process's VmRSS every 10 ms on its own thread until stopped.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, usize)>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut peak, mut samples) = (0, 0);
            loop {
                if let Some(rss) = rss_kib(pid, "VmRSS:") {
                    peak = peak.max(rss);
                    samples += 1;
                }
                if stopped.load(Ordering::Relaxed) {
                    return (peak, samples);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { stop, thread }
    }

    /// Stops sampling; returns the peak and the number of samples taken.
    fn finish(self) -> anyhow::Result<(u64, usize)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the RSS sampling thread panicked"))
    }
}

/// `clients` concurrent clients each download `url` `rounds` times, one after the other,
/// checking that every body has `expected` bytes. The server is process `pid`.
pub async fn download(
    url: &str,
    clients: usize,
    rounds: usize,
    expected: u64,
    pid: u32,
) -> anyhow::Result<Throughput> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .context("building the download client")?;
    // Smallest of a few samples: the server at rest, not a sample caught mid-allocation.
    let mut baseline_kib = u64::MAX;
    for _ in 0..5 {
        let rss = rss_kib(pid, "VmRSS:")
            .with_context(|| format!("reading VmRSS of quarry (pid {pid})"))?;
        baseline_kib = baseline_kib.min(rss);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sampler = RssSampler::start(pid);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                for _ in 0..rounds {
                    let mut response = client
                        .get(&url)
                        .send()
                        .await
                        .with_context(|| format!("GET {url}"))?
                        .error_for_status()?;
                    let mut received = 0u64;
                    while let Some(chunk) = response
                        .chunk()
                        .await
                        .with_context(|| format!("reading the body of {url}"))?
                    {
                        received += chunk.len() as u64;
                    }
                    anyhow::ensure!(
                        received == expected,
                        "GET {url} gave {received} bytes, expected {expected}"
                    );
                }
                anyhow::Ok(rounds as u64 * expected)
            })
        })
        .collect();
    let mut bytes = 0;
    let mut failure = None;
    for task in tasks {
        match task.await.context("a download task failed") {
            Ok(Ok(part)) => bytes += part,
            Ok(Err(error)) | Err(error) => failure = failure.or(Some(error)),
        }
    }
    let elapsed = started.elapsed();
    let (peak_kib, samples) = sampler.finish()?;
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(Throughput {
        bytes,
        elapsed,
        baseline_kib,
        peak_kib,
        samples,
    })
}
