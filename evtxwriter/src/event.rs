//! The `Event` builder: the System fields of one event and its EventData or UserData fields.

use crate::value::{filetime_from_unix, Value};

/// 2024-01-01T00:00:00Z, the time an event has unless one is set.
pub const DEFAULT_TIME: u64 = 133_485_408_000_000_000;

/// One event to write: what `<System>` says about it, and its `<EventData>` or `<UserData>`.
///
/// Built with chained calls; every setter consumes and returns the event.
///
/// ```
/// use hiveward_evtxwriter::{Event, Value};
///
/// let event = Event::new("Security", "Microsoft-Windows-Security-Auditing", 4624)
///     .computer("DC01.corp.example")
///     .unix_time(1_700_000_000)
///     .data("TargetUserName", "alice")
///     .data("LogonType", Value::UInt32(3));
/// assert_eq!(event.event_id(), 4624);
/// assert_eq!(event.field("LogonType"), Some(&Value::UInt32(3)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub(crate) channel: String,
    pub(crate) provider: String,
    pub(crate) provider_guid: Option<[u8; 16]>,
    pub(crate) event_source_name: Option<String>,
    pub(crate) event_id: u16,
    pub(crate) qualifiers: Option<u16>,
    pub(crate) version: u8,
    pub(crate) level: u8,
    pub(crate) task: u16,
    pub(crate) opcode: u8,
    pub(crate) keywords: u64,
    pub(crate) time: u64,
    pub(crate) process_id: u32,
    pub(crate) thread_id: u32,
    pub(crate) computer: String,
    pub(crate) user_id: Option<String>,
    pub(crate) user_data: Option<UserData>,
    pub(crate) fields: Vec<(String, Value)>,
}

/// The element that holds the fields of a `<UserData>` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserData {
    pub(crate) element: String,
    pub(crate) namespace: String,
}

impl Event {
    /// An event of `channel` (`Security`, `System`, `Microsoft-Windows-SMBServer/Security`…)
    /// from `provider` with `event_id`, logged at [`DEFAULT_TIME`] on computer `WORKSTATION`,
    /// with Level, Task, Opcode, Version and Keywords 0, process 4 and thread 8, and no fields.
    pub fn new(channel: &str, provider: &str, event_id: u16) -> Self {
        Event {
            channel: channel.to_owned(),
            provider: provider.to_owned(),
            provider_guid: None,
            event_source_name: None,
            event_id,
            qualifiers: None,
            version: 0,
            level: 0,
            task: 0,
            opcode: 0,
            keywords: 0,
            time: DEFAULT_TIME,
            process_id: 4,
            thread_id: 8,
            computer: "WORKSTATION".to_owned(),
            user_id: None,
            user_data: None,
            fields: Vec::new(),
        }
    }

    /// The `<Computer>` name.
    pub fn computer(mut self, name: &str) -> Self {
        self.computer = name.to_owned();
        self
    }

    /// The time the event was created and written, as a FILETIME (100-nanosecond intervals
    /// since 1601-01-01 UTC). It is both `<TimeCreated SystemTime>` and the record's written
    /// time.
    pub fn time(mut self, filetime: u64) -> Self {
        self.time = filetime;
        self
    }

    /// The time the event was created and written, as seconds since the Unix epoch.
    pub fn unix_time(self, seconds: i64) -> Self {
        self.time(filetime_from_unix(seconds))
    }

    /// The `Guid` attribute of `<Provider>` (absent unless set).
    pub fn provider_guid(mut self, guid: [u8; 16]) -> Self {
        self.provider_guid = Some(guid);
        self
    }

    /// The `EventSourceName` attribute of `<Provider>`, which classic (pre-Vista style) event
    /// sources have (absent unless set).
    pub fn event_source_name(mut self, name: &str) -> Self {
        self.event_source_name = Some(name.to_owned());
        self
    }

    /// The `Qualifiers` attribute of `<EventID>`, which classic event sources have (absent
    /// unless set).
    pub fn qualifiers(mut self, qualifiers: u16) -> Self {
        self.qualifiers = Some(qualifiers);
        self
    }

    /// `<Version>`.
    pub fn version(mut self, version: u8) -> Self {
        self.version = version;
        self
    }

    /// `<Level>` (0 LogAlways, 1 Critical, 2 Error, 3 Warning, 4 Information, 5 Verbose).
    pub fn level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }

    /// `<Task>`.
    pub fn task(mut self, task: u16) -> Self {
        self.task = task;
        self
    }

    /// `<Opcode>`.
    pub fn opcode(mut self, opcode: u8) -> Self {
        self.opcode = opcode;
        self
    }

    /// `<Keywords>`, shown in hexadecimal (`0x8020000000000000` is Audit Success).
    pub fn keywords(mut self, keywords: u64) -> Self {
        self.keywords = keywords;
        self
    }

    /// The `ProcessID` and `ThreadID` of `<Execution>`.
    pub fn execution(mut self, process_id: u32, thread_id: u32) -> Self {
        self.process_id = process_id;
        self.thread_id = thread_id;
        self
    }

    /// The `UserID` attribute of `<Security>`, a SID such as `S-1-5-18` (absent unless set).
    pub fn user_id(mut self, sid: &str) -> Self {
        self.user_id = Some(sid.to_owned());
        self
    }

    /// Sets the field `name` to `value`: a `<Data Name="name">` of `<EventData>`, or a
    /// `<name>` element in the [`user_data`](Event::user_data) element. A field that is
    /// already set keeps its place and takes the new value; a new one goes last.
    pub fn data(mut self, name: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        match self.fields.iter_mut().find(|(field, _)| field == name) {
            Some((_, old)) => *old = value,
            None => self.fields.push((name.to_owned(), value)),
        }
        self
    }

    /// Writes the fields as `<UserData><element xmlns="namespace"><Field>value</Field>…
    /// </element></UserData>` instead of `<EventData>`. Fields set before or after this call
    /// all go in `element`.
    pub fn user_data(mut self, element: &str, namespace: &str) -> Self {
        self.user_data = Some(UserData {
            element: element.to_owned(),
            namespace: namespace.to_owned(),
        });
        self
    }

    /// The channel (`<Channel>`).
    pub fn channel_name(&self) -> &str {
        &self.channel
    }

    /// The provider (`<Provider Name>`).
    pub fn provider_name(&self) -> &str {
        &self.provider
    }

    /// The `EventSourceName` of `<Provider>`, if set.
    pub fn event_source(&self) -> Option<&str> {
        self.event_source_name.as_deref()
    }

    /// The event identifier (`<EventID>`).
    pub fn event_id(&self) -> u16 {
        self.event_id
    }

    /// The computer name (`<Computer>`).
    pub fn computer_name(&self) -> &str {
        &self.computer
    }

    /// The FILETIME of `<TimeCreated>` and of the record.
    pub fn filetime(&self) -> u64 {
        self.time
    }

    /// The fields, in the order they are written.
    pub fn fields(&self) -> &[(String, Value)] {
        &self.fields
    }

    /// The value of the field `name`, if set.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value)
    }

    /// The element and namespace of a `<UserData>` event; `None` for an `<EventData>` one.
    pub fn user_data_element(&self) -> Option<(&str, &str)> {
        self.user_data
            .as_ref()
            .map(|u| (u.element.as_str(), u.namespace.as_str()))
    }
}
