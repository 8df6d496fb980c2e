//! The System fields of records without rendering them: the raw pass over a chunk's bytes, and
//! the pre-filter over records the evtx crate built.
//!
//! Both rest on [`scan_system`], a small BinXML scanner that finds where a template definition
//! (or a plain record) takes `EventID`, `Channel`, `Computer` and `Provider/@Name` from: literal
//! text, or a substitution value of the template instance.
//!
//! The raw pass ([`raw_heads`]) reads a whole chunk by hand: the record headers, each template
//! instance's substitution array, and only the substitutions the System fields come from. It
//! allocates nothing per record: the strings of a chunk are decoded once into its [`Texts`], and
//! each [`RawHead`] names them by index. The pre-filter ([`prefilter`]) does the same for one
//! record the evtx crate built, from the substitution values the crate parsed.

use std::collections::HashMap;

use ::evtx::binxml::value_variant::BinXmlValue;
use ::evtx::EvtxRecord;

/// Offset of the records in a chunk (after its header and string and template tables).
const CHUNK_RECORDS_START: usize = 512;
/// The signature that starts every record.
pub(super) const RECORD_MAGIC: [u8; 4] = [0x2a, 0x2a, 0x00, 0x00];
/// The size of a record header (signature, size, record ID, time).
pub(super) const RECORD_HEADER_SIZE: usize = 24;
/// BinXML value type of a nested BinXML fragment.
const BINXML_TYPE: u8 = 0x21;
/// BinXML value type of a UTF-16 string.
const STRING_TYPE: u8 = 0x01;
/// The BinXML token that ends a stream.
pub(super) const END_OF_STREAM: u8 = 0x00;
/// The size of the fragment header (token, major and minor version, flags) that starts a
/// record's BinXML.
pub(super) const FRAGMENT_HEADER_SIZE: usize = 4;

/// The System fields that decide whether a record is wanted, read without rendering.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SystemHead {
    pub(super) channel: String,
    pub(super) provider: String,
    pub(super) id: u32,
    pub(super) computer: String,
}

/// Where one System field's value comes from in a record's BinXML.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Slot {
    /// Not (yet) seen: the field is absent, which renders as empty.
    #[default]
    Absent,
    /// Literal text.
    Text(String),
    /// The template instance's substitution value with this index.
    Substitution(u16),
    /// Built in a way the scanner does not follow (several parts, an entity, a non-text value).
    Unknown,
}

impl Slot {
    /// Adds one part of the field's value: the first part is the value, a second makes it
    /// unknown.
    fn add(&mut self, part: Slot) {
        *self = if *self == Slot::Absent {
            part
        } else {
            Slot::Unknown
        };
    }
}

/// Where `EventID`, `Channel`, `Computer` and `Provider/@Name` come from in one template
/// definition or plain record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct SystemSlots {
    pub(super) provider: Slot,
    pub(super) event_id: Slot,
    pub(super) channel: Slot,
    pub(super) computer: Slot,
}

// ---------------------------------------------------------------------------------------------
// The pre-filter, over records the evtx crate built

/// Reads a record's System fields without rendering it; `None` when the scanner cannot follow
/// the record's layout (the caller then renders it). `layouts` caches what each template
/// definition of the chunk holds, by its offset.
pub(super) fn prefilter(
    record: &EvtxRecord<'_>,
    layouts: &mut HashMap<u32, Option<SystemSlots>>,
) -> Option<SystemHead> {
    let data = record.chunk.data;
    let instances = record.template_instances().ok()?;
    match instances.as_slice() {
        [] => {
            // A plain BinXML tree: every value is literal.
            let start = usize::try_from(record.binxml_offset).ok()?;
            let end = start.checked_add(record.binxml_size as usize)?;
            let slots = scan_system(data, start, end, false)?;
            resolve(&slots, &[])
        }
        [instance] => {
            let slots = layouts
                .entry(instance.template_def_offset)
                .or_insert_with(|| template_slots(data, instance.template_def_offset))
                .as_ref()?;
            resolve(slots, &instance.values)
        }
        _ => None,
    }
}

/// Scans the template definition at `offset` in the chunk.
fn template_slots(data: &[u8], offset: u32) -> Option<SystemSlots> {
    // next template offset (4), GUID (16), data size (4), then the BinXML fragment.
    let offset = offset as usize;
    let size_bytes = data.get(offset.checked_add(20)?..offset.checked_add(24)?)?;
    let size = u32::from_le_bytes(size_bytes.try_into().ok()?) as usize;
    let start = offset + 24;
    scan_system(data, start, start.checked_add(size)?, true)
}

/// Takes the System fields' values from their slots and the substitution values.
pub(super) fn resolve(slots: &SystemSlots, values: &[BinXmlValue<'_>]) -> Option<SystemHead> {
    Some(SystemHead {
        channel: slot_text(&slots.channel, values)?,
        provider: slot_text(&slots.provider, values)?,
        computer: slot_text(&slots.computer, values)?,
        id: slot_number(&slots.event_id, values)?,
    })
}

/// A slot's value as text, as the renderer writes it (absent and null are empty).
fn slot_text(slot: &Slot, values: &[BinXmlValue<'_>]) -> Option<String> {
    match slot {
        Slot::Absent => Some(String::new()),
        Slot::Text(text) => Some(text.clone()),
        Slot::Substitution(index) => match values.get(usize::from(*index))? {
            BinXmlValue::NullType => Some(String::new()),
            BinXmlValue::StringType(text) => text.to_string().ok(),
            BinXmlValue::AnsiStringType(text) => Some((*text).to_string()),
            _ => None,
        },
        Slot::Unknown => None,
    }
}

/// A slot's value as an event ID; `None` when absent or not a number.
fn slot_number(slot: &Slot, values: &[BinXmlValue<'_>]) -> Option<u32> {
    match slot {
        Slot::Text(text) => text.trim().parse().ok(),
        Slot::Substitution(index) => match values.get(usize::from(*index))? {
            BinXmlValue::UInt8Type(n) => Some(u32::from(*n)),
            BinXmlValue::UInt16Type(n) => Some(u32::from(*n)),
            BinXmlValue::UInt32Type(n) | BinXmlValue::HexInt32Type(n) => Some(*n),
            BinXmlValue::Int8Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::Int16Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::Int32Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::UInt64Type(n) | BinXmlValue::HexInt64Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::Int64Type(n) => u32::try_from(*n).ok(),
            BinXmlValue::StringType(text) => text.to_string().ok()?.trim().parse().ok(),
            _ => None,
        },
        Slot::Absent | Slot::Unknown => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The raw pass: a chunk's System fields straight from its bytes

/// One record as the raw pass read it: where it starts and its System fields, the strings as
/// indexes into the chunk's [`Texts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RawHead {
    /// Where the record (its header) starts in the chunk.
    pub(super) start: u32,
    /// Where it ends (after the copy of its size).
    pub(super) end: u32,
    pub(super) channel: u32,
    pub(super) provider: u32,
    pub(super) computer: u32,
    pub(super) id: u32,
    /// Whether the selection wants the record (set by the caller).
    pub(super) wanted: bool,
}

/// The distinct strings the System fields of one chunk's records hold, each decoded once: the
/// records of a chunk repeat the same channel, provider and computer.
pub(super) struct Texts<'a> {
    /// The strings; the first is the empty string.
    strings: Vec<String>,
    /// UTF-16 values already decoded, with the index of their string; the last one found is
    /// first.
    decoded: Vec<(&'a [u8], u32)>,
}

impl Default for Texts<'_> {
    fn default() -> Self {
        Texts {
            strings: vec![String::new()],
            decoded: Vec::new(),
        }
    }
}

impl<'a> Texts<'a> {
    /// The string with index `index`.
    pub(super) fn get(&self, index: u32) -> &str {
        &self.strings[index as usize]
    }

    /// How many distinct strings there are.
    pub(super) fn len(&self) -> usize {
        self.strings.len()
    }

    /// The index of `text`, added when new.
    fn intern(&mut self, text: &str) -> u32 {
        match self.strings.iter().position(|known| known == text) {
            Some(index) => index as u32,
            None => {
                self.strings.push(text.to_string());
                (self.strings.len() - 1) as u32
            }
        }
    }

    /// The index of the UTF-16 string value `bytes`, without its terminating NULs; `None` when
    /// it is not UTF-16.
    fn intern_utf16(&mut self, bytes: &'a [u8]) -> Option<u32> {
        if let Some(at) = self.decoded.iter().position(|(known, _)| *known == bytes) {
            let index = self.decoded[at].1;
            // Most records repeat the value the previous one had.
            self.decoded.swap(0, at);
            return Some(index);
        }
        let text = utf16_text(bytes)?;
        let index = self.intern(text.trim_end_matches('\0'));
        self.decoded.push((bytes, index));
        let last = self.decoded.len() - 1;
        self.decoded.swap(0, last);
        Some(index)
    }
}

/// Where a System text field comes from, with literal text already in the chunk's [`Texts`].
#[derive(Clone, Copy, Debug)]
enum RawText {
    Literal(u32),
    Substitution(u16),
}

/// Where the event ID comes from.
#[derive(Clone, Copy, Debug)]
enum RawId {
    Literal(u32),
    Substitution(u16),
}

/// [`SystemSlots`] for the raw pass; only layouts whose every field can be read.
#[derive(Clone, Copy, Debug)]
struct RawSlots {
    provider: RawText,
    event_id: RawId,
    channel: RawText,
    computer: RawText,
}

impl RawSlots {
    fn new(slots: &SystemSlots, texts: &mut Texts<'_>) -> Option<RawSlots> {
        let mut text = |slot: &Slot| match slot {
            Slot::Absent => Some(RawText::Literal(0)),
            Slot::Text(text) => Some(RawText::Literal(texts.intern(text))),
            Slot::Substitution(index) => Some(RawText::Substitution(*index)),
            Slot::Unknown => None,
        };
        let (provider, channel, computer) = (
            text(&slots.provider)?,
            text(&slots.channel)?,
            text(&slots.computer)?,
        );
        let event_id = match &slots.event_id {
            Slot::Text(text) => RawId::Literal(text.trim().parse().ok()?),
            Slot::Substitution(index) => RawId::Substitution(*index),
            Slot::Absent | Slot::Unknown => return None,
        };
        Some(RawSlots {
            provider,
            event_id,
            channel,
            computer,
        })
    }
}

/// What the raw pass keeps from one record, and one chunk, to the next.
#[derive(Default)]
pub(super) struct RawScratch {
    /// The current record's substitution values: (type, offset, size).
    values: Vec<(u8, u32, u32)>,
}

/// The layouts of one chunk's template definitions, by offset.
#[derive(Default)]
struct Layouts {
    known: Vec<(u32, Option<RawSlots>)>,
}

impl Layouts {
    fn get<'a>(&mut self, data: &'a [u8], offset: u32, texts: &mut Texts<'a>) -> Option<RawSlots> {
        if let Some((_, slots)) = self.known.iter().find(|(known, _)| *known == offset) {
            return *slots;
        }
        let slots = template_slots(data, offset).and_then(|slots| RawSlots::new(&slots, texts));
        self.known.push((offset, slots));
        slots
    }
}

/// Reads the System fields of every record of a chunk straight from its bytes into `heads`
/// (cleared first), without the evtx crate building anything. `false` as soon as anything is
/// unusual (damage, a record layout the scanner does not follow, a record count that disagrees
/// with the chunk header): the caller then reads the chunk through the evtx crate, which handles
/// all of that.
///
/// Written by hand because the evtx crate offers no way to look at a record without building
/// its whole content first, and building it is most of the cost of reading a log.
pub(super) fn raw_heads<'a>(
    data: &'a [u8],
    texts: &mut Texts<'a>,
    heads: &mut Vec<RawHead>,
    scratch: &mut RawScratch,
) -> bool {
    heads.clear();
    read_heads(data, texts, heads, scratch).is_some()
}

fn read_heads<'a>(
    data: &'a [u8],
    texts: &mut Texts<'a>,
    heads: &mut Vec<RawHead>,
    scratch: &mut RawScratch,
) -> Option<()> {
    let mut cursor = Cursor { data, pos: 8 };
    let first_id = u64::from_le_bytes(cursor.bytes(8)?.try_into().ok()?);
    let last_id = u64::from_le_bytes(cursor.bytes(8)?.try_into().ok()?);
    cursor.pos = 48;
    let free_space = (cursor.u32()? as usize).min(data.len());
    let expected = last_id.checked_sub(first_id)?.checked_add(1)?;
    let mut layouts = Layouts::default();
    let mut pos = CHUNK_RECORDS_START;
    let mut next_id = first_id;
    while pos < free_space {
        if data.get(pos..pos + 4)? != RECORD_MAGIC {
            return None;
        }
        let mut header = Cursor { data, pos: pos + 4 };
        let size = header.u32()? as usize;
        let record_id = u64::from_le_bytes(header.bytes(8)?.try_into().ok()?);
        let end = pos.checked_add(size)?;
        if size < 28 || end > free_space || record_id != next_id {
            return None;
        }
        let copy = data.get(end - 4..end)?;
        if u32::from_le_bytes(copy.try_into().ok()?) as usize != size {
            return None;
        }
        let mut head = raw_head(
            data,
            pos + RECORD_HEADER_SIZE,
            end - 4,
            &mut layouts,
            texts,
            scratch,
        )?;
        head.start = u32::try_from(pos).ok()?;
        head.end = u32::try_from(end).ok()?;
        heads.push(head);
        next_id += 1;
        pos = end;
        if record_id == last_id {
            break;
        }
    }
    (heads.len() as u64 == expected).then_some(())
}

/// The System fields of the record whose BinXML is `data[start..end]`.
fn raw_head<'a>(
    data: &'a [u8],
    start: usize,
    end: usize,
    layouts: &mut Layouts,
    texts: &mut Texts<'a>,
    scratch: &mut RawScratch,
) -> Option<RawHead> {
    let mut cursor = Cursor { data, pos: start };
    // Fragment header: token 0x0f, major and minor version, flags.
    if cursor.u8()? != 0x0f {
        return None;
    }
    cursor.bytes(FRAGMENT_HEADER_SIZE - 1)?;
    if cursor.u8()? != 0x0c {
        // Not a template instance: a plain tree, all literal.
        let slots = scan_system(data, start, end, false)?;
        let slots = RawSlots::new(&slots, texts)?;
        return resolve_raw(data, slots, &[], texts);
    }
    // Template instance: unknown byte, template id, definition offset.
    cursor.bytes(5)?;
    let definition = cursor.u32()?;
    if definition as usize == cursor.pos {
        // The definition is stored here: next-template offset, GUID, size, then the fragment.
        cursor.bytes(20)?;
        let size = cursor.u32()? as usize;
        cursor.bytes(size)?;
    }
    let count = cursor.u32()? as usize;
    // Each descriptor is a size (2 bytes), a type (1) and a padding byte.
    let descriptors = data.get(cursor.pos..cursor.pos.checked_add(count.checked_mul(4)?)?)?;
    let mut at = cursor.pos + descriptors.len();
    scratch.values.clear();
    for descriptor in descriptors.chunks_exact(4) {
        let size = usize::from(u16::from_le_bytes([descriptor[0], descriptor[1]]));
        scratch.values.push((descriptor[2], at as u32, size as u32));
        at += size;
    }
    // The values follow one another, so the last one ending in the record means all do.
    if at > end || at > data.len() {
        return None;
    }
    let slots = layouts.get(data, definition, texts)?;
    resolve_raw(data, slots, &scratch.values, texts)
}

/// Takes the System fields from their slots and the raw substitution values.
fn resolve_raw<'a>(
    data: &'a [u8],
    slots: RawSlots,
    values: &[(u8, u32, u32)],
    texts: &mut Texts<'a>,
) -> Option<RawHead> {
    Some(RawHead {
        start: 0,
        end: 0,
        channel: raw_text(data, slots.channel, values, texts)?,
        provider: raw_text(data, slots.provider, values, texts)?,
        computer: raw_text(data, slots.computer, values, texts)?,
        id: raw_number(data, slots.event_id, values)?,
        wanted: false,
    })
}

/// The bytes of substitution value `index`, with its type.
fn raw_value<'a>(data: &'a [u8], values: &[(u8, u32, u32)], index: u16) -> Option<(u8, &'a [u8])> {
    let (value_type, at, size) = *values.get(usize::from(index))?;
    let at = at as usize;
    Some((value_type, data.get(at..at + size as usize)?))
}

/// A text field's value: a UTF-16 string without its terminating NULs, or empty for null.
fn raw_text<'a>(
    data: &'a [u8],
    slot: RawText,
    values: &[(u8, u32, u32)],
    texts: &mut Texts<'a>,
) -> Option<u32> {
    match slot {
        RawText::Literal(index) => Some(index),
        RawText::Substitution(index) => match raw_value(data, values, index)? {
            (0x00, _) => Some(0),
            (STRING_TYPE, bytes) => texts.intern_utf16(bytes),
            _ => None,
        },
    }
}

/// The event ID, from the unsigned integer types.
fn raw_number(data: &[u8], slot: RawId, values: &[(u8, u32, u32)]) -> Option<u32> {
    match slot {
        RawId::Literal(id) => Some(id),
        RawId::Substitution(index) => {
            let (value_type, bytes) = raw_value(data, values, index)?;
            let unsigned = |width: usize| -> Option<u64> {
                let mut buffer = [0u8; 8];
                buffer[..width].copy_from_slice(bytes.get(..width)?);
                (bytes.len() == width).then(|| u64::from_le_bytes(buffer))
            };
            let number = match value_type {
                0x04 => unsigned(1)?,
                0x06 => unsigned(2)?,
                0x08 | 0x14 => unsigned(4)?,
                0x0a | 0x15 => unsigned(8)?,
                _ => return None,
            };
            u32::try_from(number).ok()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The BinXML scanner

/// A little-endian reader over chunk bytes that fails instead of panicking.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, count: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(count)?;
        let bytes = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes = self.bytes(2)?;
        Some(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let bytes = self.bytes(4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A name reference: the offset of a name in the chunk, stored right here when the offset
    /// is this position. Returns which of the names the scanner looks for it is.
    fn name(&mut self) -> Option<Name> {
        let offset = self.u32()? as usize;
        let (name, length) = read_name(self.data, offset)?;
        if offset == self.pos {
            // next-string offset (4), hash (2), length (2), characters, NUL (2).
            self.bytes(10 + 2 * length)?;
        }
        Some(name)
    }

    /// A length-prefixed UTF-16 string, checked but not decoded.
    fn utf16(&mut self) -> Option<&[u8]> {
        let count = usize::from(self.u16()?);
        let bytes = self.bytes(count * 2)?;
        utf16_valid(bytes).then_some(bytes)
    }
}

/// The names the scanner tells apart: the System elements it reads, and the `Name` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    System,
    Provider,
    EventId,
    Channel,
    Computer,
    /// The attribute `Name` (the only attribute the scanner reads).
    Attribute,
    Other,
}

impl Name {
    const KNOWN: [(&'static str, Name); 6] = [
        ("System", Name::System),
        ("Provider", Name::Provider),
        ("EventID", Name::EventId),
        ("Channel", Name::Channel),
        ("Computer", Name::Computer),
        ("Name", Name::Attribute),
    ];

    /// Which name the UTF-16 characters `units` spell (compared exactly).
    fn of(units: &[u8]) -> Name {
        Name::KNOWN
            .iter()
            .find(|(text, _)| {
                text.len() * 2 == units.len()
                    && text
                        .bytes()
                        .zip(units.chunks_exact(2))
                        .all(|(byte, unit)| unit == [byte, 0])
            })
            .map_or(Name::Other, |(_, name)| *name)
    }
}

/// The name stored at `offset` in the chunk (next-string offset, hash, length, characters),
/// with its length in characters; `None` when it is cut short or not UTF-16.
fn read_name(data: &[u8], offset: usize) -> Option<(Name, usize)> {
    let length_bytes = data.get(offset.checked_add(6)?..offset.checked_add(8)?)?;
    let length = usize::from(u16::from_le_bytes([length_bytes[0], length_bytes[1]]));
    let start = offset + 8;
    let units = data.get(start..start.checked_add(length * 2)?)?;
    utf16_valid(units).then(|| (Name::of(units), length))
}

/// Whether `bytes` is UTF-16 (little-endian) with no unpaired surrogate; an odd last byte is
/// ignored.
fn utf16_valid(bytes: &[u8]) -> bool {
    char::decode_utf16(
        bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
    )
    .all(|unit| unit.is_ok())
}

fn utf16_text(bytes: &[u8]) -> Option<String> {
    char::decode_utf16(
        bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
    )
    .collect::<Result<String, _>>()
    .ok()
}

/// Scans the BinXML in `data[start..end]` (a template definition when `template`, whose
/// element starts carry a dependency ID, or a plain record) for where the System fields come
/// from. `None` when the stream has a token the scanner does not follow, holds no `System`
/// element, or nests a fragment inside `System`.
pub(super) fn scan_system(
    data: &[u8],
    start: usize,
    end: usize,
    template: bool,
) -> Option<SystemSlots> {
    let mut cursor = Cursor { data, pos: start };
    let end = end.min(data.len());
    let mut slots = SystemSlots::default();
    // Open elements, outermost first.
    let mut stack: Vec<Name> = Vec::new();
    // The element whose start tag (attributes) is being read.
    let mut pending: Option<Name> = None;
    // The attribute whose value is being read.
    let mut attribute: Option<Name> = None;
    let mut seen_system = false;

    while cursor.pos < end {
        let token = cursor.u8()?;
        // The part of a value the token carries, if any.
        let part = match token {
            0x00 => break,
            0x0f => {
                cursor.bytes(3)?;
                None
            }
            0x01 | 0x41 => {
                if template {
                    cursor.u16()?;
                }
                cursor.u32()?;
                let name = cursor.name()?;
                if token == 0x41 {
                    cursor.u32()?;
                }
                pending = Some(name);
                attribute = None;
                None
            }
            0x02 => {
                stack.push(pending.take()?);
                attribute = None;
                if stack.len() == 2 && stack[1] == Name::System {
                    seen_system = true;
                }
                None
            }
            0x03 => {
                let name = pending.take()?;
                if stack.len() == 1 && name == Name::System {
                    seen_system = true;
                }
                attribute = None;
                None
            }
            0x04 => {
                stack.pop()?;
                attribute = None;
                None
            }
            0x05 | 0x45 => {
                let value_type = cursor.u8()?;
                if value_type == STRING_TYPE {
                    Some(Slot::Text(utf16_text(cursor.utf16()?)?))
                } else {
                    // Other literal types are rare; their length is type-specific.
                    return None;
                }
            }
            0x06 | 0x46 => {
                attribute = Some(cursor.name()?);
                None
            }
            0x07 | 0x47 => {
                cursor.utf16()?;
                Some(Slot::Unknown)
            }
            0x08 | 0x48 => {
                cursor.u16()?;
                Some(Slot::Unknown)
            }
            0x09 | 0x49 => {
                cursor.name()?;
                Some(Slot::Unknown)
            }
            0x0a => {
                cursor.name()?;
                None
            }
            0x0b => {
                cursor.utf16()?;
                None
            }
            0x0d | 0x0e => {
                let index = cursor.u16()?;
                let value_type = cursor.u8()?;
                let in_system = stack.len() >= 2 && stack[1] == Name::System
                    || (stack.len() == 1 && pending == Some(Name::System));
                if in_system && (value_type == BINXML_TYPE || value_type & 0x80 != 0) {
                    // A nested fragment or an array inside System: can't tell statically.
                    return None;
                }
                Some(Slot::Substitution(index))
            }
            _ => return None,
        };
        let Some(part) = part else { continue };
        match (pending, attribute) {
            (Some(element), Some(name)) => {
                if stack.len() == 2
                    && stack[1] == Name::System
                    && element == Name::Provider
                    && name == Name::Attribute
                {
                    slots.provider.add(part);
                }
            }
            (None, _) => {
                if stack.len() == 3 && stack[1] == Name::System {
                    match stack[2] {
                        Name::EventId => slots.event_id.add(part),
                        Name::Channel => slots.channel.add(part),
                        Name::Computer => slots.computer.add(part),
                        _ => {}
                    }
                }
            }
            (Some(_), None) => {}
        }
    }
    seen_system.then_some(slots)
}

/// Whether a record signature starts anywhere in `data[from..to]` for which `is_record`
/// holds (given its offset in `data`). Eight bytes at a time: only words that hold the
/// signature's first byte are looked at closely.
fn any_record_magic(
    data: &[u8],
    from: usize,
    to: usize,
    mut is_record: impl FnMut(usize) -> bool,
) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let to = to.min(data.len());
    let first = u64::from(RECORD_MAGIC[0]) * ONES;
    let mut check = |at: usize| data.get(at..at + 4) == Some(&RECORD_MAGIC[..]) && is_record(at);
    let mut at = from;
    while at + 8 <= to {
        let mut word = [0u8; 8];
        word.copy_from_slice(&data[at..at + 8]);
        let word = u64::from_le_bytes(word) ^ first;
        if word.wrapping_sub(ONES) & !word & HIGHS != 0
            && (at..at + 8).any(|start| start + 4 <= to && check(start))
        {
            return true;
        }
        at += 8;
    }
    (at..to).any(|start| start + 4 <= to && check(start))
}

/// Whether the evtx crate, looking for the next record after a record it cannot read, could
/// take something inside `data[from..to]` for one: a record signature followed by a size that
/// ends by `live_end`, with the copy of that size at its end, and an ID in
/// `first_id..=last_id`. Any such thing counts, whatever else it holds.
pub(super) fn holds_false_record(
    data: &[u8],
    from: usize,
    to: usize,
    (first_id, last_id): (u64, u64),
    live_end: usize,
) -> bool {
    any_record_magic(data, from, to, |at| {
        let mut header = Cursor { data, pos: at + 4 };
        let (Some(size), Some(id)) = (header.u32(), header.bytes(8)) else {
            return false;
        };
        let size = size as usize;
        let id = u64::from_le_bytes(id.try_into().unwrap_or_default());
        let end = at.saturating_add(size);
        let copy = end
            .checked_sub(4)
            .and_then(|copy| data.get(copy..end))
            .map(|copy| u32::from_le_bytes(copy.try_into().unwrap_or_default()) as usize);
        size >= 28 && end <= live_end && copy == Some(size) && (first_id..=last_id).contains(&id)
    })
}

#[cfg(test)]
mod tests;
