//! Binary XML: an event's template (elements, attributes, substitution tokens) and its record
//! data, encoded against one chunk's string and template tables.

use std::collections::HashMap;

use crate::event::Event;
use crate::value::Value;

/// The namespace of the `<Event>` element.
pub const EVENT_NAMESPACE: &str = "http://schemas.microsoft.com/win/2004/08/events/event";

/// Binary XML tokens (MS-EVEN6 2.2.12).
mod token {
    pub const EOF: u8 = 0x00;
    pub const OPEN_START_ELEMENT: u8 = 0x01;
    pub const CLOSE_START_ELEMENT: u8 = 0x02;
    pub const CLOSE_EMPTY_ELEMENT: u8 = 0x03;
    pub const END_ELEMENT: u8 = 0x04;
    pub const VALUE: u8 = 0x05;
    pub const ATTRIBUTE: u8 = 0x06;
    pub const TEMPLATE_INSTANCE: u8 = 0x0c;
    pub const NORMAL_SUBSTITUTION: u8 = 0x0d;
    pub const OPTIONAL_SUBSTITUTION: u8 = 0x0e;
    pub const FRAGMENT_HEADER: u8 = 0x0f;
    /// Set on an element start that has attributes, and on an attribute that another follows.
    pub const MORE: u8 = 0x40;
}

/// The fragment header: token, major version 1, minor version 1, flags 0.
const FRAGMENT_HEADER: [u8; 4] = [token::FRAGMENT_HEADER, 1, 1, 0];

/// Value type of a UTF-16 string in a value text token.
const STRING_TYPE: u8 = 0x01;

/// Where the System values sit in every record's substitution array; the fields follow them.
mod slot {
    pub const PROVIDER_NAME: u16 = 0;
    pub const PROVIDER_GUID: u16 = 1;
    pub const EVENT_ID: u16 = 2;
    pub const QUALIFIERS: u16 = 3;
    pub const VERSION: u16 = 4;
    pub const LEVEL: u16 = 5;
    pub const TASK: u16 = 6;
    pub const OPCODE: u16 = 7;
    pub const KEYWORDS: u16 = 8;
    pub const TIME_CREATED: u16 = 9;
    pub const EVENT_RECORD_ID: u16 = 10;
    pub const PROCESS_ID: u16 = 11;
    pub const THREAD_ID: u16 = 12;
    pub const CHANNEL: u16 = 13;
    pub const COMPUTER: u16 = 14;
    pub const USER_ID: u16 = 15;
    pub const FIRST_FIELD: u16 = 16;
}

/// Text in a template: literal, or a reference to the substitution array.
#[derive(Debug, Clone)]
enum Content {
    Text(String),
    Substitution {
        index: u16,
        value_type: u8,
        optional: bool,
    },
}

/// An element of a template.
#[derive(Debug, Clone)]
struct Element {
    name: &'static str,
    /// The name when it isn't fixed (a `Data`'s is; a UserData field's isn't).
    owned_name: Option<String>,
    attributes: Vec<(String, Content)>,
    children: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Element(Element),
    Content(Content),
}

impl Element {
    fn new(name: &'static str) -> Self {
        Element {
            name,
            owned_name: None,
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    fn named(name: &str) -> Self {
        Element {
            owned_name: Some(name.to_owned()),
            ..Element::new("")
        }
    }

    fn name(&self) -> &str {
        self.owned_name.as_deref().unwrap_or(self.name)
    }

    fn attribute(mut self, name: &str, content: Content) -> Self {
        self.attributes.push((name.to_owned(), content));
        self
    }

    fn child(mut self, element: Element) -> Self {
        self.children.push(Node::Element(element));
        self
    }

    fn content(mut self, content: Content) -> Self {
        self.children.push(Node::Content(content));
        self
    }
}

fn sub(index: u16, value_type: u8) -> Content {
    Content::Substitution {
        index,
        value_type,
        optional: false,
    }
}

fn optional_sub(index: u16, value_type: u8) -> Content {
    Content::Substitution {
        index,
        value_type,
        optional: true,
    }
}

/// The template of `event`: the standard `<Event>` shape with every value a substitution.
/// Events with the same optional System attributes and the same field names and types share it.
fn template_of(event: &Event) -> Element {
    let mut provider = Element::new("Provider").attribute("Name", sub(slot::PROVIDER_NAME, 0x01));
    if event.provider_guid.is_some() {
        provider = provider.attribute("Guid", sub(slot::PROVIDER_GUID, 0x0f));
    }
    if let Some(name) = &event.event_source_name {
        provider = provider.attribute("EventSourceName", Content::Text(name.clone()));
    }
    let mut event_id = Element::new("EventID");
    if event.qualifiers.is_some() {
        event_id = event_id.attribute("Qualifiers", sub(slot::QUALIFIERS, 0x06));
    }
    let mut security = Element::new("Security");
    if event.user_id.is_some() {
        security = security.attribute("UserID", sub(slot::USER_ID, 0x13));
    }
    let system = Element::new("System")
        .child(provider)
        .child(event_id.content(sub(slot::EVENT_ID, 0x06)))
        .child(Element::new("Version").content(sub(slot::VERSION, 0x04)))
        .child(Element::new("Level").content(sub(slot::LEVEL, 0x04)))
        .child(Element::new("Task").content(sub(slot::TASK, 0x06)))
        .child(Element::new("Opcode").content(sub(slot::OPCODE, 0x04)))
        .child(Element::new("Keywords").content(sub(slot::KEYWORDS, 0x15)))
        .child(Element::new("TimeCreated").attribute("SystemTime", sub(slot::TIME_CREATED, 0x11)))
        .child(Element::new("EventRecordID").content(sub(slot::EVENT_RECORD_ID, 0x0a)))
        .child(Element::new("Correlation"))
        .child(
            Element::new("Execution")
                .attribute("ProcessID", sub(slot::PROCESS_ID, 0x08))
                .attribute("ThreadID", sub(slot::THREAD_ID, 0x08)),
        )
        .child(Element::new("Channel").content(sub(slot::CHANNEL, 0x01)))
        .child(Element::new("Computer").content(sub(slot::COMPUTER, 0x01)))
        .child(security);

    let fields = event.fields.iter().enumerate().map(|(i, (name, value))| {
        let content = optional_sub(slot::FIRST_FIELD + i as u16, value.declared_type_byte());
        (name, content)
    });
    let body = match &event.user_data {
        None => fields.fold(Element::new("EventData"), |data, (name, content)| {
            data.child(
                Element::new("Data")
                    .attribute("Name", Content::Text(name.clone()))
                    .content(content),
            )
        }),
        Some(user_data) => {
            let holder = Element::named(&user_data.element)
                .attribute("xmlns", Content::Text(user_data.namespace.clone()));
            let holder = fields.fold(holder, |holder, (name, content)| {
                holder.child(Element::named(name).content(content))
            });
            Element::new("UserData").child(holder)
        }
    };
    Element::new("Event")
        .attribute("xmlns", Content::Text(EVENT_NAMESPACE.to_owned()))
        .child(system)
        .child(body)
}

/// The substitution array of `event` as record `record_id`: the System values in their slots,
/// then the fields.
fn values_of(event: &Event, record_id: u64) -> Vec<Value> {
    let mut values = vec![
        Value::String(event.provider.clone()),
        event.provider_guid.map_or(Value::Null, Value::Guid),
        Value::UInt16(event.event_id),
        event.qualifiers.map_or(Value::Null, Value::UInt16),
        Value::UInt8(event.version),
        Value::UInt8(event.level),
        Value::UInt16(event.task),
        Value::UInt8(event.opcode),
        Value::Hex64(event.keywords),
        Value::FileTime(event.time),
        Value::UInt64(record_id),
        Value::UInt32(event.process_id),
        Value::UInt32(event.thread_id),
        Value::String(event.channel.clone()),
        Value::String(event.computer.clone()),
        event.user_id.clone().map_or(Value::Null, Value::Sid),
    ];
    debug_assert_eq!(values.len(), usize::from(slot::FIRST_FIELD));
    values.extend(event.fields.iter().map(|(_, value)| value.clone()));
    values
}

/// The 16-bit name hash of MS-EVEN6 (each UTF-16 unit: `hash * 65599 + unit`) and the full
/// 32-bit hash, which picks the string table bucket.
fn name_hash(name: &str) -> u32 {
    name.encode_utf16().fold(0u32, |hash, unit| {
        hash.wrapping_mul(65599).wrapping_add(u32::from(unit))
    })
}

/// 128 bits of FNV-1a over `text`, which names a template.
fn template_guid(text: &str) -> [u8; 16] {
    let fnv = |seed: u64| {
        text.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut guid = [0u8; 16];
    guid[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_le_bytes());
    guid[8..].copy_from_slice(&fnv(0x6c62_272e_07bb_0142).to_le_bytes());
    guid
}

/// What a chunk holds that later records refer back to: names and template definitions, by
/// chunk offset, and the two hash tables of its header that index them.
#[derive(Debug, Clone)]
pub(crate) struct ChunkTables {
    names: HashMap<String, u32>,
    templates: HashMap<String, (u32, u32)>,
    /// The chunk header's 64 string buckets: the offset of the newest name in each.
    pub(crate) string_table: [u32; 64],
    /// The chunk header's 32 template buckets: the offset of the newest template in each.
    pub(crate) template_table: [u32; 32],
}

impl Default for ChunkTables {
    fn default() -> Self {
        ChunkTables {
            names: HashMap::new(),
            templates: HashMap::new(),
            string_table: [0; 64],
            template_table: [0; 32],
        }
    }
}

/// Appends binary XML to a record whose bytes start at chunk offset `base`.
struct Writer<'t> {
    out: Vec<u8>,
    base: u32,
    tables: &'t mut ChunkTables,
}

impl Writer<'_> {
    fn pos(&self) -> u32 {
        self.base + self.out.len() as u32
    }

    fn u8(&mut self, value: u8) {
        self.out.push(value);
    }

    fn u16(&mut self, value: u16) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn u32(&mut self, value: u32) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// A u32 to fill in later, by [`Writer::patch_size`].
    fn placeholder(&mut self) -> usize {
        self.u32(0);
        self.out.len()
    }

    /// Writes the number of bytes written since `placeholder` into it.
    fn patch_size(&mut self, placeholder: usize) {
        let size = (self.out.len() - placeholder) as u32;
        self.out[placeholder - 4..placeholder].copy_from_slice(&size.to_le_bytes());
    }

    /// A name reference: the chunk offset of the name, and the name itself right after it the
    /// first time the chunk uses it (then entered in the string table).
    fn name(&mut self, name: &str) {
        if let Some(&offset) = self.tables.names.get(name) {
            self.u32(offset);
            return;
        }
        let offset = self.pos() + 4;
        self.u32(offset);
        let hash = name_hash(name);
        let bucket = (hash % 64) as usize;
        // The newest name heads its bucket and links to the one that did.
        self.u32(self.tables.string_table[bucket]);
        self.u16(hash as u16);
        let units: Vec<u16> = name.encode_utf16().collect();
        self.u16(units.len() as u16);
        units.iter().for_each(|&unit| self.u16(unit));
        self.u16(0);
        self.tables.string_table[bucket] = offset;
        self.tables.names.insert(name.to_owned(), offset);
    }

    fn content(&mut self, content: &Content) {
        match content {
            Content::Text(text) => {
                self.u8(token::VALUE);
                self.u8(STRING_TYPE);
                let units: Vec<u16> = text.encode_utf16().collect();
                self.u16(units.len() as u16);
                units.iter().for_each(|&unit| self.u16(unit));
            }
            Content::Substitution {
                index,
                value_type,
                optional,
            } => {
                self.u8(if *optional {
                    token::OPTIONAL_SUBSTITUTION
                } else {
                    token::NORMAL_SUBSTITUTION
                });
                self.u16(*index);
                self.u8(*value_type);
            }
        }
    }

    /// An element of a template definition, with its dependency identifier (none: `0xffff`)
    /// and the sizes of its data and attribute list.
    fn element(&mut self, element: &Element) {
        let has_attributes = !element.attributes.is_empty();
        self.u8(token::OPEN_START_ELEMENT | if has_attributes { token::MORE } else { 0 });
        self.u16(0xffff);
        let data_size = self.placeholder();
        self.name(element.name());
        if has_attributes {
            let list_size = self.placeholder();
            for (i, (name, content)) in element.attributes.iter().enumerate() {
                let more = i + 1 < element.attributes.len();
                self.u8(token::ATTRIBUTE | if more { token::MORE } else { 0 });
                self.name(name);
                self.content(content);
            }
            self.patch_size(list_size);
        }
        if element.children.is_empty() {
            self.u8(token::CLOSE_EMPTY_ELEMENT);
        } else {
            self.u8(token::CLOSE_START_ELEMENT);
            for child in &element.children {
                match child {
                    Node::Element(element) => self.element(element),
                    Node::Content(content) => self.content(content),
                }
            }
            self.u8(token::END_ELEMENT);
        }
        self.patch_size(data_size);
    }

    /// A template instance: the template's identifier and the offset of its definition, the
    /// definition itself if the chunk doesn't hold it yet, then the substitution array.
    fn template_instance(&mut self, template: &Element, values: &[Value]) {
        let key = format!("{template:?}");
        self.u8(token::TEMPLATE_INSTANCE);
        self.u8(1);
        match self.tables.templates.get(&key) {
            Some(&(id, offset)) => {
                self.u32(id);
                self.u32(offset);
            }
            None => {
                let guid = template_guid(&key);
                let id = u32::from_le_bytes([guid[0], guid[1], guid[2], guid[3]]);
                let offset = self.pos() + 8;
                self.u32(id);
                self.u32(offset);
                let bucket = (id % 32) as usize;
                self.u32(self.tables.template_table[bucket]);
                self.out.extend_from_slice(&guid);
                let data_size = self.placeholder();
                self.out.extend_from_slice(&FRAGMENT_HEADER);
                self.element(template);
                self.u8(token::EOF);
                self.patch_size(data_size);
                self.tables.template_table[bucket] = offset;
                self.tables.templates.insert(key, (id, offset));
            }
        }
        let encoded: Vec<Vec<u8>> = values.iter().map(Value::encode).collect();
        self.u32(values.len() as u32);
        for (value, bytes) in values.iter().zip(&encoded) {
            let size = u16::try_from(bytes.len()).expect("a value of at most 65535 bytes");
            self.u16(size);
            self.u8(value.type_byte());
            self.u8(0);
        }
        encoded
            .iter()
            .for_each(|bytes| self.out.extend_from_slice(bytes));
    }
}

/// The binary XML of `event` as record `record_id`, whose binary XML starts at chunk offset
/// `base`: a fragment header, then a template instance, then the end of file token. Names
/// and the template the chunk doesn't hold yet are written in place and added to `tables`.
pub(crate) fn event_binxml(
    event: &Event,
    record_id: u64,
    base: u32,
    tables: &mut ChunkTables,
) -> Vec<u8> {
    let mut writer = Writer {
        out: Vec::new(),
        base,
        tables,
    };
    writer.out.extend_from_slice(&FRAGMENT_HEADER);
    writer.template_instance(&template_of(event), &values_of(event, record_id));
    writer.u8(token::EOF);
    writer.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hash_matches_windows() {
        // The hashes Windows stored for these names in a real Security.evtx.
        assert_eq!(name_hash("Keywords") as u16, 0xCF6A);
        assert_eq!(name_hash("TimeCreated") as u16, 0x8E3B);
    }

    #[test]
    fn element_sizes_cover_what_follows_them() {
        // `<Task>%2</Task>` with its name written in place: the data size counts the name
        // offset, the name, the close start token, the substitution and the end element token.
        let mut tables = ChunkTables::default();
        let mut writer = Writer {
            out: Vec::new(),
            base: 512,
            tables: &mut tables,
        };
        writer.element(&Element::new("Task").content(sub(2, 0x06)));
        assert_eq!(&writer.out[3..7], &0x1Cu32.to_le_bytes());
        assert_eq!(writer.out.len(), 7 + 0x1C);
        // A second use refers back to the name.
        let second = writer.out.len();
        writer.element(&Element::new("Task").content(sub(2, 0x06)));
        assert_eq!(
            &writer.out[second + 7..second + 11],
            &(512 + 11u32).to_le_bytes()
        );
    }

    #[test]
    fn templates_are_shared_within_a_chunk() {
        let event = Event::new("System", "P", 1).data("A", Value::UInt32(1));
        let mut tables = ChunkTables::default();
        let first = event_binxml(&event, 1, 512, &mut tables);
        let second = event_binxml(&event, 2, 2048, &mut tables);
        assert!(second.len() < first.len() / 2);
        assert_eq!(tables.templates.len(), 1);
        let other = event.clone().data("B", Value::Null);
        event_binxml(&other, 3, 4096, &mut tables);
        assert_eq!(tables.templates.len(), 2);
    }
}
