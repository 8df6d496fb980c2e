//! Writes genuine EVTX files (Windows XML Event Log) from events described in code, so that
//! hiveward's tests can feed its event log readers and rules the files Windows would write.
//!
//! No crate writes EVTX (the ones there are only read it), so this one is hand-written from the
//! format documentation (libyal's "Windows XML Event Log (EVTX) format" and MS-EVEN6) and
//! checked against two independent readers, the `evtx` crate and libyal's `evtxexport`.
//!
//! What it writes is the real format throughout:
//! - the file header (`ElfFile\0`, chunk numbers and count, next record identifier, version
//!   3.1, CRC-32 of its first 120 bytes);
//! - 64 KiB chunks (`ElfChnk\0`, first and last record numbers and identifiers, last record and
//!   free space offsets, the CRC-32 of the records, the string and template tables, and the
//!   header CRC-32 of bytes 0..120 and 128..512);
//! - records (`**\0\0`, size, identifier, written FILETIME, binary XML, copy of the size);
//! - binary XML: a fragment header and a template instance whose template (defined in the
//!   first record of a chunk that uses it, referred to by later ones) is the standard
//!   `<Event xmlns=…><System>…</System><EventData><Data Name=…>…</Data>…</EventData></Event>`
//!   or its `<UserData>` form, with every value a typed substitution.
//!
//! ```
//! use hiveward_evtxwriter::{servicing_setup_2, Event, EvtxWriter, Value};
//!
//! let mut log = EvtxWriter::new();
//! let first = log.push(
//!     Event::new("Security", "Microsoft-Windows-Security-Auditing", 5168)
//!         .computer("FS01.corp.example")
//!         .unix_time(1_700_000_000)
//!         .data("SpnName", Value::String("cifs/files".into()))
//!         .data("ErrorCode", Value::Hex32(0xC000_0022)),
//! );
//! log.push(servicing_setup_2("KB5005565", "Installed", 0, "UpdateAgentLCU"));
//! assert_eq!(first, 1);
//!
//! let bytes: Vec<u8> = log.to_bytes();
//! assert!(bytes.starts_with(b"ElfFile\0"));
//! assert_eq!(bytes.len(), 4096 + 65536); // the header block and one chunk
//! assert_eq!(&bytes[4096..4104], b"ElfChnk\0");
//! ```
#![deny(missing_docs)]

mod binxml;
mod crc;
mod damage;
mod event;
mod samples;
mod value;
mod writer;

pub use crate::{
    binxml::EVENT_NAMESPACE,
    damage::{
        break_records_crc, corrupt_chunk_magic, flip_header_crc, record_offset, truncate_after,
        zero_record_size,
    },
    event::{Event, DEFAULT_TIME},
    samples::{
        kerberos_system_4, security_4624, security_5168, servicing_setup_2, smb_server_551,
        smb_server_operational_1003, AUDIT_FAILURE, AUDIT_SUCCESS,
    },
    value::{encode_sid, filetime_from_unix, format_guid, parse_guid, Value},
    writer::{
        EvtxWriter, CHUNK_HEADER_SIZE, CHUNK_SIZE, FILE_HEADER_SIZE, RECORD_HEADER_SIZE,
        RECORD_MAGIC,
    },
};
