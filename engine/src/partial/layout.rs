//! How a partial result is laid out in its file, so that a merge reads it fast and in flat
//! memory: the partial's other members on the first line, then one host per line.
//!
//! The file is one JSON document whatever its layout, and any layout is read (see
//! [`read_laid_out`]): a file laid out as written here is read a line at a time, with a batch
//! of hosts decoded on the pool at once; anything else, or anything the lines do not decode, is
//! read by the generic path, whose errors the caller reports. serde_json reads a document from
//! a reader a byte at a time on one thread: a 10,000-host partial (380 MB) took 2.5 s that
//! way, most of a merge. Written by hand because the split rests on this layout, which serde
//! does not know.

use std::io::{self, BufRead, Write};

use rayon::prelude::*;
use serde::Serialize;

use super::{Partial, PassedOver, RunIdentity, Shard};
use crate::inspect::ToolInfo;
use crate::pipeline::HostResult;
use crate::spool::Spool;

/// How the first line ends: the opening of the `hosts` member, the partial's last.
const HOSTS_OPENING: &[u8] = b"\"hosts\":[";
/// The last line: the end of `hosts` and of the partial.
const CLOSING: &[u8] = b"]}";
/// Hosts decoded on the pool at once.
const DECODE_BATCH: usize = 64;

/// The partial's members but its hosts, in the order [`Partial`] serialises them; its empty
/// `hosts` comes last.
#[derive(Serialize)]
struct Head<'a> {
    format: &'a str,
    version: u32,
    tool: &'a ToolInfo,
    shard: Shard,
    run: &'a RunIdentity,
    passed_over: &'a [PassedOver],
    hosts: [(); 0],
}

/// Writes `partial` laid out for [`read_laid_out`], ending in a newline.
pub(super) fn write_laid_out(partial: &Partial, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let head = serde_json::to_vec(&Head {
        format: &partial.format,
        version: partial.version,
        tool: &partial.tool,
        shard: partial.shard,
        run: &partial.run,
        passed_over: &partial.passed_over,
        hosts: [],
    })?;
    // `{…,"hosts":[]}` without its last two bytes: the hosts follow, a line each.
    let opening = head
        .strip_suffix(CLOSING)
        .filter(|opening| opening.ends_with(HOSTS_OPENING))
        .ok_or_else(|| io::Error::other("the partial's head does not end with its hosts"))?;
    out.write_all(opening)?;
    for position in 0..partial.hosts.len() {
        out.write_all(if position == 0 { b"\n" } else { b",\n" })?;
        let host = partial.hosts.encoded(position).ok_or_else(|| {
            io::Error::other(format!(
                "host {} of the partial could not be read back from the scan's temporary file",
                position + 1
            ))
        })?;
        out.write_all(&host)?;
    }
    out.write_all(b"\n")?;
    out.write_all(CLOSING)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The partial `reader` holds when it is laid out as [`write_laid_out`] writes it and every
/// part of it decodes; `None` otherwise (the caller then reads it the generic way, which
/// either reads another layout or says what is wrong). An error only when reading fails.
pub(super) fn read_laid_out(mut reader: impl BufRead) -> io::Result<Option<Partial>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    let Some(opening) = trim_line(&line).filter(|line| line.ends_with(HOSTS_OPENING)) else {
        return Ok(None);
    };
    let mut head = opening.to_vec();
    head.extend_from_slice(CLOSING);
    let Ok(mut partial) = serde_json::from_slice::<Partial>(&head) else {
        return Ok(None);
    };
    let hosts: Spool<HostResult> = Spool::new();
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(DECODE_BATCH);
    // Whether the last host line ended with the comma that says another host follows; `None`
    // before the first.
    let mut comma_after_last: Option<bool> = None;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let Some(text) = trim_line(&line) else {
            return Ok(None);
        };
        if text == CLOSING {
            break;
        }
        if comma_after_last == Some(false) {
            return Ok(None);
        }
        let (host, comma) = match text.strip_suffix(b",") {
            Some(host) => (host, true),
            None => (text, false),
        };
        comma_after_last = Some(comma);
        batch.push(host.to_vec());
        if batch.len() == DECODE_BATCH && !spool_batch(&mut batch, &hosts) {
            return Ok(None);
        }
    }
    // No host announced but missing, and nothing after the partial but white space.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    if comma_after_last == Some(true) || !rest.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !spool_batch(&mut batch, &hosts) {
        return Ok(None);
    }
    partial.hosts = hosts;
    Ok(Some(partial))
}

/// `line` without its line ending; `None` when it holds a carriage return or is not a whole
/// line of this layout.
fn trim_line(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    (!line.contains(&b'\r')).then_some(line)
}

/// Decodes the hosts of `batch` on the pool and spools them in order, emptying `batch`:
/// whether every one of them decoded.
fn spool_batch(batch: &mut Vec<Vec<u8>>, hosts: &Spool<HostResult>) -> bool {
    let encoded: Vec<Option<Vec<u8>>> = batch
        .par_iter()
        .map(|host| {
            serde_json::from_slice::<HostResult>(host)
                .ok()
                .map(|host| Spool::encode(&host))
        })
        .collect();
    batch.clear();
    let Some(encoded) = encoded.into_iter().collect::<Option<Vec<_>>>() else {
        return false;
    };
    for host in encoded {
        hosts.push_encoded(&host);
    }
    true
}
