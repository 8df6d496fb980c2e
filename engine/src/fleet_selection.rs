//! What `fleet.hosts` and `fleet.by(...)` return: a selection of summaries that becomes maps
//! one at a time, as a rule walks it, instead of an array holding every match at once.
//!
//! A lookup that matches the whole fleet (a domain every host belongs to, `fleet.by("judge",
//! true)`) would otherwise hold a map of every host's summary while the rule judges; as a
//! selection it holds their positions. `for`, `len`, `is_empty`, indexing and passing it to
//! functions work as on an array; `to_array()` gives an array for anything else.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext, Position, INT};

use crate::fleet::Fleet;

/// Summaries of a fleet found by one lookup, in host-name order, read one at a time.
#[derive(Clone)]
pub struct FleetSelection {
    fleet: Fleet,
    members: Members,
}

/// Which summaries a selection holds.
#[derive(Clone)]
enum Members {
    /// The first `n` summaries: the whole fleet.
    First(usize),
    /// These summaries, by position in the fleet.
    Listed(Arc<[usize]>),
}

impl FleetSelection {
    /// Every summary of `fleet`.
    pub(crate) fn all(fleet: Fleet, len: usize) -> FleetSelection {
        FleetSelection {
            fleet,
            members: Members::First(len),
        }
    }

    /// The summaries of `fleet` at `positions`, in that order.
    pub(crate) fn listed(fleet: Fleet, positions: Arc<[usize]>) -> FleetSelection {
        FleetSelection {
            fleet,
            members: Members::Listed(positions),
        }
    }

    /// How many summaries.
    pub fn len(&self) -> usize {
        match &self.members {
            Members::First(len) => *len,
            Members::Listed(positions) => positions.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `index`th summary as a map, if there is one.
    pub fn get(&self, index: usize) -> Option<Dynamic> {
        let position = match &self.members {
            Members::First(len) => (index < *len).then_some(index)?,
            Members::Listed(positions) => *positions.get(index)?,
        };
        Some(self.fleet.summary(position))
    }

    /// Every summary as a map, in one array.
    pub fn to_array(&self) -> Array {
        self.clone().into_iter().collect()
    }

    /// `index` as Rhai reads an array index: from the end when negative.
    fn resolve(&self, index: INT) -> Option<usize> {
        let len = self.len();
        if index < 0 {
            len.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)
        } else {
            usize::try_from(index).ok().filter(|index| *index < len)
        }
    }
}

/// The summaries of a selection, each read into a map as it is reached.
pub struct SelectionIter {
    selection: FleetSelection,
    next: usize,
}

impl Iterator for SelectionIter {
    type Item = Dynamic;

    fn next(&mut self) -> Option<Dynamic> {
        let item = self.selection.get(self.next)?;
        self.next += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.selection.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl IntoIterator for FleetSelection {
    type Item = Dynamic;
    type IntoIter = SelectionIter;

    fn into_iter(self) -> SelectionIter {
        SelectionIter {
            selection: self,
            next: 0,
        }
    }
}

/// Calls the array function `name` of Rhai's standard library on the selection's summaries
/// with `function`: `filter`, `map`, `some` and `all` behave as on the array `fleet.by(...)`
/// used to return.
fn on_array(
    context: &NativeCallContext,
    name: &str,
    selection: &FleetSelection,
    function: FnPtr,
) -> Result<Dynamic, Box<EvalAltResult>> {
    context.call_native_fn::<Dynamic>(name, (selection.to_array(), function))
}

/// Registers the `FleetSelection` type: iteration, length, indexing and the array functions
/// rules use on lookups.
pub(crate) fn register_selection_api(engine: &mut Engine) {
    engine
        .register_type_with_name::<FleetSelection>("FleetSelection")
        .register_iterator::<FleetSelection>()
        .register_get("len", |selection: &mut FleetSelection| -> INT {
            INT::try_from(selection.len()).unwrap_or(INT::MAX)
        })
        .register_fn("len", |selection: &mut FleetSelection| -> INT {
            INT::try_from(selection.len()).unwrap_or(INT::MAX)
        })
        .register_get("is_empty", |selection: &mut FleetSelection| -> bool {
            selection.is_empty()
        })
        .register_fn("is_empty", |selection: &mut FleetSelection| -> bool {
            selection.is_empty()
        })
        .register_indexer_get(
            |selection: &mut FleetSelection, index: INT| -> Result<Dynamic, Box<EvalAltResult>> {
                selection
                    .resolve(index)
                    .and_then(|at| selection.get(at))
                    .ok_or_else(|| {
                        EvalAltResult::ErrorArrayBounds(selection.len(), index, Position::NONE)
                            .into()
                    })
            },
        )
        .register_fn(
            "get",
            |selection: &mut FleetSelection, index: INT| -> Dynamic {
                selection
                    .resolve(index)
                    .and_then(|at| selection.get(at))
                    .unwrap_or(Dynamic::UNIT)
            },
        )
        .register_fn("to_array", |selection: &mut FleetSelection| -> Array {
            selection.to_array()
        })
        .register_fn("to_string", |selection: &mut FleetSelection| -> String {
            format!("{} summaries", selection.len())
        })
        .register_fn("to_debug", |selection: &mut FleetSelection| -> String {
            format!("FleetSelection({} summaries)", selection.len())
        });
    for name in ["filter", "map", "some", "all"] {
        engine.register_fn(
            name,
            move |context: NativeCallContext, selection: &mut FleetSelection, function: FnPtr| {
                on_array(&context, name, selection, function)
            },
        );
    }
}
