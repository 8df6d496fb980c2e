//! Unit tests of `raw`.

use super::*;

/// A template definition fragment: `<Event><System><Provider Name="%0"/><EventID>%1</EventID>
/// <Channel>Security</Channel><Computer>%2</Computer></System></Event>`, names inline.
fn template_fixture() -> Vec<u8> {
    fn name(out: &mut Vec<u8>, text: &str) {
        let offset = out.len() as u32 + 4;
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        let units: Vec<u16> = text.encode_utf16().collect();
        out.extend_from_slice(&(units.len() as u16).to_le_bytes());
        for unit in units {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    fn open(out: &mut Vec<u8>, text: &str, attributes: bool) {
        out.push(if attributes { 0x41 } else { 0x01 });
        out.extend_from_slice(&0xffffu16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        name(out, text);
        if attributes {
            out.extend_from_slice(&0u32.to_le_bytes());
        }
    }
    fn substitution(out: &mut Vec<u8>, index: u16, value_type: u8) {
        out.push(0x0e);
        out.extend_from_slice(&index.to_le_bytes());
        out.push(value_type);
    }
    let mut out = vec![0x0f, 1, 1, 0];
    open(&mut out, "Event", false);
    out.push(0x02);
    open(&mut out, "System", false);
    out.push(0x02);
    open(&mut out, "Provider", true);
    out.push(0x06);
    name(&mut out, "Name");
    substitution(&mut out, 0, 0x01);
    out.push(0x03);
    open(&mut out, "EventID", false);
    out.push(0x02);
    substitution(&mut out, 1, 0x06);
    out.push(0x04);
    open(&mut out, "Channel", false);
    out.push(0x02);
    out.push(0x05);
    out.push(0x01);
    let units: Vec<u16> = "Security".encode_utf16().collect();
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    for unit in units {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out.push(0x04);
    open(&mut out, "Computer", false);
    out.push(0x02);
    substitution(&mut out, 2, 0x01);
    out.push(0x04);
    out.push(0x04); // System
    out.push(0x04); // Event
    out.push(0x00);
    out
}

#[test]
fn scanner_finds_system_slots_in_a_template() {
    let bytes = template_fixture();
    let slots = scan_system(&bytes, 0, bytes.len(), true).unwrap();
    assert_eq!(slots.provider, Slot::Substitution(0));
    assert_eq!(slots.event_id, Slot::Substitution(1));
    assert_eq!(slots.channel, Slot::Text("Security".to_string()));
    assert_eq!(slots.computer, Slot::Substitution(2));
    let values = [
        BinXmlValue::AnsiStringType("Microsoft-Windows-Security-Auditing"),
        BinXmlValue::UInt16Type(4624),
        BinXmlValue::NullType,
    ];
    assert_eq!(
        resolve(&slots, &values),
        Some(SystemHead {
            channel: "Security".to_string(),
            provider: "Microsoft-Windows-Security-Auditing".to_string(),
            id: 4624,
            computer: String::new(),
        })
    );
    // Not enough values: the pre-filter gives up rather than guessing.
    assert_eq!(resolve(&slots, &values[..1]), None);
}

#[test]
fn raw_values_resolve_through_the_chunk_strings() {
    let bytes = template_fixture();
    let slots = scan_system(&bytes, 0, bytes.len(), true).unwrap();
    // The substitution values, laid out as a record holds them.
    let provider: Vec<u8> = "Provider\0"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut data = provider.clone();
    data.extend_from_slice(&4624u16.to_le_bytes());
    let values = [
        (STRING_TYPE, 0, provider.len() as u32),
        (0x06, provider.len() as u32, 2),
        (0x00, 0, 0),
    ];
    let mut texts = Texts::default();
    let raw = RawSlots::new(&slots, &mut texts).unwrap();
    let head = resolve_raw(&data, raw, &values, &mut texts).unwrap();
    assert_eq!(texts.get(head.channel), "Security");
    assert_eq!(texts.get(head.provider), "Provider");
    assert_eq!(texts.get(head.computer), "");
    assert_eq!(head.id, 4624);
    // The same values again: no new strings.
    let again = resolve_raw(&data, raw, &values, &mut texts).unwrap();
    assert_eq!(again, head);
    assert_eq!(texts.len(), 3);
    // A wrong width for the event ID, or a value past the data: not readable.
    let wrong = [values[0], (0x08, provider.len() as u32, 2), values[2]];
    assert_eq!(resolve_raw(&data, raw, &wrong, &mut texts), None);
    let past = [values[0], (0x06, 1000, 2), values[2]];
    assert_eq!(resolve_raw(&data, raw, &past, &mut texts), None);
}

#[test]
fn record_signatures_are_found_at_any_offset() {
    for length in 0..40 {
        assert!(!any_record_magic(&vec![0u8; length], 0, length, |_| true));
        for at in 0..length.saturating_sub(3) {
            let mut data = vec![0x2au8; length];
            data[at..at + 4].copy_from_slice(&RECORD_MAGIC);
            assert!(any_record_magic(&data, 0, length, |found| found == at));
            assert!(!any_record_magic(&data, 0, length, |_| false));
            // Not when it starts before the range or ends after it.
            assert!(!any_record_magic(&data, at + 1, length, |_| true));
            assert!(!any_record_magic(&data, 0, at + 3, |_| true));
        }
    }
    assert!(!any_record_magic(&[0x2a; 64], 0, 64, |_| true));
}

#[test]
fn false_records_need_a_size_its_copy_and_an_id_in_range() {
    let mut data = vec![0u8; 200];
    let record = |data: &mut Vec<u8>, at: usize, size: u32, id: u64| {
        data[at..at + 4].copy_from_slice(&RECORD_MAGIC);
        data[at + 4..at + 8].copy_from_slice(&size.to_le_bytes());
        data[at + 8..at + 16].copy_from_slice(&id.to_le_bytes());
        let end = at + size as usize;
        data[end - 4..end].copy_from_slice(&size.to_le_bytes());
    };
    record(&mut data, 10, 100, 5);
    assert!(holds_false_record(&data, 0, 200, (1, 9), 200));
    assert!(!holds_false_record(&data, 11, 200, (1, 9), 200));
    assert!(!holds_false_record(&data, 0, 200, (6, 9), 200));
    assert!(!holds_false_record(&data, 0, 200, (1, 9), 109));
    data[106..110].fill(0);
    assert!(!holds_false_record(&data, 0, 200, (1, 9), 200));
    // A signature followed by the next one, as some writers leave at a record's end.
    let mut tail = vec![0u8; 40];
    tail[8..12].copy_from_slice(&RECORD_MAGIC);
    tail[12..16].copy_from_slice(&40u32.to_le_bytes());
    tail[16..20].copy_from_slice(&RECORD_MAGIC);
    assert!(!holds_false_record(&tail, 0, 40, (1, 9), 40));
}

#[test]
fn scanner_never_panics_on_cut_or_garbled_input() {
    let bytes = template_fixture();
    for cut in 0..bytes.len() {
        let _ = scan_system(&bytes[..cut], 0, cut, true);
        let _ = scan_system(&bytes, cut, bytes.len(), true);
    }
    for position in 0..bytes.len() {
        let mut garbled = bytes.clone();
        garbled[position] ^= 0xff;
        let _ = scan_system(&garbled, 0, garbled.len(), true);
    }
    assert_eq!(scan_system(&[], 0, 10, true), None);
}
