//! `host.memo(|host| ...)`: a pack computation made once per host and handed again to every
//! rule of the pack that asks for the same one, with nothing a rule can observe changed.
//!
//! Several rules of a pack often derive the same fact from one host (the signing pack reads
//! the effective `RequireSecuritySignature` of each side in four rules). A computation passed to
//! `host.memo` (a closure of one parameter, which receives the host) is made on the first call
//! and its value kept with the host; later calls return a copy. The result of a scan is the
//! same with or without it:
//!
//! - **The key is the computation itself**: the calling file, the closure (Rhai names a closure
//!   by a hash of its parameters and body) and the values it captured. A closure sees nothing
//!   else but the host, whose evidence does not change, so equal keys give equal values. A
//!   captured value that cannot be compared (a function pointer, a custom type other than the
//!   host) makes the call run without the memo.
//! - **Limits hold as if the computation ran again.** The most operations it reached is kept with
//!   its value, and the deepest call level it was made from: a call from which it would run out
//!   of operations, or from deeper in the call stack, runs it again, so a limit fails exactly
//!   where and how it would have.
//! - **Side effects are replayed**: damaged-evidence reads it caught are noted again for the
//!   calling rule. A computation that reads events is never kept: `host.events` gives each rule
//!   only the records its own `needs` declares.
//! - **Errors are never kept**: a failing computation fails again for every rule that makes it.
//! - **Bounded**: a host keeps at most 1,024 computations and about 1 MiB; beyond that a
//!   computation runs each time.
//! - `scan --explain` and `scan --trace` run every computation, so their reads and output are
//!   the rule's own.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use rhai::{Array, Dynamic, EvalAltResult, FnPtr, Map, NativeCallContext};

use crate::host_api::{HostHandle, UnreadableEvidence};

/// The most computations one host keeps; later ones run without the memo.
const MAX_ENTRIES: usize = 1_024;

/// The longest key (file, closure and captured values) kept.
const MAX_KEY_BYTES: usize = 4_096;

/// The most bytes (keys and values, estimated) one host keeps: rules are untrusted, and what a
/// host keeps stays until the host is released.
const MAX_KEPT_BYTES: usize = 1 << 20;

/// The kept computations of one host.
#[derive(Default)]
pub struct HostMemo {
    entries: Mutex<Entries>,
}

/// The kept computations by key, and their estimated size.
#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Kept>,
    bytes: usize,
}

impl std::fmt::Debug for HostMemo {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HostMemo")
            .field("kept", &self.kept())
            .finish()
    }
}

impl HostMemo {
    /// How many computations are kept for the host.
    pub fn kept(&self) -> usize {
        self.entries
            .lock()
            .map(|entries| entries.by_key.len())
            .unwrap_or(0)
    }
}

/// One kept computation.
#[derive(Clone)]
struct Kept {
    value: Dynamic,
    /// The most operations the computation counted beyond those of its caller.
    operations: u64,
    /// The deepest call level it was made from without failing.
    level: usize,
    /// The damaged-evidence reads it caught, noted again for each rule it is handed to.
    unreadable: Vec<UnreadableEvidence>,
    /// What it read that makes a verdict inferred (a dirty hive, values two sources hold
    /// differently), noted again likewise.
    inferred: crate::host_api::InferredReads,
}

thread_local! {
    /// The highest operation count reached on this thread since the computation
    /// running on it started.
    static PEAK_OPERATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// `host.events` calls made on this thread: a computation that makes one is not kept.
    static EVENT_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Notes an operation count (called by the engine's progress callback for every operation).
#[inline]
pub(crate) fn note_operations(operations: u64) {
    PEAK_OPERATIONS.with(|peak| {
        if operations > peak.get() {
            peak.set(operations);
        }
    });
}

/// Starts counting a rule call's operations afresh (for `scan --timings`). A computation kept
/// by `host.memo` sets its own start, so this changes nothing it decides.
pub(crate) fn restart_operations() {
    PEAK_OPERATIONS.with(|peak| peak.set(0));
}

/// The most operations counted on this thread since [`restart_operations`]: a rule call's
/// operations, since the engine counts them from zero for each call.
pub(crate) fn operations_since_restart() -> u64 {
    PEAK_OPERATIONS.with(|peak| peak.get())
}

/// Notes a `host.events` call.
pub(crate) fn note_event_read() {
    EVENT_READS.with(|reads| reads.set(reads.get() + 1));
}

/// `host.memo(compute)`: the value of `compute()` for this host, made once.
pub(crate) fn memo(
    call: &NativeCallContext,
    host: &HostHandle,
    compute: FnPtr,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let run = || compute.call_within_context::<Dynamic>(call, (Dynamic::from(host.clone()),));
    if crate::explain::recording() || crate::trace::capturing() {
        return run();
    }
    let Some(key) = key_of(call, &compute) else {
        return run();
    };
    let state = call.global_runtime_state();
    let (operations, level) = (state.num_operations, state.level);
    let limit = call.engine().max_operations();
    // A call from which the computation would fail (too deep, or out of operations) runs it,
    // so that it fails exactly as it would have.
    let fits = |kept: &Kept| {
        level <= kept.level && (limit == 0 || operations.saturating_add(kept.operations) <= limit)
    };
    let kept = host
        .0
        .memo
        .entries
        .lock()
        .ok()
        .and_then(|entries| entries.by_key.get(&key).filter(|kept| fits(kept)).cloned());
    if let Some(kept) = kept {
        note_operations(operations.saturating_add(kept.operations));
        crate::host_api::note_unreadable_reads(&kept.unreadable);
        crate::host_api::note_inferred_reads(&kept.inferred);
        return Ok(kept.value);
    }
    let outer_peak = PEAK_OPERATIONS.with(|peak| peak.replace(operations));
    let events_before = EVENT_READS.with(|reads| reads.get());
    let unreadable_before = crate::host_api::unreadable_read_count();
    // The computation's own inferred reads, apart from the caller's, which are put back.
    let mut caller_inferred = crate::host_api::take_inferred_reads();
    let result = run();
    let inferred = crate::host_api::take_inferred_reads();
    caller_inferred.merge(&inferred);
    crate::host_api::note_inferred_reads(&caller_inferred);
    let peak = PEAK_OPERATIONS.with(|peak| {
        let reached = peak.get();
        peak.set(reached.max(outer_peak));
        reached
    });
    let value = result?;
    let read_events = EVENT_READS.with(|reads| reads.get()) != events_before;
    let size = if read_events {
        None
    } else {
        plain_size(&value, 0)
    };
    if let (Some(size), Ok(mut entries)) = (size, host.0.memo.entries.lock()) {
        if let Some(kept) = entries.by_key.get_mut(&key) {
            kept.level = kept.level.max(level);
        } else {
            let bytes = entries.bytes + key.len() + size;
            if entries.by_key.len() < MAX_ENTRIES && bytes <= MAX_KEPT_BYTES {
                entries.bytes = bytes;
                let unreadable = crate::host_api::unreadable_reads_since(unreadable_before);
                let kept = Kept {
                    value: value.clone(),
                    operations: peak.saturating_sub(operations),
                    level,
                    unreadable,
                    inferred,
                };
                entries.by_key.insert(key, kept);
            }
        }
    }
    Ok(value)
}

/// The key of a computation: the calling file, the function and its captured values; `None`
/// when a captured value cannot be written down exactly.
fn key_of(call: &NativeCallContext, compute: &FnPtr) -> Option<String> {
    let mut key = String::new();
    let _ = write!(
        key,
        "{}\u{0}{}",
        call.call_source().unwrap_or_default(),
        compute.fn_name()
    );
    for captured in compute.curry() {
        key.push('\u{0}');
        if !write_value(&mut key, captured, 0) || key.len() > MAX_KEY_BYTES {
            return None;
        }
    }
    Some(key)
}

/// The most levels of arrays and maps a key or a kept value may nest.
const MAX_DEPTH: usize = 16;

/// Writes `value` into a key, tagged by type so that values of different types never meet;
/// false for values that cannot be compared.
fn write_value(key: &mut String, value: &Dynamic, depth: usize) -> bool {
    if depth > MAX_DEPTH || key.len() > MAX_KEY_BYTES {
        return false;
    }
    let flat;
    let value = if value.is_shared() {
        flat = value.flatten_clone();
        &flat
    } else {
        value
    };
    if value.is_unit() {
        key.push('u');
    } else if let Ok(flag) = value.as_bool() {
        let _ = write!(key, "b{flag}");
    } else if let Ok(number) = value.as_int() {
        let _ = write!(key, "i{number}");
    } else if let Ok(number) = value.as_float() {
        let _ = write!(key, "f{}", number.to_bits());
    } else if let Ok(letter) = value.as_char() {
        let _ = write!(key, "c{letter}");
    } else if let Some(text) = value.read_lock::<rhai::ImmutableString>() {
        let _ = write!(key, "s{}:{}", text.len(), text.as_str());
    } else if let Some(items) = value.read_lock::<Array>() {
        let _ = write!(key, "a{}[", items.len());
        for item in items.iter() {
            if !write_value(key, item, depth + 1) {
                return false;
            }
            key.push(',');
        }
        key.push(']');
    } else if let Some(map) = value.read_lock::<Map>() {
        let _ = write!(key, "m{}{{", map.len());
        for (name, item) in map.iter() {
            let _ = write!(key, "{}:{}=", name.len(), name.as_str());
            if !write_value(key, item, depth + 1) {
                return false;
            }
            key.push(',');
        }
        key.push('}');
    } else if let Some(blob) = value.read_lock::<rhai::Blob>() {
        let _ = write!(key, "x{}:", blob.len());
        for byte in blob.iter() {
            let _ = write!(key, "{byte:02x}");
        }
    } else if value.is::<HostHandle>() {
        // The memo belongs to one host, so the host it captured is that host.
        key.push('h');
    } else {
        return false;
    }
    true
}

/// The estimated size of `value` when it is plain data that a copy hands on unchanged (no
/// shared, captured value, function pointer or custom type); `None` otherwise.
fn plain_size(value: &Dynamic, depth: usize) -> Option<usize> {
    /// What one value costs besides its text.
    const SLOT: usize = 16;
    if depth > MAX_DEPTH || value.is_shared() {
        return None;
    }
    if value.is_unit() || value.is_bool() || value.is_int() || value.is_float() || value.is_char() {
        return Some(SLOT);
    }
    if let Some(text) = value.read_lock::<rhai::ImmutableString>() {
        return Some(SLOT + text.len());
    }
    if let Some(blob) = value.read_lock::<rhai::Blob>() {
        return Some(SLOT + blob.len());
    }
    if let Some(items) = value.read_lock::<Array>() {
        return items.iter().try_fold(SLOT, |total, item| {
            Some(total + plain_size(item, depth + 1)?)
        });
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map.iter().try_fold(SLOT, |total, (name, item)| {
            Some(total + name.len() + plain_size(item, depth + 1)?)
        });
    }
    None
}
