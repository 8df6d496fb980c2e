//! Deliberate damage to a written log, for tests of how readers cope with broken files.
//!
//! Each helper breaks one thing and leaves the rest intact: where the damage would also
//! change a CRC-32 that covers it, that CRC-32 is recomputed, so that a reader sees only
//! the fault the helper names.

use crate::writer::{seal_chunk, CHUNK_HEADER_SIZE, CHUNK_SIZE, FILE_HEADER_SIZE};

/// The byte range of chunk `chunk` (from 0) in a log. Panics if the log has no such chunk.
fn chunk_range(bytes: &[u8], chunk: usize) -> std::ops::Range<usize> {
    let start = FILE_HEADER_SIZE + chunk * CHUNK_SIZE;
    assert!(
        start + CHUNK_SIZE <= bytes.len(),
        "the log has no chunk {chunk}"
    );
    start..start + CHUNK_SIZE
}

/// Inverts the file header's stored CRC-32 (offset 124), so it no longer matches the header.
///
/// The `evtx` crate still reads the records (it finds chunks at fixed offsets), and says so
/// only through its `EvtxFileHeader::validate_checksum`, which fails.
pub fn flip_header_crc(bytes: &mut [u8]) {
    bytes[124..128].iter_mut().for_each(|b| *b = !*b);
}

/// Overwrites the `ElfChnk\0` signature of chunk `chunk` (from 0) with `BadChnk\0`.
pub fn corrupt_chunk_magic(bytes: &mut [u8], chunk: usize) {
    let range = chunk_range(bytes, chunk);
    bytes[range.start..range.start + 8].copy_from_slice(b"BadChnk\0");
}

/// Makes the records CRC-32 that the header of chunk `chunk` (from 0) stores wrong, and
/// recomputes the header's own CRC-32 so that only the records' one fails.
pub fn break_records_crc(bytes: &mut [u8], chunk: usize) {
    let range = chunk_range(bytes, chunk);
    let data = &mut bytes[range];
    data[52..56].iter_mut().for_each(|b| *b = !*b);
    let broken: [u8; 4] = data[52..56].try_into().unwrap();
    seal_chunk(data);
    // `seal_chunk` recomputed the records CRC-32 too: put the broken one back, then seal the
    // header over it alone.
    data[52..56].copy_from_slice(&broken);
    let header_crc = crate::crc::crc32(&[&data[..120], &data[128..CHUNK_HEADER_SIZE]]);
    data[124..128].copy_from_slice(&header_crc.to_le_bytes());
}

/// Cuts the log off after its first `len` bytes, as a copy interrupted part way would.
pub fn truncate_after(bytes: &mut Vec<u8>, len: usize) {
    bytes.truncate(len);
}

/// The file offset of record `record_id`, found by walking each chunk's records from its
/// first to its free space. `None` if no chunk holds it.
pub fn record_offset(bytes: &[u8], record_id: u64) -> Option<usize> {
    let chunks = bytes.len().saturating_sub(FILE_HEADER_SIZE) / CHUNK_SIZE;
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    for chunk in 0..chunks {
        let start = FILE_HEADER_SIZE + chunk * CHUNK_SIZE;
        let free_space = u32_at(start + 48).min(CHUNK_SIZE);
        let mut offset = CHUNK_HEADER_SIZE;
        while offset + 24 <= free_space {
            let at = start + offset;
            let id = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
            if id == record_id {
                return Some(at);
            }
            let size = u32_at(at + 4);
            if size == 0 {
                break;
            }
            offset += size;
        }
    }
    None
}

/// Sets the size of record `record_id` to 0 (its trailing copy of the size stays), and
/// recomputes its chunk's CRC-32s so that only the record is broken. Panics if the log has
/// no such record.
pub fn zero_record_size(bytes: &mut [u8], record_id: u64) {
    let at = record_offset(bytes, record_id)
        .unwrap_or_else(|| panic!("the log has no record {record_id}"));
    bytes[at + 4..at + 8].copy_from_slice(&0u32.to_le_bytes());
    let chunk = (at - FILE_HEADER_SIZE) / CHUNK_SIZE;
    let range = chunk_range(bytes, chunk);
    seal_chunk(&mut bytes[range]);
}
