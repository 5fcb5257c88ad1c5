//! Hostile input that needs a real socket, against the built `quarry` binary: chunked uploads
//! that never declare their length, declared lengths far over the limit, oversized headers,
//! malformed HTTP, a slow client (slowloris), and a query that panicked a handler in process.
//!
//! Every case asserts the status, that the answer names the problem (the registry's JSON error,
//! or for refusals made before routing, the status line), that `GET /healthz` still answers 200,
//! and that nothing stored changed (the module and blueprint listings, the versions of
//! `acme/base/aws`, every file under `objects/`). Tests marked `#[ignore = "gap: …"]` assert
//! what the registry should do and fails to.

use quarry_e2e::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Every refusal arrives well within this.
const PROMPT: Duration = Duration::from_secs(5);
const EVIL: &str = "/v1/modules/acme/evil/aws/1.0.0";
const RENDER: &str = "/v1/blueprints/fixtures/minimal/0.1.0/render";

/// A running registry holding `acme/base/aws` 1.0.0 and the blueprint `fixtures/minimal` 0.1.0.
struct Target {
    quarry: Quarry,
    token: String,
    address: String,
}

fn start(extra: &[&str]) -> Target {
    let quarry = Quarry::start(extra).expect("quarry starts");
    let token = quarry
        .token("ci", &["publish:acme", "publish:fixtures"])
        .expect("token");
    let status = quarry
        .publish_dir(
            &token,
            "acme/base/aws",
            "1.0.0",
            &fixture_module("greeting"),
        )
        .expect("publish request");
    assert_eq!(status, 201, "publishing acme/base/aws");
    let blueprint =
        quarry_core::archive::pack_dir(&repo_root().join("tests/fixtures/blueprints/minimal"))
            .expect("pack the blueprint");
    let response = client()
        .post(format!(
            "{}/v1/blueprints/fixtures/minimal/0.1.0",
            quarry.url
        ))
        .bearer_auth(&token)
        .header("content-type", "application/gzip")
        .body(blueprint)
        .send()
        .expect("publish the blueprint");
    assert_eq!(response.status(), 201, "publishing fixtures/minimal");
    let address = quarry.url.trim_start_matches("http://").to_owned();
    Target {
        quarry,
        token,
        address,
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(PROMPT)
        .build()
        .expect("http client")
}

/// Everything the registry stores, as clients and the disk see it.
#[derive(Debug, PartialEq)]
struct Snapshot {
    modules: String,
    base_versions: String,
    blueprints: String,
    objects: Vec<(String, String)>,
}

impl Target {
    fn read(&self, path: &str) -> String {
        let response = client()
            .get(format!("{}{path}", self.quarry.url))
            .send()
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().expect("body")
    }

    fn snapshot(&self) -> Snapshot {
        let snapshot = Snapshot {
            modules: self.read("/v1/modules?limit=100"),
            base_versions: self.read("/v1/modules/acme/base/aws/versions"),
            blueprints: self.read("/v1/blueprints?limit=100"),
            objects: quarry_core::test_support::files_under(
                &self.quarry.data_dir.path().join("objects"),
            ),
        };
        assert_eq!(snapshot.objects.len(), 2, "the snapshot sees both archives");
        snapshot
    }

    /// A refused upload was refused promptly, before its `size` bytes were all read, and left
    /// the registry as it was.
    fn assert_refused_early(
        &self,
        label: &str,
        before: &Snapshot,
        elapsed: Duration,
        sent: usize,
        size: usize,
    ) {
        assert!(elapsed < PROMPT, "{label}: answered after {elapsed:?}");
        assert!(
            sent < size,
            "{label}: the registry read all {sent} bytes before refusing"
        );
        self.assert_intact(label, before);
    }

    /// The registry still answers, and stores what it stored before.
    fn assert_intact(&self, label: &str, before: &Snapshot) {
        let status = client()
            .get(format!("{}/healthz", self.quarry.url))
            .send()
            .map(|response| response.status().as_u16())
            .unwrap_or_else(|error| panic!("{label}: /healthz does not answer: {error}"));
        assert_eq!(status, 200, "{label}: /healthz after it");
        assert_eq!(&self.snapshot(), before, "{label}: stored data changed");
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).expect("connect");
        stream.set_read_timeout(Some(PROMPT)).expect("timeout");
        stream.set_write_timeout(Some(PROMPT)).expect("timeout");
        stream
    }

    /// Sends raw bytes on a new connection (a write the server cuts short is fine) and reads
    /// the answer.
    fn exchange(&self, request: &[u8]) -> Raw {
        let mut stream = self.connect();
        let _ = stream.write_all(request);
        read_response(&mut stream).expect("an HTTP response")
    }
}

/// A response as read off the socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    status_line: String,
    body: Vec<u8>,
}

impl Raw {
    /// The answer is `status` with an error message that says `says`.
    fn assert_refused(&self, status: u16, says: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert!(self.message().contains(says), "{}", self.text());
    }

    /// The registry's error messages, joined; empty when the body is not its JSON error.
    fn message(&self) -> String {
        let body: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    fn text(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        format!(
            "{} {}",
            self.status_line,
            body.chars().take(300).collect::<String>()
        )
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Reads one response: the head, then `Content-Length` bytes of body (or up to the end of the
/// connection). A reset after a complete head still counts as an answer.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Raw> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 16 << 10];
    let complete = |data: &[u8]| -> Option<(usize, Option<usize>)> {
        let end = find(data, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
        let length = head.lines().find_map(|line| {
            line.strip_prefix("content-length:")
                .and_then(|value| value.trim().parse::<usize>().ok())
        });
        Some((end, length))
    };
    loop {
        if let Some((end, Some(length))) = complete(&data)
            && data.len() >= end + 4 + length
        {
            break;
        }
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => data.extend_from_slice(&buffer[..count]),
            Err(_) if complete(&data).is_some() => break,
            Err(error) => return Err(error),
        }
    }
    let Some((end, length)) = complete(&data) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("no response head, got {:?}", String::from_utf8_lossy(&data)),
        ));
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body_end = length.map_or(data.len(), |length| (end + 4 + length).min(data.len()));
    Ok(Raw {
        status,
        status_line,
        body: data[end + 4..body_end].to_vec(),
    })
}

/// Incompressible bytes that start like gzip.
fn noise(length: usize) -> Vec<u8> {
    let mut bytes = quarry_core::test_support::noise(0, length);
    bytes[..2].copy_from_slice(&[0x1f, 0x8b]);
    bytes
}

/// Streams `total` bytes as 16 KiB chunks on a clone of `stream` until done or the server stops
/// reading; returns how many body bytes went out and when the writer finished.
fn stream_chunks(stream: &TcpStream, total: usize) -> JoinHandle<(usize, Instant)> {
    let mut writer = stream.try_clone().expect("clone the socket");
    std::thread::spawn(move || {
        let chunk = noise(16 << 10);
        let mut sent = 0;
        while sent < total {
            let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
            frame.extend_from_slice(&chunk);
            frame.extend_from_slice(b"\r\n");
            if writer.write_all(&frame).is_err() {
                return (sent, Instant::now());
            }
            sent += chunk.len();
        }
        let _ = writer.write_all(b"0\r\n\r\n");
        (sent, Instant::now())
    })
}

/// Sends the head, then streams `total` body bytes chunked while reading the answer.
fn chunked_exchange(target: &Target, head: &str, total: usize) -> (Raw, Duration, usize) {
    let mut stream = target.connect();
    stream.write_all(head.as_bytes()).expect("send the head");
    let started = Instant::now();
    let writer = stream_chunks(&stream, total);
    let response = read_response(&mut stream);
    let elapsed = started.elapsed();
    let _ = stream.shutdown(Shutdown::Both);
    let (sent, _) = writer.join().expect("the writer ends");
    (response.expect("an HTTP response"), elapsed, sent)
}

// ---------------------------------------------------------------------------------------------
// Bodies over the limits
// ---------------------------------------------------------------------------------------------

#[test]
fn an_undeclared_chunked_upload_is_cut_off_at_max_archive_bytes() {
    let target = start(&["--max-archive-bytes", "65536"]);
    let before = target.snapshot();
    let head = format!(
        "POST {EVIL} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/gzip\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        target.address, target.token
    );
    // 64 MiB offered; the registry must answer long before it would have read it all.
    let (response, elapsed, sent) = chunked_exchange(&target, &head, 64 << 20);
    response.assert_refused(413, "the archive is larger than the limit of 65536 bytes");
    target.assert_refused_early("chunked upload", &before, elapsed, sent, 64 << 20);
}

#[test]
fn a_declared_length_over_max_archive_bytes_is_refused_before_the_body_is_sent() {
    let target = start(&["--max-archive-bytes", "65536"]);
    let before = target.snapshot();
    let started = Instant::now();
    // Only the head: the registry must answer without waiting for 10 GiB.
    let response = target.exchange(
        format!(
            "POST {EVIL} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/gzip\r\nContent-Length: 10737418240\r\n\r\n",
            target.address, target.token
        )
        .as_bytes(),
    );
    response.assert_refused(413, "the archive is larger than the limit of 65536 bytes");
    assert!(started.elapsed() < PROMPT);
    target.assert_intact("declared 10 GiB", &before);
}

#[test]
fn a_50_mb_inputs_document_is_refused_with_413_promptly() {
    // The message part of this is the gap test below; this guards the resource side.
    let target = start(&[]);
    let before = target.snapshot();
    let started = Instant::now();
    let declared = target.exchange(
        format!(
            "POST {RENDER} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: 52428800\r\n\r\n{{\"name\": \"",
            target.address
        )
        .as_bytes(),
    );
    assert_eq!(declared.status, 413, "declared: {}", declared.text());
    assert!(started.elapsed() < PROMPT);
    let head = format!(
        "POST {RENDER} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        target.address
    );
    let (chunked, elapsed, sent) = chunked_exchange(&target, &head, 50 << 20);
    chunked.assert_refused(413, "larger than the limit");
    target.assert_refused_early("50 MB inputs", &before, elapsed, sent, 50 << 20);
}

// ---------------------------------------------------------------------------------------------
// Malformed HTTP
// ---------------------------------------------------------------------------------------------

/// Sends each raw request and checks it is refused before routing with one of `statuses`, whose
/// status line (the only message at that stage) names the problem.
fn assert_heads_refused(target: &Target, cases: Vec<(&str, Vec<u8>, &[u16], &str)>) {
    for (label, request, statuses, reason) in cases {
        let before = target.snapshot();
        let response = target.exchange(&request);
        assert!(
            statuses.contains(&response.status),
            "{label}: {}",
            response.text()
        );
        assert!(
            response.status_line.contains(reason),
            "{label}: {}",
            response.text()
        );
        target.assert_intact(label, &before);
    }
}

fn padded_get(padding: usize) -> Vec<u8> {
    format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(padding)
    )
    .into_bytes()
}

#[test]
fn oversized_and_malformed_heads_are_4xx_and_the_server_stays_up() {
    let target = start(&[]);
    let many: String = (0..200).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    let too_large = "Request Header Fields Too Large";
    assert_heads_refused(
        &target,
        vec![
            (
                "a 256 KiB header",
                padded_get(256 << 10),
                &[431, 400],
                too_large,
            ),
            (
                "a 4 MiB header",
                padded_get(4 << 20),
                &[431, 400],
                too_large,
            ),
            (
                "200 headers",
                format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").into_bytes(),
                &[431, 400],
                too_large,
            ),
            (
                "a TLS hello instead of HTTP",
                b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n".to_vec(),
                &[400],
                "Bad Request",
            ),
            (
                "a header without a colon",
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".to_vec(),
                &[400],
                "Bad Request",
            ),
        ],
    );
}

#[test]
fn a_64_kib_header_is_431() {
    let target = start(&[]);
    assert_heads_refused(
        &target,
        vec![(
            "a 64 KiB header",
            padded_get(64 << 10),
            &[431, 400],
            "Request Header Fields Too Large",
        )],
    );
}

fn bad_chunk_head(target: &Target) -> String {
    format!(
        "POST {EVIL} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/gzip\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         4\r\nabcd\r\n",
        target.address, target.token
    )
}

/// Sends a chunked upload whose framing breaks: after a pause (the handler is reading the body
/// by then), or in the same packet as the head. It must get a 400 and change nothing.
fn invalid_chunk_size_is_400(pause: Option<Duration>, label: &str) {
    let target = start(&[]);
    let before = target.snapshot();
    let mut stream = target.connect();
    let broken = b"zz\r\nnot a chunk\r\n0\r\n\r\n";
    match pause {
        Some(pause) => {
            stream
                .write_all(bad_chunk_head(&target).as_bytes())
                .expect("send the head and a first chunk");
            std::thread::sleep(pause);
            let _ = stream.write_all(broken);
        }
        None => {
            let mut request = bad_chunk_head(&target).into_bytes();
            request.extend_from_slice(broken);
            stream.write_all(&request).expect("send the request");
        }
    }
    let response = read_response(&mut stream).expect("an HTTP response");
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        response.message().contains("the upload was interrupted"),
        "{}",
        response.text()
    );
    target.assert_intact(label, &before);
}

#[test]
fn an_invalid_chunk_size_mid_upload_is_400() {
    invalid_chunk_size_is_400(Some(Duration::from_millis(300)), "invalid chunk size");
}

#[test]
#[ignore = "gap: an invalid chunk size arriving with the head gets no response at all (the connection is closed), not a 400"]
fn an_invalid_chunk_size_sent_with_the_head_is_400() {
    invalid_chunk_size_is_400(None, "invalid chunk size with the head");
}

// ---------------------------------------------------------------------------------------------
// Slow clients and a panicking query
// ---------------------------------------------------------------------------------------------

#[test]
fn a_slowloris_client_does_not_stop_the_registry_answering_others() {
    let target = start(&[]);
    let before = target.snapshot();
    // A hundred connections dribble request heads, one byte each every 250 ms, for 4 s.
    let window = Duration::from_secs(4);
    let mut streams: Vec<TcpStream> = (0..100).map(|_| target.connect()).collect();
    let slow = std::thread::spawn(move || {
        let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        let started = Instant::now();
        let mut position = 0;
        while started.elapsed() < window {
            let byte = head.get(position).copied().unwrap_or(b'a');
            // A connection the registry gave up on is simply left behind.
            streams.retain_mut(|stream| stream.write_all(&[byte]).is_ok());
            position += 1;
            std::thread::sleep(Duration::from_millis(250));
        }
        streams.len()
    });
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < window {
        let asked = Instant::now();
        let status = client()
            .get(format!(
                "{}/v1/modules/acme/base/aws/versions",
                target.quarry.url
            ))
            .timeout(Duration::from_secs(1))
            .send()
            .map(|response| response.status().as_u16())
            .unwrap_or_else(|error| panic!("the registry stopped answering: {error}"));
        assert_eq!(status, 200);
        assert!(asked.elapsed() < Duration::from_secs(1));
        answered += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(answered >= 10, "only {answered} answers in 4 s");
    let still_open = slow.join().expect("slow client thread");
    assert!(still_open > 0, "the slow clients were all refused at once");
    target.assert_intact("slowloris", &before);
}

const PANICKING: &str = "/v1/modules?offset=18446744073709551615";

#[test]
fn requests_that_panic_a_handler_do_not_take_the_registry_down() {
    // The answer itself is the gap below; this guards the process: a panic costs one
    // connection, never the registry.
    let target = start(&[]);
    let before = target.snapshot();
    let workers = std::thread::available_parallelism().map_or(4, usize::from);
    for _ in 0..workers * 3 {
        let mut stream = target.connect();
        let _ = stream.write_all(
            format!(
                "GET {PANICKING} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                target.address
            )
            .as_bytes(),
        );
        let _ = read_response(&mut stream);
    }
    for _ in 0..workers * 2 {
        target.assert_intact("after panicking requests", &before);
    }
}

#[test]
fn an_offset_past_i64_max_is_answered_not_dropped() {
    let target = start(&[]);
    let before = target.snapshot();
    let response = target.exchange(
        format!(
            "GET {PANICKING} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            target.address
        )
        .as_bytes(),
    );
    // An empty page, or a 400 that names the parameter.
    if response.status == 400 {
        assert!(response.message().contains("offset"), "{}", response.text());
    } else {
        assert_eq!(response.status, 200, "{}", response.text());
        let body: Value = serde_json::from_slice(&response.body).expect("json");
        assert_eq!(body["modules"], serde_json::json!([]));
    }
    target.assert_intact("offset u64::MAX", &before);
}
