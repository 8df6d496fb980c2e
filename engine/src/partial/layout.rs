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

use std::io::{self, BufRead, Read, Write};

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
/// The longest first line read as this layout's (the bundle's passed-over files make most of
/// it): past it, the generic reader reads the file.
const HEAD_LIMIT: u64 = 16 * 1024 * 1024;
/// Hosts decoded on the pool at once, at most: fewer when they take [`BATCH_BYTES`] first.
const DECODE_BATCH: usize = 64;
/// Bytes of host lines in one batch, at most one host past it: with two batches waiting and
/// one read, the hosts read ahead stay within a few times this.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

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

/// The partial `reader` holds when it is laid out as [`write_laid_out`] writes it, every part
/// of it decodes and `accept_head` accepts its members but the hosts (read first); `None`
/// otherwise (the caller then reads it the generic way, which either reads another layout or
/// says what is wrong). An error only when reading fails.
pub(super) fn read_laid_out(
    mut reader: impl BufRead,
    accept_head: impl FnOnce(&Partial) -> bool,
) -> io::Result<Option<Partial>> {
    // A partial of another layout may be one line of gigabytes: only so much is looked at.
    let mut line = Vec::new();
    (&mut reader)
        .take(HEAD_LIMIT)
        .read_until(b'\n', &mut line)?;
    let Some(opening) = line
        .strip_suffix(b"\n")
        .and_then(trim_line)
        .filter(|line| line.ends_with(HOSTS_OPENING))
    else {
        return Ok(None);
    };
    let mut head = opening.to_vec();
    head.extend_from_slice(CLOSING);
    let Ok(mut partial) = serde_json::from_slice::<Partial>(&head) else {
        return Ok(None);
    };
    if !accept_head(&partial) {
        return Ok(None);
    }
    // This thread reads the lines; a helper spools them, in order, as the pool decodes a batch
    // at a time, while the next batch is read.
    let hosts: Spool<HostResult> = Spool::new();
    let laid_out = std::thread::scope(|scope| -> io::Result<bool> {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
        let spooled = &hosts;
        // Stops at the first batch that does not decode, which stops the reading too.
        let spooler = scope.spawn(move || {
            receiver
                .into_iter()
                .all(|batch| spool_batch(batch, spooled))
        });
        let read = read_host_lines(&mut reader, |batch| sender.send(batch).is_ok());
        drop(sender);
        let decoded = spooler.join().unwrap_or(false);
        Ok(read? && decoded)
    })?;
    if !laid_out {
        return Ok(None);
    }
    partial.hosts = hosts;
    Ok(Some(partial))
}

/// Reads the host lines that follow the first line, handing them to `send` a batch at a time
/// (`send` saying false stops the reading): whether they are laid out as written here, a host
/// a line up to the closing line, with nothing but white space after it.
fn read_host_lines(
    reader: &mut impl BufRead,
    mut send: impl FnMut(Vec<Vec<u8>>) -> bool,
) -> io::Result<bool> {
    let mut line = Vec::new();
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(DECODE_BATCH);
    let mut batch_bytes = 0;
    // Whether the last host line ended with the comma that says another host follows; `None`
    // before the first.
    let mut comma_after_last: Option<bool> = None;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(false);
        }
        let Some(text) = trim_line(&line) else {
            return Ok(false);
        };
        if text == CLOSING {
            break;
        }
        if comma_after_last == Some(false) {
            return Ok(false);
        }
        let (host, comma) = match text.strip_suffix(b",") {
            Some(host) => (host, true),
            None => (text, false),
        };
        comma_after_last = Some(comma);
        batch.push(host.to_vec());
        batch_bytes += host.len();
        if batch.len() == DECODE_BATCH || batch_bytes >= BATCH_BYTES {
            batch_bytes = 0;
            let full = std::mem::replace(&mut batch, Vec::with_capacity(DECODE_BATCH));
            if !send(full) {
                return Ok(false);
            }
        }
    }
    // No host announced but missing, and nothing after the partial but white space.
    if comma_after_last == Some(true) {
        return Ok(false);
    }
    loop {
        let rest = reader.fill_buf()?;
        if rest.is_empty() {
            break;
        }
        if !rest.iter().all(u8::is_ascii_whitespace) {
            return Ok(false);
        }
        let read = rest.len();
        reader.consume(read);
    }
    Ok(batch.is_empty() || send(batch))
}

/// `line` without its line ending; `None` when it holds a carriage return or is not a whole
/// line of this layout.
fn trim_line(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    (!line.contains(&b'\r')).then_some(line)
}

/// Decodes the hosts of `batch` on the pool and spools them in order: whether every one of
/// them decoded.
fn spool_batch(batch: Vec<Vec<u8>>, hosts: &Spool<HostResult>) -> bool {
    let encoded: Vec<Option<Vec<u8>>> = batch
        .par_iter()
        .map(|host| {
            serde_json::from_slice::<HostResult>(host)
                .ok()
                .map(|host| Spool::encode(&host))
        })
        .collect();
    let Some(encoded) = encoded.into_iter().collect::<Option<Vec<_>>>() else {
        return false;
    };
    for host in encoded {
        hosts.push_encoded(&host);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines after a partial's first line for `hosts`, as written.
    fn host_lines(hosts: &[Vec<u8>]) -> Vec<u8> {
        let mut text = Vec::new();
        for (at, host) in hosts.iter().enumerate() {
            text.extend_from_slice(if at == 0 { b"" } else { b",\n" });
            text.extend_from_slice(host);
        }
        if !hosts.is_empty() {
            text.push(b'\n');
        }
        text.extend_from_slice(b"]}\n");
        text
    }

    /// The batches `read_host_lines` hands over for `text`, and what it answered.
    fn batches(text: &[u8]) -> (bool, Vec<Vec<Vec<u8>>>) {
        let mut handed = Vec::new();
        let laid_out = read_host_lines(&mut &text[..], |batch| {
            handed.push(batch);
            true
        })
        .unwrap();
        (laid_out, handed)
    }

    #[test]
    fn host_lines_come_in_order_in_batches_bounded_by_count_and_bytes() {
        let hosts: Vec<Vec<u8>> = (0..150)
            .map(|at| format!("{{\"h\":{at}}}").into_bytes())
            .collect();
        let (laid_out, handed) = batches(&host_lines(&hosts));
        assert!(laid_out);
        let sizes: Vec<usize> = handed.iter().map(Vec::len).collect();
        assert_eq!(sizes, [DECODE_BATCH, DECODE_BATCH, 150 - 2 * DECODE_BATCH]);
        assert_eq!(handed.concat(), hosts);

        let big = vec![b'x'; BATCH_BYTES / 2 + 1];
        let (laid_out, handed) = batches(&host_lines(&[big.clone(), big.clone(), big]));
        assert!(laid_out);
        let sizes: Vec<usize> = handed.iter().map(Vec::len).collect();
        assert_eq!(
            sizes,
            [2, 1],
            "a batch ends once it passes {BATCH_BYTES} bytes"
        );

        let (laid_out, handed) = batches(&host_lines(&[]));
        assert!(laid_out && handed.is_empty());
    }

    #[test]
    fn lines_not_laid_out_as_written_are_passed_over() {
        for text in [
            &b"{\"h\":1},\n]}\n"[..],      // a comma announcing a host that is not there
            b"{\"h\":1}\n{\"h\":2}\n]}\n", // a host after one without its comma
            b"{\"h\":1}\r\n]}\r\n",        // carriage returns
            b"{\"h\":1}\n]}\n{}",          // something after the end
            b"{\"h\":1},\n{\"h\":2}\n",    // no end
        ] {
            let (laid_out, _) = batches(text);
            assert!(!laid_out, "{}", String::from_utf8_lossy(text));
        }
        let (laid_out, _) = batches(b"{\"h\":1}\n]}\n \n\t\n");
        assert!(laid_out, "white space after the end is allowed");
    }

    #[test]
    fn a_refused_batch_stops_the_reading() {
        let hosts: Vec<Vec<u8>> = (0..200).map(|at| format!("{at}").into_bytes()).collect();
        let mut handed = 0;
        let laid_out = read_host_lines(&mut &host_lines(&hosts)[..], |_| {
            handed += 1;
            false
        })
        .unwrap();
        assert!(!laid_out);
        assert_eq!(handed, 1);
    }
}
