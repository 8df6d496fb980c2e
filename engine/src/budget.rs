//! Bounds on the text a finding carries. A rule can return strings of up to the sandbox's string
//! size, share one string among thousands of array items at no cost, and repeat a fix-template
//! placeholder hundreds of times, so the report could grow far past what the rule itself was
//! allowed to build. A [`Budget`] measures each piece before copying it and cuts what does not
//! fit, leaving a visible `…[N bytes cut]` marker; within the budget, values are converted
//! exactly as before, so normal output does not change.

use rhai::{Array, Blob, Dynamic, ImmutableString, Map};
use serde_json::Value;

/// Deeper nesting than this is cut (a rule can nest arrays in arrays a million times).
const MAX_DEPTH: usize = 64;

/// The most bytes of a rule error's message or of a `not_applicable(reason)` reason a report
/// keeps.
pub(crate) const MAX_MESSAGE_BYTES: usize = 4_096;

/// `text` cut after `max` bytes (at a char boundary), with a marker saying how many were cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let keep = floor_char_boundary(text, max);
    format!("{}{}", &text[..keep], cut_marker(text.len() - keep))
}

/// The marker left where `bytes` bytes of text were cut.
pub(crate) fn cut_marker(bytes: usize) -> String {
    format!("…[{bytes} bytes cut]")
}

/// The marker left where `items` items of a list were cut.
pub(crate) fn items_cut_marker(items: usize) -> String {
    format!("…[{items} more item(s) cut]")
}

/// The largest char boundary of `text` at or below `at`.
pub(crate) fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    let mut at = at;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The bytes a finding may still take, and whether anything was cut.
pub(crate) struct Budget {
    remaining: usize,
    /// The most one string may take.
    per_string: usize,
    limit: usize,
    cut: bool,
}

impl Budget {
    /// A budget of `limit` bytes, of which one string may take a quarter.
    pub(crate) fn new(limit: usize) -> Budget {
        Budget {
            remaining: limit,
            per_string: (limit / 4).max(1),
            limit,
            cut: false,
        }
    }

    /// Whether anything was cut.
    pub(crate) fn was_cut(&self) -> bool {
        self.cut
    }

    /// The bytes taken so far.
    pub(crate) fn used(&self) -> usize {
        self.limit - self.remaining
    }

    /// Whether nothing more fits.
    pub(crate) fn exhausted(&self) -> bool {
        self.remaining == 0
    }

    /// Notes that something was left out.
    pub(crate) fn mark_cut(&mut self) {
        self.cut = true;
    }

    /// Takes `bytes` for something that is kept whole (a number, a list's brackets).
    pub(crate) fn charge(&mut self, bytes: usize) {
        if bytes > self.remaining {
            self.cut = true;
        }
        self.remaining = self.remaining.saturating_sub(bytes);
    }

    /// `text` whole when it fits, else its first bytes and a marker saying how many were cut.
    /// Copies only what it keeps.
    pub(crate) fn text(&mut self, text: &str) -> String {
        let allowed = self.remaining.min(self.per_string);
        if text.len() <= allowed {
            self.remaining -= text.len();
            return text.to_string();
        }
        let keep = floor_char_boundary(text, allowed);
        self.remaining -= keep;
        self.cut = true;
        let mut out = String::with_capacity(keep + 24);
        out.push_str(&text[..keep]);
        out.push_str(&cut_marker(text.len() - keep));
        out
    }

    /// A Rhai value as JSON, `None` for `()` and for values JSON cannot hold. A value that fits
    /// is converted by `exact` (Rhai's serde conversion); one that does not is converted here,
    /// cut to what remains.
    pub(crate) fn json(
        &mut self,
        value: &Dynamic,
        exact: impl FnOnce(&Dynamic) -> Option<Value>,
    ) -> Option<Value> {
        if value.is_unit() {
            return None;
        }
        let size = json_size(value, self.remaining, self.per_string, 0);
        if size <= self.remaining {
            self.remaining -= size;
            return exact(value);
        }
        self.cut = true;
        Some(self.bounded(value, 0))
    }

    fn bounded(&mut self, value: &Dynamic, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            self.cut = true;
            return Value::String("…[nested too deeply: cut]".to_string());
        }
        if value.is_unit() {
            self.charge(4);
            return Value::Null;
        }
        if let Ok(flag) = value.as_bool() {
            self.charge(5);
            return Value::Bool(flag);
        }
        if let Ok(number) = value.as_int() {
            self.charge(20);
            return Value::from(number);
        }
        if let Ok(number) = value.as_float() {
            self.charge(24);
            return serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number);
        }
        if let Ok(character) = value.as_char() {
            return Value::String(self.text(&character.to_string()));
        }
        if let Some(text) = value.read_lock::<ImmutableString>() {
            return Value::String(self.text(text.as_str()));
        }
        if let Some(blob) = value.read_lock::<Blob>() {
            let allowed = self.remaining.min(self.per_string) / 2;
            let keep = blob.len().min(allowed);
            self.charge(keep * 2);
            let mut hex = hiveward_collectors::to_hex(&blob[..keep]);
            if keep < blob.len() {
                self.cut = true;
                hex.push_str(&cut_marker(blob.len() - keep));
            }
            return Value::String(hex);
        }
        if let Some(items) = value.read_lock::<Array>() {
            self.charge(2);
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                if self.exhausted() {
                    self.cut = true;
                    out.push(Value::String(items_cut_marker(items.len() - index)));
                    break;
                }
                self.charge(1);
                out.push(self.bounded(item, depth + 1));
            }
            return Value::Array(out);
        }
        if let Some(map) = value.read_lock::<Map>() {
            self.charge(2);
            let mut out = serde_json::Map::new();
            for (index, (name, item)) in map.iter().enumerate() {
                if self.exhausted() {
                    self.cut = true;
                    out.insert(
                        "…".to_string(),
                        Value::String(items_cut_marker(map.len() - index)),
                    );
                    break;
                }
                self.charge(4);
                let name = self.text(name.as_str());
                let item = self.bounded(item, depth + 1);
                out.insert(name, item);
            }
            return Value::Object(out);
        }
        // Handles and other values JSON cannot hold.
        self.charge(24);
        Value::Null
    }
}

/// Roughly the bytes of `value` as JSON, or `usize::MAX` once it is over `cap`, holds a string
/// over `per_string` or nests deeper than [`MAX_DEPTH`]. Every item counts at least one byte,
/// so this visits at most about `cap` items.
fn json_size(value: &Dynamic, cap: usize, per_string: usize, depth: usize) -> usize {
    const OVER: usize = usize::MAX;
    if depth > MAX_DEPTH {
        return OVER;
    }
    if value.is_unit() {
        return 4;
    }
    if let Some(text) = value.read_lock::<ImmutableString>() {
        return if text.len() > per_string {
            OVER
        } else {
            text.len() + 2
        };
    }
    if let Some(blob) = value.read_lock::<Blob>() {
        return if blob.len().saturating_mul(2) > per_string {
            OVER
        } else {
            blob.len() * 2 + 2
        };
    }
    if let Some(items) = value.read_lock::<Array>() {
        let mut total: usize = 2;
        for item in items.iter() {
            let size = json_size(item, cap.saturating_sub(total), per_string, depth + 1);
            total = total.saturating_add(size).saturating_add(1);
            if total > cap {
                return OVER;
            }
        }
        return total;
    }
    if let Some(map) = value.read_lock::<Map>() {
        let mut total: usize = 2;
        for (name, item) in map.iter() {
            if name.len() > per_string {
                return OVER;
            }
            let size = json_size(item, cap.saturating_sub(total), per_string, depth + 1);
            total = total.saturating_add(name.len() + 4).saturating_add(size);
            if total > cap {
                return OVER;
            }
        }
        return total;
    }
    // Numbers, booleans, characters and handles.
    24
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(value: &Dynamic) -> Option<Value> {
        rhai::serde::from_dynamic::<Value>(value).ok()
    }

    #[test]
    fn text_is_cut_at_a_char_boundary_with_a_marker() {
        let mut budget = Budget::new(16);
        assert_eq!(budget.text("abcd"), "abcd");
        assert!(!budget.was_cut());
        // One string may take a quarter of the budget: 4 bytes.
        assert_eq!(budget.text("ééé"), "éé…[2 bytes cut]");
        assert!(budget.was_cut());
        assert_eq!(budget.used(), 8);
    }

    #[test]
    fn values_that_fit_convert_exactly_and_others_are_cut() {
        let small: Dynamic = vec![Dynamic::from("a"), Dynamic::from(1_i64)].into();
        let mut budget = Budget::new(1000);
        assert_eq!(budget.json(&small, exact), exact(&small));
        assert!(!budget.was_cut());

        let big: Dynamic = ImmutableString::from("x".repeat(10_000)).into();
        let shared: Dynamic = vec![big; 50_000].into();
        let mut budget = Budget::new(1000);
        let Some(Value::Array(items)) = budget.json(&shared, exact) else {
            panic!("an array");
        };
        assert!(budget.was_cut());
        assert!(items.len() < 10, "{}", items.len());
        let text = serde_json::to_string(&items).unwrap();
        assert!(text.len() < 1200, "{}", text.len());
        assert!(
            text.contains("bytes cut") && text.contains("more item(s) cut"),
            "{text}"
        );
    }

    #[test]
    fn deep_nesting_is_cut() {
        let mut value: Dynamic = Dynamic::from(1_i64);
        for _ in 0..1_000 {
            value = vec![value].into();
        }
        let mut budget = Budget::new(1 << 20);
        let converted = budget.json(&value, exact).unwrap();
        assert!(budget.was_cut());
        assert!(serde_json::to_string(&converted)
            .unwrap()
            .contains("nested too deeply"));
    }
}
