//! What the registry and its worker processes say to each other over the worker's stdin and
//! stdout: one request, then one reply, each a frame of a JSON header and a byte payload (an
//! archive going in, a packed stack coming out), so that large bytes never pass through JSON.

use quarry_core::archive::{ArchiveError, Limits};
use quarry_core::blueprint::{Manifest, Problem};
use quarry_core::module::{AnalysisError, ModuleAnalysis};
use quarry_core::provider::{CheckedRelease, ReleaseError};
use quarry_core::render::{RenderError, Resolutions};
use quarry_core::version::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io;

/// The largest frame header either side accepts: inputs are at most 1 MiB, the rest is small.
pub const MAX_HEADER_BYTES: u32 = 64 << 20;

/// A job with the memory it may use.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// Bytes of address space the job may add to the worker's.
    pub memory_limit: u64,
    pub job: Job,
}

/// What a worker is asked to do. The payload that goes with the frame is named for each.
#[derive(Debug, Serialize, Deserialize)]
pub enum Job {
    /// Answer at once: the worker started and speaks this protocol. No payload.
    Ping,
    /// Check a module archive (the payload) and analyse its Terraform.
    AnalyzeModule { limits: Limits },
    /// Check a blueprint archive (the payload): every file, template, policy and context.
    CheckBlueprint { limits: Limits },
    /// Check a provider release (the payload, a `.tar.gz` of its files) for provider `name`
    /// at `version`: every zip opened and hashed.
    CheckRelease {
        limits: Limits,
        name: String,
        version: String,
        /// A mirrored version (its zips and `mirror.json`, see `quarry mirror import`).
        mirrored: bool,
    },
    /// Render a stack from a published blueprint. The payload is the blueprint's archive, or
    /// empty to use the worker's copy (it answers [`Reply::NeedArchive`] when it has none).
    Render(RenderJob),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RenderJob {
    /// The blueprint archive's sha256 (hex): the key of the worker's copy.
    pub digest: String,
    pub limits: Limits,
    pub version: Version,
    pub registry_host: String,
    pub inputs: Value,
    pub resolutions: Resolutions,
    pub output_limit: usize,
    /// Pack the stack and send it back (render), or only report whether it renders (validate).
    pub pack: bool,
}

/// A blueprint that passed its checks: what the registry stores of it.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckedBlueprint {
    pub namespace: String,
    pub name: String,
    pub manifest: Manifest,
    pub readme: String,
}

/// Why an upload was refused.
#[derive(Debug, Serialize, Deserialize)]
pub enum Refusal {
    Archive(ArchiveError),
    Analysis(AnalysisError),
    Blueprint(Vec<Problem>),
    Release(ReleaseError),
}

/// A worker's answer.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Pong,
    Module(Result<Box<ModuleAnalysis>, Refusal>),
    Blueprint(Result<Box<CheckedBlueprint>, Refusal>),
    Release(Result<Box<CheckedRelease>, Refusal>),
    /// The stack rendered; when packing, the payload is its `.tar.gz`.
    Rendered,
    RenderFailed(RenderError),
    /// The worker has no copy of the blueprint: send the archive with the job.
    NeedArchive,
    /// The blueprint's archive could not be read back (it passed its checks when published).
    Unreadable(String),
}

/// A reply with whether the worker retires after it (it grew too large to keep).
#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub reply: Reply,
    pub retire: bool,
}

/// Encodes a frame: header length (u32, little-endian), JSON header, payload length (u64), payload.
pub fn encode<T: Serialize>(header: &T, payload: &[u8]) -> io::Result<Vec<u8>> {
    let json = serde_json::to_vec(header).map_err(io::Error::other)?;
    let length = u32::try_from(json.len())
        .ok()
        .filter(|length| *length <= MAX_HEADER_BYTES)
        .ok_or_else(|| io::Error::other("frame header too large"))?;
    let mut frame = Vec::with_capacity(4 + json.len() + 8 + payload.len());
    frame.extend_from_slice(&length.to_le_bytes());
    frame.extend_from_slice(&json);
    frame.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// Reads one frame from a blocking reader (the worker's side); `None` at a clean end of input.
pub fn read_blocking<T: for<'de> Deserialize<'de>>(
    reader: &mut impl io::Read,
    max_payload: u64,
) -> io::Result<Option<(T, Vec<u8>)>> {
    let mut length = [0u8; 4];
    match reader.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let header = read_part(
        reader,
        u32::from_le_bytes(length).into(),
        MAX_HEADER_BYTES.into(),
    )?;
    let mut length = [0u8; 8];
    reader.read_exact(&mut length)?;
    let payload = read_part(reader, u64::from_le_bytes(length), max_payload)?;
    let header = serde_json::from_slice(&header).map_err(io::Error::other)?;
    Ok(Some((header, payload)))
}

fn read_part(reader: &mut impl io::Read, length: u64, most: u64) -> io::Result<Vec<u8>> {
    if length > most {
        return Err(io::Error::other(format!(
            "frame part of {length} bytes, more than {most}"
        )));
    }
    let mut part = vec![0u8; length as usize];
    reader.read_exact(&mut part)?;
    Ok(part)
}

/// Reads one frame from the worker's stdout (the registry's side).
pub async fn read_async<T: for<'de> Deserialize<'de>>(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
    max_payload: u64,
) -> io::Result<(T, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let length = reader.read_u32_le().await?;
    if length > MAX_HEADER_BYTES {
        return Err(io::Error::other("frame header too large"));
    }
    let mut header = vec![0u8; length as usize];
    reader.read_exact(&mut header).await?;
    let length = reader.read_u64_le().await?;
    if length > max_payload {
        return Err(io::Error::other(format!(
            "frame payload of {length} bytes, more than {max_payload}"
        )));
    }
    let mut payload = vec![0u8; length as usize];
    reader.read_exact(&mut payload).await?;
    let header = serde_json::from_slice(&header).map_err(io::Error::other)?;
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_as_it_was_written() {
        let frame = encode(
            &Envelope {
                memory_limit: 7,
                job: Job::Ping,
            },
            b"payload",
        )
        .expect("encodes");
        let mut reader = frame.as_slice();
        let (envelope, payload): (Envelope, Vec<u8>) = read_blocking(&mut reader, 100)
            .expect("reads")
            .expect("a frame");
        assert_eq!(envelope.memory_limit, 7);
        assert!(matches!(envelope.job, Job::Ping));
        assert_eq!(payload, b"payload");
        assert!(
            read_blocking::<Envelope>(&mut reader, 100)
                .expect("clean end")
                .is_none()
        );
        let mut reader = frame.as_slice();
        assert!(read_blocking::<Envelope>(&mut reader, 3).is_err());
    }
}
