//! `EvtxWriter`: lays events out as records in 64 KiB chunks behind a file header.

use std::path::Path;

use crate::binxml::{event_binxml, ChunkTables};
use crate::crc::crc32;
use crate::event::Event;

/// Size of the file header block; the first chunk starts here.
pub const FILE_HEADER_SIZE: usize = 4096;
/// Size of a chunk.
pub const CHUNK_SIZE: usize = 65536;
/// Size of a chunk header; a chunk's first record starts here.
pub const CHUNK_HEADER_SIZE: usize = 512;
/// Size of a record header (signature, size, record identifier, written time).
pub const RECORD_HEADER_SIZE: usize = 24;
/// The signature of a record.
pub const RECORD_MAGIC: [u8; 4] = [0x2a, 0x2a, 0x00, 0x00];

/// Collects events and writes them as an EVTX file.
///
/// Records get identifiers in the order the events are pushed, from 1 unless
/// [`first_record_id`](EvtxWriter::first_record_id) says otherwise. A record goes in the
/// current chunk while it fits (and while the chunk has fewer records than
/// [`records_per_chunk`](EvtxWriter::records_per_chunk) allows), else it starts a new chunk.
#[derive(Debug, Clone)]
pub struct EvtxWriter {
    events: Vec<Event>,
    first_record_id: u64,
    records_per_chunk: usize,
}

impl Default for EvtxWriter {
    fn default() -> Self {
        EvtxWriter::new()
    }
}

/// A chunk being filled.
struct Chunk {
    data: Vec<u8>,
    tables: ChunkTables,
    free_space: usize,
    first_id: u64,
    last_id: u64,
    last_record_offset: usize,
    records: usize,
}

impl Chunk {
    fn new() -> Self {
        Chunk {
            data: vec![0; CHUNK_SIZE],
            tables: ChunkTables::default(),
            free_space: CHUNK_HEADER_SIZE,
            first_id: 0,
            last_id: 0,
            last_record_offset: 0,
            records: 0,
        }
    }

    /// Adds `event` as record `id` if it fits, and says whether it did.
    fn try_push(&mut self, event: &Event, id: u64, time: u64) -> bool {
        let offset = self.free_space;
        let mut tables = self.tables.clone();
        let binxml = event_binxml(event, id, (offset + RECORD_HEADER_SIZE) as u32, &mut tables);
        let size = RECORD_HEADER_SIZE + binxml.len() + 4;
        if offset + size > CHUNK_SIZE {
            return false;
        }
        let size32 = (size as u32).to_le_bytes();
        let record = &mut self.data[offset..offset + size];
        record[..4].copy_from_slice(&RECORD_MAGIC);
        record[4..8].copy_from_slice(&size32);
        record[8..16].copy_from_slice(&id.to_le_bytes());
        record[16..24].copy_from_slice(&time.to_le_bytes());
        record[24..size - 4].copy_from_slice(&binxml);
        record[size - 4..].copy_from_slice(&size32);
        self.tables = tables;
        if self.records == 0 {
            self.first_id = id;
        }
        self.last_id = id;
        self.last_record_offset = offset;
        self.free_space = offset + size;
        self.records += 1;
        true
    }

    /// The chunk with its header filled in.
    fn finish(mut self) -> Vec<u8> {
        let d = &mut self.data;
        d[..8].copy_from_slice(b"ElfChnk\0");
        // Record numbers count the records of the log as identifiers do; a log that was never
        // cleared has the same for both.
        d[8..16].copy_from_slice(&self.first_id.to_le_bytes());
        d[16..24].copy_from_slice(&self.last_id.to_le_bytes());
        d[24..32].copy_from_slice(&self.first_id.to_le_bytes());
        d[32..40].copy_from_slice(&self.last_id.to_le_bytes());
        d[40..44].copy_from_slice(&128u32.to_le_bytes());
        d[44..48].copy_from_slice(&(self.last_record_offset as u32).to_le_bytes());
        d[48..52].copy_from_slice(&(self.free_space as u32).to_le_bytes());
        for (i, offset) in self.tables.string_table.iter().enumerate() {
            d[128 + i * 4..132 + i * 4].copy_from_slice(&offset.to_le_bytes());
        }
        for (i, offset) in self.tables.template_table.iter().enumerate() {
            d[384 + i * 4..388 + i * 4].copy_from_slice(&offset.to_le_bytes());
        }
        seal_chunk(d);
        self.data
    }
}

/// Recomputes a chunk's two CRC-32s: the records' (bytes 512 to the free space offset, at
/// offset 52), then the header's (bytes 0..120 and 128..512, at offset 124).
pub(crate) fn seal_chunk(chunk: &mut [u8]) {
    let free_space = u32::from_le_bytes(chunk[48..52].try_into().unwrap()) as usize;
    let records_crc = crc32(&[&chunk[CHUNK_HEADER_SIZE..free_space.min(CHUNK_SIZE)]]);
    chunk[52..56].copy_from_slice(&records_crc.to_le_bytes());
    let header_crc = crc32(&[&chunk[..120], &chunk[128..CHUNK_HEADER_SIZE]]);
    chunk[124..128].copy_from_slice(&header_crc.to_le_bytes());
}

/// Recomputes the file header's CRC-32 of its first 120 bytes, at offset 124.
pub(crate) fn seal_file_header(bytes: &mut [u8]) {
    let crc = crc32(&[&bytes[..120]]);
    bytes[124..128].copy_from_slice(&crc.to_le_bytes());
}

impl EvtxWriter {
    /// An empty log whose first record will be record 1.
    pub fn new() -> Self {
        EvtxWriter {
            events: Vec::new(),
            first_record_id: 1,
            records_per_chunk: usize::MAX,
        }
    }

    /// Numbers the records from `id` instead of 1, as a log that was cleared before would.
    pub fn first_record_id(mut self, id: u64) -> Self {
        self.first_record_id = id;
        self
    }

    /// Puts at most `limit` records in a chunk (at least 1), to spread a few records over
    /// several chunks. Without it, chunks are filled.
    pub fn records_per_chunk(mut self, limit: usize) -> Self {
        self.records_per_chunk = limit.max(1);
        self
    }

    /// Adds `event` as the next record and returns its record identifier.
    pub fn push(&mut self, event: Event) -> u64 {
        self.events.push(event);
        self.first_record_id + self.events.len() as u64 - 1
    }

    /// The events pushed so far, in record order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The number of events pushed.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event was pushed.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The record identifier of the `index`th event pushed (from 0).
    pub fn record_id(&self, index: usize) -> u64 {
        self.first_record_id + index as u64
    }

    /// The whole EVTX file: the 4096-byte file header, then one 65536-byte chunk for each
    /// chunk's worth of records (none for an empty log).
    ///
    /// Panics if one event alone is too large for a chunk.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut chunks = Vec::new();
        let mut chunk = Chunk::new();
        for (index, event) in self.events.iter().enumerate() {
            let id = self.record_id(index);
            if chunk.records < self.records_per_chunk && chunk.try_push(event, id, event.time) {
                continue;
            }
            assert!(
                chunk.records > 0,
                "record {id} is too large for a chunk of {CHUNK_SIZE} bytes"
            );
            chunks.push(std::mem::replace(&mut chunk, Chunk::new()).finish());
            assert!(
                chunk.try_push(event, id, event.time),
                "record {id} is too large for a chunk of {CHUNK_SIZE} bytes"
            );
        }
        if chunk.records > 0 {
            chunks.push(chunk.finish());
        }

        let mut bytes = vec![0u8; FILE_HEADER_SIZE];
        let chunk_count = u16::try_from(chunks.len()).expect("at most 65535 chunks");
        let next_record_id = self.first_record_id + self.events.len() as u64;
        bytes[..8].copy_from_slice(b"ElfFile\0");
        bytes[8..16].copy_from_slice(&0u64.to_le_bytes());
        let last_chunk = u64::from(chunk_count.saturating_sub(1));
        bytes[16..24].copy_from_slice(&last_chunk.to_le_bytes());
        bytes[24..32].copy_from_slice(&next_record_id.to_le_bytes());
        bytes[32..36].copy_from_slice(&128u32.to_le_bytes());
        bytes[36..38].copy_from_slice(&1u16.to_le_bytes());
        bytes[38..40].copy_from_slice(&3u16.to_le_bytes());
        bytes[40..42].copy_from_slice(&(FILE_HEADER_SIZE as u16).to_le_bytes());
        bytes[42..44].copy_from_slice(&chunk_count.to_le_bytes());
        // Flags (offset 120): 0, a log that was closed cleanly.
        seal_file_header(&mut bytes);
        for chunk in chunks {
            bytes.extend_from_slice(&chunk);
        }
        bytes
    }

    /// Writes [`to_bytes`](EvtxWriter::to_bytes) to `path`.
    pub fn write_to(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_bytes())
    }
}
