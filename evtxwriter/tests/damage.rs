//! The damage helpers break what they say, and the `evtx` crate notices: later product tests
//! rely on each of these files being reported as damaged.

use evtx::{EvtxParser, ParserSettings};
use hiveward_evtxwriter::*;

/// A log of three chunks of three records each.
fn three_chunks() -> Vec<u8> {
    let mut log = EvtxWriter::new().records_per_chunk(3);
    for i in 0..9 {
        log.push(security_4624(&format!("user{i}"), 3, "NTLM", "NTLM V2"));
    }
    let bytes = log.to_bytes();
    assert_eq!(bytes.len(), FILE_HEADER_SIZE + 3 * CHUNK_SIZE);
    bytes
}

/// What the `evtx` crate makes of `bytes`, with or without checksum validation: the record
/// identifiers it reads, and its errors.
fn read(bytes: &[u8], validate_checksums: bool) -> (Vec<u64>, Vec<evtx::err::EvtxError>) {
    let mut parser = EvtxParser::from_buffer(bytes.to_vec())
        .expect("the header opens")
        .with_configuration(
            ParserSettings::new()
                .num_threads(1)
                .validate_checksums(validate_checksums),
        );
    let (mut ids, mut errors) = (Vec::new(), Vec::new());
    for record in parser.records_json_value() {
        match record {
            Ok(record) => ids.push(record.event_record_id),
            Err(error) => errors.push(error),
        }
    }
    (ids, errors)
}

#[test]
fn the_undamaged_log_reads_cleanly() {
    let bytes = three_chunks();
    for validate in [false, true] {
        let (ids, errors) = read(&bytes, validate);
        assert_eq!(ids, (1..=9).collect::<Vec<_>>());
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn a_flipped_header_crc_fails_the_header_check() {
    let mut bytes = three_chunks();
    flip_header_crc(&mut bytes);
    let parser = EvtxParser::from_buffer(bytes.clone()).unwrap();
    // The evtx crate reads such a file anyway (it finds chunks at fixed offsets) and says so
    // through the header check, which is what a reader has to look at.
    assert!(!parser.header().validate_checksum());
    assert_ne!(parser.header().checksum, parser.header().computed_checksum);
    let (ids, errors) = read(&bytes, true);
    assert_eq!(ids.len(), 9);
    assert!(errors.is_empty());
}

#[test]
fn a_corrupt_chunk_magic_is_an_error() {
    let mut bytes = three_chunks();
    corrupt_chunk_magic(&mut bytes, 1);
    for validate in [false, true] {
        let (ids, errors) = read(&bytes, validate);
        assert_eq!(ids, [1, 2, 3, 7, 8, 9], "the other chunks still read");
        assert_eq!(errors.len(), 1, "{errors:?}");
        let message = format!("{:?}", errors[0]);
        assert!(message.contains("InvalidEvtxChunkMagic"), "{message}");
    }
}

#[test]
fn a_broken_records_crc_fails_checksum_validation() {
    let mut bytes = three_chunks();
    break_records_crc(&mut bytes, 2);
    let (ids, errors) = read(&bytes, true);
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = format!("{:?}", errors[0]);
    assert!(message.contains("InvalidChunkChecksum"), "{message}");
    // Only the records CRC-32 is wrong: the header's own still holds, and the records parse.
    let mut parser = EvtxParser::from_buffer(bytes.clone()).unwrap();
    let chunk = parser.chunks().nth(2).unwrap().unwrap();
    assert!(chunk.validate_header_checksum());
    assert!(!chunk.validate_data_checksum());
    assert_eq!(read(&bytes, false).0.len(), 9);
}

#[test]
fn a_record_of_size_zero_is_an_error() {
    let mut bytes = three_chunks();
    zero_record_size(&mut bytes, 5);
    // The chunk's CRC-32s were recomputed: it is the record the reader trips on.
    for validate in [false, true] {
        let (ids, errors) = read(&bytes, validate);
        assert_eq!(ids, [1, 2, 3, 4, 6, 7, 8, 9]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let message = format!("{:?}", errors[0]);
        assert!(message.contains("InvalidDataSize"), "{message}");
    }
}

#[test]
fn record_offsets_are_found() {
    let bytes = three_chunks();
    let first = record_offset(&bytes, 1).unwrap();
    assert_eq!(first, FILE_HEADER_SIZE + CHUNK_HEADER_SIZE);
    assert_eq!(&bytes[first..first + 4], &RECORD_MAGIC);
    let fourth = record_offset(&bytes, 4).unwrap();
    assert_eq!(fourth, FILE_HEADER_SIZE + CHUNK_SIZE + CHUNK_HEADER_SIZE);
    assert_eq!(bytes[fourth + 8], 4);
    assert_eq!(record_offset(&bytes, 10), None);
}

#[test]
fn truncation_in_the_header_is_an_error() {
    let mut bytes = three_chunks();
    truncate_after(&mut bytes, 100);
    assert_eq!(bytes.len(), 100);
    assert!(EvtxParser::from_buffer(bytes).is_err());
}

#[test]
fn truncation_in_a_chunk_loses_its_records() {
    let mut bytes = three_chunks();
    let cut = FILE_HEADER_SIZE + CHUNK_SIZE + 1000;
    truncate_after(&mut bytes, cut);
    assert_eq!(bytes.len(), cut);
    // The evtx crate counts chunks by the file's size and so silently stops before the cut
    // chunk: it is the file header, which still counts three chunks and names record 10 as
    // the next, that shows records are missing.
    let parser = EvtxParser::from_buffer(bytes.clone()).unwrap();
    assert!(parser.header().validate_checksum());
    assert_eq!(parser.header().chunk_count, 3);
    assert_eq!(parser.header().next_record_id, 10);
    let whole_chunks = (bytes.len() - FILE_HEADER_SIZE) / CHUNK_SIZE;
    assert!(usize::from(parser.header().chunk_count) > whole_chunks);
    let (ids, errors) = read(&bytes, true);
    assert_eq!(ids, [1, 2, 3]);
    assert!(errors.is_empty(), "{errors:?}");
}
