//! An append-only sequence kept in a temporary file: the report's hosts and findings, and the
//! hosts' results while a scan runs, so that a scan's memory does not grow with its bundle.
//!
//! Items are stored as compact JSON, one after another, and read back one at a time, in order
//! or by position ([`Spool::stream`], [`Spool::get`]); only the positions stay in memory (12
//! bytes per item). A consumer that needs every item at once (grouping, sorting, changing
//! them) dereferences the spool as a slice: the items are then read into memory once, and
//! from then on the spool is that vector. Serialising streams from the file unless the items
//! were read into memory. Written by hand: no
//! crate offers a serde-typed, append-only, random-access sequence over an unnamed temporary
//! file that serialises as a plain sequence.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, OnceLock};

use hiveward_collectors::{Notice, NoticeLevel};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Bytes kept in memory before they are written to the file.
const BUFFER_LIMIT: usize = 256 * 1024;
/// Bytes read from the file at once when an item is not in the last block read.
const READ_AHEAD: usize = 64 * 1024;

/// The code of the notice that says a spool's file could not be written (nothing is lost: the
/// items stay in memory).
pub const SPOOL_WRITE_FAILED: &str = "hiveward::spool::write_failed";
/// The code of the notice that says items could not be read back from a spool's file: they
/// are missing from the report, which is therefore incomplete.
pub const SPOOL_READ_FAILED: &str = "hiveward::spool::read_failed";

/// What every spool of the process failed at, in the order met, until a report takes it
/// ([`take_spool_failures`]).
static FAILURES: Mutex<Vec<Notice>> = Mutex::new(Vec::new());

/// The notices of the spool failures met since the last call: one per spool that could not
/// write its file, and one per item that could not be read back.
pub fn take_spool_failures() -> Vec<Notice> {
    std::mem::take(
        &mut *FAILURES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    )
}

/// Whether `notices` say that results were lost: read back from a spool's file, they could
/// not be ([`SPOOL_READ_FAILED`]).
pub fn results_lost(notices: &[Notice]) -> bool {
    notices
        .iter()
        .any(|notice| notice.code == SPOOL_READ_FAILED)
}

fn note_failure(code: &str, message: String) {
    let level = if code == SPOOL_READ_FAILED {
        NoticeLevel::Error
    } else {
        NoticeLevel::Note
    };
    FAILURES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Notice {
            level,
            code: code.to_string(),
            file: None,
            message,
        });
}

/// A sequence of `T` stored in a temporary file (created on the first write that does not fit
/// in memory; deleted when the spool is dropped).
pub struct Spool<T> {
    store: Mutex<Store>,
    /// The items in memory, once a consumer asked for them all (see [`Spool::items`]).
    loaded: OnceLock<Vec<T>>,
}

/// The bytes of a spool: what the file holds, then the buffer not yet written.
#[derive(Default)]
struct Store {
    file: Option<File>,
    /// Bytes in the file.
    written: u64,
    /// Bytes after `written`, not yet in the file.
    buffer: Vec<u8>,
    /// Where each item starts; it ends where the next starts (items are stored one after
    /// another), the last at the end. Eight bytes an item: at 100,000 hosts the scan's spools
    /// hold about two million items.
    items: Vec<u64>,
    /// The first error met writing or reading the file; later reads give nothing.
    failed: Option<String>,
    /// The last block read from the file (its offset and bytes): items are mostly read in
    /// order, so one read serves the items that follow.
    read_ahead: (u64, Vec<u8>),
    /// Where the last item read from the file ends: an item that starts there is read with
    /// those that follow it, any other alone (reading ahead of items read out of order would
    /// copy a block for each).
    last_end: u64,
}

impl Store {
    fn end(&self) -> u64 {
        self.written + self.buffer.len() as u64
    }

    fn append(&mut self, bytes: &[u8]) {
        // Written before it would outgrow its limit, so that the buffer (grown by doubling)
        // stops at the limit instead of doubling past it.
        if self.buffer.len() + bytes.len() > BUFFER_LIMIT {
            self.flush();
        }
        let start = self.end();
        self.buffer.extend_from_slice(bytes);
        self.items.push(start);
    }

    /// Where the item at `position` starts and how long it is.
    fn span(&self, position: usize) -> Option<(u64, u64)> {
        let start = *self.items.get(position)?;
        let end = match self.items.get(position + 1) {
            Some(next) => *next,
            None => self.end(),
        };
        Some((start, end - start))
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() || self.failed.is_some() {
            return;
        }
        let result = (|| -> std::io::Result<()> {
            if self.file.is_none() {
                self.file = Some(tempfile::tempfile()?);
            }
            let file = self.file.as_mut().expect("created above");
            file.seek(SeekFrom::Start(self.written))?;
            file.write_all(&self.buffer)?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.written += self.buffer.len() as u64;
                self.buffer.clear();
            }
            // The buffer is kept: the items stay readable from memory.
            Err(error) => {
                note_failure(
                    SPOOL_WRITE_FAILED,
                    format!("the temporary file that holds the scan's results could not be written ({error}); they are kept in memory instead"),
                );
                self.failed = Some(error.to_string());
            }
        }
    }

    fn read(&mut self, position: usize) -> Option<Vec<u8>> {
        let (start, len) = self.span(position)?;
        if start >= self.written {
            let from = (start - self.written) as usize;
            return self
                .buffer
                .get(from..from + len as usize)
                .map(<[u8]>::to_vec);
        }
        let end = start + len;
        let in_order = start == self.last_end;
        self.last_end = end;
        let (block_start, block) = &self.read_ahead;
        if start >= *block_start && end <= block_start + block.len() as u64 {
            let from = (start - block_start) as usize;
            return Some(block[from..from + len as usize].to_vec());
        }
        let file = self.file.as_mut()?;
        if !in_order {
            let mut item = vec![0; len as usize];
            let read = file
                .seek(SeekFrom::Start(start))
                .and_then(|_| file.read_exact(&mut item));
            return match read {
                Ok(()) => Some(item),
                Err(error) => self.read_failed(error),
            };
        }
        // The item, and what follows it in the file up to READ_AHEAD bytes.
        let want = (len as usize)
            .max(READ_AHEAD)
            .min((self.written - start) as usize);
        let mut bytes = std::mem::take(&mut self.read_ahead.1);
        bytes.resize(want, 0);
        let read = file
            .seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut bytes));
        match read {
            Ok(()) => {
                let item = bytes[..len as usize].to_vec();
                self.read_ahead = (start, bytes);
                Some(item)
            }
            Err(error) => self.read_failed(error),
        }
    }

    /// Notes that an item could not be read back: it is missing, and so are later reads.
    fn read_failed(&mut self, error: std::io::Error) -> Option<Vec<u8>> {
        note_failure(
            SPOOL_READ_FAILED,
            format!("a result could not be read back from the scan's temporary file ({error}); it is missing from this report"),
        );
        self.failed.get_or_insert(error.to_string());
        None
    }
}

impl<T> Default for Spool<T> {
    fn default() -> Spool<T> {
        Spool {
            store: Mutex::new(Store::default()),
            loaded: OnceLock::new(),
        }
    }
}

impl<T> Spool<T> {
    /// An empty spool.
    pub fn new() -> Spool<T> {
        Spool::default()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        match self.loaded.get() {
            Some(items) => items.len(),
            None => self.store().items.len(),
        }
    }

    /// The item at `position` as it is stored: the compact JSON of [`Spool::encode`].
    pub(crate) fn raw(&self, position: usize) -> Option<Vec<u8>> {
        self.store().read(position)
    }

    /// The item at `position` as [`Spool::encode`] gives it, whether it was read into memory
    /// or is in the file.
    pub(crate) fn encoded(&self, position: usize) -> Option<Vec<u8>>
    where
        T: Serialize,
    {
        match self.loaded.get() {
            Some(items) => items.get(position).map(Spool::encode),
            None => self.raw(position),
        }
    }

    /// How many bytes the items at `positions` take as stored (those that are loaded, or
    /// unknown, count nothing).
    pub(crate) fn stored_bytes(&self, positions: impl IntoIterator<Item = usize>) -> u64 {
        let store = self.store();
        positions
            .into_iter()
            .filter_map(|position| store.span(position))
            .map(|(_, len)| len)
            .sum()
    }

    /// Whether it holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first error met writing or reading the temporary file, if any: items written since
    /// are kept in memory, but an item that could not be read back is missing from what
    /// [`Spool::stream`] and [`Spool::get`] give (and is noted for [`take_spool_failures`]).
    pub fn failure(&self) -> Option<String> {
        self.store().failed.clone()
    }
}

impl<T: Serialize> Spool<T> {
    /// Appends `item`; returns its position. Safe to call from several threads at once (the
    /// item is serialised before the spool is locked). Items are pushed before any consumer
    /// reads them all into memory; pushing after that is a programming error.
    pub fn push(&self, item: &T) -> usize {
        self.push_encoded(&Spool::encode(item))
    }

    /// `item` as the spool stores it, for [`Spool::push_encoded`]: encoding can then be done
    /// on other threads, and the appends in order.
    pub fn encode(item: &T) -> Vec<u8> {
        serde_json::to_vec(item).unwrap_or_default()
    }
}

impl<T> Spool<T> {
    /// Appends an item encoded with [`Spool::encode`]; returns its position.
    pub fn push_encoded(&self, bytes: &[u8]) -> usize {
        debug_assert!(self.loaded.get().is_none(), "pushed to a loaded spool");
        let mut store = self.store();
        store.append(bytes);
        store.items.len() - 1
    }
}

impl<T: DeserializeOwned> Spool<T> {
    /// The item at `position`, read back from the file.
    pub fn get(&self, position: usize) -> Option<T>
    where
        T: Clone,
    {
        if let Some(items) = self.loaded.get() {
            return items.get(position).cloned();
        }
        self.read(position)
    }

    /// Every item, in memory: read from the file on the first call, kept from then on.
    pub fn items(&self) -> &[T] {
        self.loaded.get_or_init(|| {
            let len = self.store().items.len();
            (0..len).filter_map(|at| self.read(at)).collect()
        })
    }

    fn read(&self, position: usize) -> Option<T> {
        self.read_as(position)
    }

    /// The item at `position` decoded from the file as `U`.
    fn read_as<U: DeserializeOwned>(&self, position: usize) -> Option<U> {
        let bytes = self.store().read(position)?;
        match serde_json::from_slice(&bytes) {
            Ok(item) => Some(item),
            Err(error) => {
                note_failure(
                    SPOOL_READ_FAILED,
                    format!("a result read back from the scan's temporary file could not be decoded ({error}); it is missing from this report"),
                );
                None
            }
        }
    }

    /// Every item, in the order they were pushed, each read when it is reached (without
    /// reading them all into memory).
    pub fn stream(&self) -> SpoolIter<'_, T>
    where
        T: Clone,
    {
        SpoolIter {
            spool: self,
            next: 0,
            end: self.len(),
        }
    }

    /// Every item as the lighter `U`, in order: decoded from the file as `U` (the fields `U`
    /// lacks are skipped, not built), or made with `from_item` from items already in memory.
    /// Summaries that count findings by rule, host and severity read them this way.
    pub fn stream_as<'a, U: DeserializeOwned + 'a>(
        &'a self,
        from_item: impl Fn(&T) -> U + 'a,
    ) -> impl Iterator<Item = U> + 'a {
        let loaded = self.loaded.get();
        (0..self.len()).filter_map(move |position| match loaded {
            Some(items) => items.get(position).map(&from_item),
            None => self.read_as::<U>(position),
        })
    }

    /// Rewrites every item with `change`, in order, without reading them all into memory.
    pub fn update(&mut self, mut change: impl FnMut(&mut T))
    where
        T: Serialize + Clone,
    {
        if let Some(items) = self.loaded.get_mut() {
            items.iter_mut().for_each(change);
            return;
        }
        let updated = Spool::new();
        for mut item in self.stream() {
            change(&mut item);
            updated.push(&item);
        }
        *self = updated;
    }
}

impl<T: Serialize + DeserializeOwned + Clone> Spool<T> {
    /// Appends `item`, whether or not the items were read into memory.
    pub fn append(&mut self, item: T) {
        match self.loaded.get_mut() {
            Some(items) => items.push(item),
            None => {
                self.push(&item);
            }
        }
    }

    /// Keeps only the items `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        if let Some(items) = self.loaded.get_mut() {
            items.retain(keep);
            return;
        }
        *self = self.stream().filter(|item| keep(item)).collect();
    }
}

impl<T: DeserializeOwned> Deref for Spool<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.items()
    }
}

impl<T: DeserializeOwned> DerefMut for Spool<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.items();
        self.loaded
            .get_mut()
            .map(Vec::as_mut_slice)
            .unwrap_or_default()
    }
}

/// The items of a [`Spool`], read one at a time.
pub struct SpoolIter<'a, T> {
    spool: &'a Spool<T>,
    next: usize,
    end: usize,
}

impl<T: DeserializeOwned + Clone> Iterator for SpoolIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        while self.next < self.end {
            self.next += 1;
            if let Some(item) = self.spool.get(self.next - 1) {
                return Some(item);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.end - self.next))
    }
}

impl<'a, T: DeserializeOwned> IntoIterator for &'a Spool<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> std::slice::Iter<'a, T> {
        self.items().iter()
    }
}

impl<T: Serialize> FromIterator<T> for Spool<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Spool<T> {
        let spool = Spool::new();
        for item in items {
            spool.push(&item);
        }
        spool
    }
}

impl<T: Serialize> From<Vec<T>> for Spool<T> {
    fn from(items: Vec<T>) -> Spool<T> {
        items.into_iter().collect()
    }
}

impl<T: Serialize + DeserializeOwned + Clone> Clone for Spool<T> {
    fn clone(&self) -> Spool<T> {
        self.stream().collect()
    }
}

impl<T: DeserializeOwned + PartialEq + Clone> PartialEq for Spool<T> {
    fn eq(&self, other: &Spool<T>) -> bool {
        self.len() == other.len() && self.stream().eq(other.stream())
    }
}

impl<T: DeserializeOwned + Eq + Clone> Eq for Spool<T> {}

impl<T> fmt::Debug for Spool<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Spool({} items)", self.len())
    }
}

/// Serialised as a sequence, each item read from the file as the serialiser reaches it (or
/// from memory, once the items were read into it).
impl<T: Serialize + DeserializeOwned> Serialize for Spool<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut sequence = serializer.serialize_seq(Some(self.len()))?;
        match self.loaded.get() {
            Some(items) => {
                for item in items {
                    sequence.serialize_element(item)?;
                }
            }
            None => {
                for position in 0..self.len() {
                    if let Some(item) = self.read(position) {
                        sequence.serialize_element(&item)?;
                    }
                }
            }
        }
        sequence.end()
    }
}

/// Read from a sequence, each item spooled as it is read.
impl<'de, T: Serialize + Deserialize<'de>> Deserialize<'de> for Spool<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Spool<T>, D::Error> {
        struct Items<T>(std::marker::PhantomData<fn() -> T>);
        impl<'de, T: Serialize + Deserialize<'de>> serde::de::Visitor<'de> for Items<T> {
            type Value = Spool<T>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a sequence")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut sequence: A,
            ) -> Result<Spool<T>, A::Error> {
                let spool = Spool::new();
                while let Some(item) = sequence.next_element::<T>()? {
                    spool.push(&item);
                }
                Ok(spool)
            }
        }
        deserializer.deserialize_seq(Items(std::marker::PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spool<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Vec<T> as schemars::JsonSchema>::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        <Vec<T> as schemars::JsonSchema>::schema_id()
    }

    fn inline_schema() -> bool {
        <Vec<T> as schemars::JsonSchema>::inline_schema()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<T> as schemars::JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failure log is the process's: tests that read it take turns.
    static FAILURE_LOG: Mutex<()> = Mutex::new(());

    #[test]
    fn items_come_back_in_order_and_by_position_past_the_buffer() {
        let spool: Spool<String> = Spool::new();
        let items: Vec<String> = (0..20_000)
            .map(|n| format!("item {n} {}", "x".repeat(n % 97)))
            .collect();
        for item in &items {
            spool.push(item);
        }
        assert!(spool.store().written > 0, "the file was used");
        assert_eq!(spool.len(), items.len());
        assert_eq!(spool.get(12_345).as_ref(), Some(&items[12_345]));
        assert_eq!(spool.get(items.len() - 1).as_ref(), items.last());
        assert_eq!(spool.get(items.len()), None);
        assert!(spool.stream().eq(items.iter().cloned()));
        assert_eq!(spool.failure(), None);
        assert_eq!(
            spool.loaded.get(),
            None,
            "streaming reads nothing into memory"
        );
        assert_eq!(&spool[..], &items[..]);
    }

    #[test]
    fn items_read_out_of_order_are_read_alone_and_in_order_ones_ahead() {
        let spool: Spool<String> = Spool::new();
        let items: Vec<String> = (0..20_000)
            .map(|n| format!("item {n:06} {}", "z".repeat(40)))
            .collect();
        for item in &items {
            spool.push(item);
        }
        assert!(spool.store().written > 1_000_000, "the file was used");
        // Out of order (as the fleet phase's outcomes are read, host by host): each item is
        // read on its own, without a block of what follows.
        for at in [19_000, 3, 11_111, 7] {
            assert_eq!(spool.get(at).as_ref(), Some(&items[at]));
            assert!(
                spool.store().read_ahead.1.is_empty(),
                "no block for item {at}"
            );
        }
        // The next item in the file: read with a block of those that follow, which serves them.
        assert_eq!(spool.get(8).as_ref(), Some(&items[8]));
        let block = spool.store().read_ahead.1.len();
        assert_eq!(block, READ_AHEAD);
        for (at, item) in items.iter().enumerate().take(109).skip(9) {
            assert_eq!(spool.get(at).as_ref(), Some(item));
        }
        let store = spool.store();
        assert_eq!(
            store.read_ahead.0, store.items[8],
            "one block served them all"
        );
    }

    #[test]
    fn an_item_that_cannot_be_read_back_is_reported_not_skipped_silently() {
        let _turn = FAILURE_LOG
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let spool: Spool<String> = Spool::new();
        for n in 0..20_000 {
            spool.push(&format!("item {n:06} {}", "y".repeat(40)));
        }
        assert!(spool.store().written > 0, "the file was used");
        // The file loses its contents (a disk error, a cleaner that truncated it).
        spool.store().file = Some(tempfile::tempfile().unwrap());
        assert_eq!(spool.get(0), None);
        assert!(spool.failure().is_some());
        let failures = take_spool_failures();
        let lost: Vec<&Notice> = failures
            .iter()
            .filter(|notice| notice.code == SPOOL_READ_FAILED)
            .collect();
        assert!(!lost.is_empty(), "{failures:?}");
        assert_eq!(lost[0].level, NoticeLevel::Error);
        assert!(
            lost[0].message.contains("missing from this report"),
            "{}",
            lost[0].message
        );
    }

    #[test]
    fn a_file_that_cannot_be_written_keeps_the_items_in_memory_and_says_so() {
        let _turn = FAILURE_LOG
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let spool: Spool<String> = Spool::new();
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("read-only");
        std::fs::write(&path, b"").unwrap();
        // A handle that cannot write: every flush fails.
        spool.store().file = Some(File::open(&path).unwrap());
        let items: Vec<String> = (0..20_000)
            .map(|n| format!("item {n} {}", "z".repeat(30)))
            .collect();
        for item in &items {
            spool.push(item);
        }
        assert!(spool.failure().is_some());
        assert!(spool.stream().eq(items.iter().cloned()), "nothing is lost");
        let failures = take_spool_failures();
        assert!(
            failures.iter().any(
                |notice| notice.code == SPOOL_WRITE_FAILED && notice.level == NoticeLevel::Note
            ),
            "{failures:?}"
        );
    }

    #[test]
    fn serialises_as_the_vector_would() {
        let items = vec![vec![1, 2], vec![], vec![3]];
        let spool = Spool::from(items.clone());
        assert_eq!(
            serde_json::to_string_pretty(&spool).unwrap(),
            serde_json::to_string_pretty(&items).unwrap()
        );
        let back: Spool<Vec<u32>> = serde_json::from_str("[[1,2],[],[3]]").unwrap();
        assert_eq!(back.to_vec(), items);
        assert_eq!(serde_json::to_string(&back).unwrap(), "[[1,2],[],[3]]");
        assert_eq!(back, spool);
    }

    #[test]
    fn update_rewrites_every_item() {
        let mut spool: Spool<u32> = (0..1000).collect();
        spool.update(|item| *item *= 2);
        assert_eq!(spool.stream().sum::<u32>(), 999 * 1000);
        spool[0] = 7;
        spool.update(|item| *item += 1);
        assert_eq!(spool.get(0), Some(8));
        spool.append(5);
        // 8, then 3, 5, 7 … 1999 (each 2n + 1), then the 5 appended: only the odd stay.
        spool.retain(|item| item % 2 == 1);
        assert_eq!(spool.len(), 1000);
        assert_eq!(spool.get(0), Some(3));
        assert_eq!(spool.get(999), Some(5));
        assert_eq!(serde_json::to_value(&spool).unwrap()[1], 5);
    }
}
