//! The Rhai sandbox: one engine with operation, depth and size limits, no `eval`, no file,
//! network or process access, and imports limited to the importing pack's own `lib/`.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared, AST};

/// The limits every rule runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Operations one rule may run on one host.
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Expression nesting at the top level.
    pub max_expr_depth: usize,
    /// Expression nesting inside functions.
    pub max_function_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Items in one array.
    pub max_array_size: usize,
    /// Entries in one map.
    pub max_map_size: usize,
    /// Modules one rule may import.
    pub max_modules: usize,
    /// Findings one rule may return for one host.
    pub max_findings: usize,
    /// Wall-clock time one rule may take on one host.
    pub max_duration: Duration,
    /// Bytes of text one finding may hold in its message, evidence and fix values together
    /// (no one string more than a quarter of it), and again in its filled-in fix guidance.
    /// Text beyond it is cut, with a visible `…[N bytes cut]` marker and a note on the finding.
    pub max_finding_bytes: usize,
    /// Bytes of text all the findings of one rule on one host may hold; past it, each further
    /// finding keeps at most 1 KiB.
    pub max_findings_bytes: usize,
    /// Bytes in one `.rhai` file, rule or `lib/` module.
    pub max_source_bytes: usize,
    /// Bytes in a pack's `pack.toml` or in one `*.tests.toml` file.
    pub max_toml_bytes: usize,
    /// Bytes in all the files of one pack together.
    pub max_pack_bytes: usize,
    /// Functions, closures included, one `.rhai` file may define.
    pub max_functions: usize,
    /// Distinct words (names, numbers, and the words of strings and comments) in one `.rhai`
    /// file: Rhai's compile time grows with the square of the distinct names and map keys.
    pub max_distinct_words: usize,
    /// Distinct words in all the `.rhai` files of one pack, each file counted on its own.
    pub max_pack_distinct_words: usize,
    /// Bytes of JSON one fleet rule's `summarize(host)` may return for one host.
    pub max_summary_bytes: usize,
    /// Operations a fleet rule's `check(fleet)` may run per host of the fleet, on top of
    /// [`Limits::max_operations`]; array, map, finding and time limits grow with the fleet too
    /// ([`Limits::for_fleet`]).
    pub fleet_operations_per_host: u64,
    /// Lines of `print`/`debug` output kept per rule × host when it is captured (`rules test`,
    /// `scan --trace`, `scan --explain`); past it, a visible `…[output cut: …]` line says how
    /// much more there was.
    pub max_output_lines: usize,
    /// Bytes of `print`/`debug` output kept per rule × host when it is captured.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_call_levels: 48,
            max_expr_depth: 64,
            max_function_expr_depth: 48,
            max_string_size: 1 << 20,
            max_array_size: 50_000,
            max_map_size: 10_000,
            max_modules: 16,
            max_findings: 1_000,
            max_duration: Duration::from_secs(10),
            max_finding_bytes: 64 << 10,
            max_findings_bytes: 4 << 20,
            max_source_bytes: 256 << 10,
            max_toml_bytes: 1 << 20,
            max_pack_bytes: 4 << 20,
            max_functions: 256,
            max_distinct_words: 2_048,
            max_pack_distinct_words: 32_768,
            max_summary_bytes: 256 << 10,
            fleet_operations_per_host: 20_000,
            max_output_lines: 200,
            max_output_bytes: 16 << 10,
        }
    }
}

/// The most array items and map entries the fleet limits add.
const FLEET_MAX_ITEMS: usize = 64 << 20;
/// The most string bytes the fleet limits add.
const FLEET_MAX_STRING_BYTES: usize = 256 << 20;

impl Limits {
    /// The limits a fleet rule's `check(fleet)` runs under for a fleet of `hosts` hosts: the
    /// host limits plus, per host, [`Limits::fleet_operations_per_host`] operations, 1,024
    /// array items and map entries and 64 KiB of string (Rhai counts what a whole value holds,
    /// nested maps and all, so these bound the findings `check` returns as well as its own
    /// tables), the findings one host may get, and 2 ms. Sized so that the built-in fleet rules
    /// judge 100,000 hosts; nesting limits do not grow, and the growth of sizes stops at 64 Mi
    /// items and 256 MiB of string, so that no rule can claim unbounded memory.
    pub fn for_fleet(&self, hosts: usize) -> Limits {
        let hosts_u64 = hosts as u64;
        Limits {
            max_operations: self
                .max_operations
                .saturating_add(self.fleet_operations_per_host.saturating_mul(hosts_u64)),
            max_array_size: self
                .max_array_size
                .saturating_add(hosts.saturating_mul(1_024).min(FLEET_MAX_ITEMS)),
            max_map_size: self
                .max_map_size
                .saturating_add(hosts.saturating_mul(1_024).min(FLEET_MAX_ITEMS)),
            max_string_size: self
                .max_string_size
                .saturating_add(hosts.saturating_mul(64 << 10).min(FLEET_MAX_STRING_BYTES)),
            max_findings: self.max_findings.saturating_mul(hosts.max(1)),
            max_duration: self.max_duration.saturating_add(
                Duration::from_millis(2).saturating_mul(hosts.min(u32::MAX as usize) as u32),
            ),
            ..self.clone()
        }
    }
}

thread_local! {
    /// When the rule running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// When the whole run must stop (`scan --timeout`), if it has a limit.
    static RUN_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// What a rule stopped by the run's deadline (rather than its own) fails with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunExpired;

/// Runs `run` with the wall-clock deadline of `limits` armed for this thread, and the run's
/// own deadline when it has one.
pub(crate) fn with_deadline<R>(
    limits: &Limits,
    run_deadline: Option<Instant>,
    run: impl FnOnce() -> R,
) -> R {
    DEADLINE.with(|deadline| deadline.set(Some(Instant::now() + limits.max_duration)));
    RUN_DEADLINE.with(|deadline| deadline.set(run_deadline));
    let result = run();
    DEADLINE.with(|deadline| deadline.set(None));
    RUN_DEADLINE.with(|deadline| deadline.set(None));
    result
}

/// The `lib/` modules of every loaded pack, compiled, and evaluated on first import.
#[derive(Default)]
pub(crate) struct LibRegistry {
    sources: HashMap<(String, String), AST>,
    /// Modules whose file did not compile (its error is reported on its own), by pack and
    /// module: an import of one says so rather than that the module does not exist.
    broken: std::collections::HashSet<(String, String)>,
    /// By pack, then module: every rule call imports its modules again, and a lookup by two
    /// borrowed names allocates nothing.
    evaluated: RwLock<HashMap<String, HashMap<String, Shared<Module>>>>,
}

impl LibRegistry {
    pub(crate) fn insert(&mut self, pack: &str, module: &str, ast: AST) {
        self.sources
            .insert((pack.to_string(), module.to_string()), ast);
    }

    /// Notes that `module` of `pack` did not compile.
    pub(crate) fn insert_broken(&mut self, pack: &str, module: &str) {
        self.broken.insert((pack.to_string(), module.to_string()));
    }
}

/// The AST source name of a file in a pack; the resolver reads the pack back from it.
pub(crate) fn source_name(pack: &str, file_name: &str) -> String {
    format!("pack:{pack}/{file_name}")
}

fn pack_of_source(source: &str) -> Option<&str> {
    // Pack names cannot hold `/` (the manifest check refuses them); split at the last one
    // anyway, so a file name can never be read as part of the pack name.
    source
        .strip_prefix("pack:")?
        .rsplit_once('/')
        .map(|(pack, _)| pack)
}

fn refused(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

/// Replaces standard-library functions that can escape the limits: `sleep` blocks a thread
/// without counting operations, `pad` with an empty string never ends, `replace` can allocate
/// far past the string limit before the limit is checked, and `timestamp` would make findings
/// depend on the time of the run.
fn harden_standard_library(engine: &mut Engine, limits: &Limits) {
    engine.register_fn("sleep", |_: rhai::INT| -> Result<(), Box<EvalAltResult>> {
        Err(refused("sleep is not available to rules".to_string()))
    });
    engine.register_fn(
        "sleep",
        |_: rhai::FLOAT| -> Result<(), Box<EvalAltResult>> {
            Err(refused("sleep is not available to rules".to_string()))
        },
    );
    engine.register_fn("timestamp", || -> Result<Dynamic, Box<EvalAltResult>> {
        Err(refused(
            "timestamp is not available to rules: findings must not depend on when the scan runs"
                .to_string(),
        ))
    });
    let max_string = limits.max_string_size;
    engine.register_fn(
        "pad",
        move |text: &mut rhai::ImmutableString,
              length: rhai::INT,
              padding: &str|
              -> Result<(), Box<EvalAltResult>> {
            if padding.is_empty() {
                return Err(refused("pad needs a non-empty padding string".to_string()));
            }
            let wanted = usize::try_from(length).unwrap_or(0);
            if wanted > max_string {
                return Err(EvalAltResult::ErrorDataTooLarge(
                    "Length of string".to_string(),
                    Position::NONE,
                )
                .into());
            }
            let mut padded = text.to_string();
            let mut chars = padded.chars().count();
            while chars < wanted {
                for character in padding.chars() {
                    if chars >= wanted {
                        break;
                    }
                    padded.push(character);
                    chars += 1;
                }
            }
            *text = padded.into();
            Ok(())
        },
    );
    engine.register_fn(
        "replace",
        move |text: &mut rhai::ImmutableString,
              find: &str,
              substitute: &str|
              -> Result<(), Box<EvalAltResult>> {
            let count = if find.is_empty() {
                text.chars().count() + 1
            } else {
                text.matches(find).count()
            };
            let grown = text.len() + count * substitute.len();
            if grown.saturating_sub(count * find.len()) > max_string {
                return Err(EvalAltResult::ErrorDataTooLarge(
                    "Length of string".to_string(),
                    Position::NONE,
                )
                .into());
            }
            *text = text.replace(find, substitute).into();
            Ok(())
        },
    );
}

struct PackModuleResolver {
    libs: Arc<RwLock<LibRegistry>>,
}

impl PackModuleResolver {
    /// The pack of the importing script and the compiled module `path` names in it, or why
    /// the import is refused (naming the pack's `lib/` modules).
    fn find(&self, source: Option<&str>, path: &str) -> Result<(String, AST), String> {
        let plain = !path.is_empty()
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let pack = source.and_then(pack_of_source);
        let libs = self
            .libs
            .read()
            .map_err(|_| "the module registry is unavailable".to_string())?;
        let available = || {
            let mut names: Vec<String> = libs
                .sources
                .keys()
                .filter(|(owner, _)| Some(owner.as_str()) == pack)
                .map(|(_, module)| format!("\"{module}\""))
                .collect();
            names.sort();
            if names.is_empty() {
                "its pack has no lib/ modules".to_string()
            } else {
                format!("its pack's lib/ modules are {}", names.join(", "))
            }
        };
        if !plain {
            return Err(format!(
                "import \"{path}\" refused: rules may import only modules of their own pack's lib/ folder, by bare name ({})",
                available()
            ));
        }
        let Some(pack) = pack else {
            return Err(format!(
                "import \"{path}\" refused: the importing script belongs to no pack"
            ));
        };
        let key = (pack.to_string(), path.to_string());
        match libs.sources.get(&key) {
            Some(ast) => Ok((pack.to_string(), ast.clone())),
            None if libs.broken.contains(&key) => Err(format!(
                "import \"{path}\": lib/{path}.rhai of pack `{pack}` did not compile (its error is reported on its own)"
            )),
            None => Err(format!(
                "import \"{path}\": pack `{pack}` has no lib/{path}.rhai ({})",
                available()
            )),
        }
    }
}

impl ModuleResolver for PackModuleResolver {
    fn resolve_ast(
        &self,
        _engine: &Engine,
        source: Option<&str>,
        path: &str,
        position: Position,
    ) -> Option<Result<AST, Box<EvalAltResult>>> {
        Some(self.find(source, path).map(|(_, ast)| ast).map_err(|why| {
            EvalAltResult::ErrorInModule(
                path.to_string(),
                EvalAltResult::ErrorRuntime(why.into(), position).into(),
                position,
            )
            .into()
        }))
    }

    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        position: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let refuse = |why: String| -> Box<EvalAltResult> {
            EvalAltResult::ErrorInModule(
                path.to_string(),
                EvalAltResult::ErrorRuntime(why.into(), position).into(),
                position,
            )
            .into()
        };
        // The cache holds only modules found before, so a hit needs no further check.
        if let Some(pack) = source.and_then(pack_of_source) {
            if let Some(module) = self.libs.read().ok().and_then(|libs| {
                libs.evaluated.read().ok().and_then(|cache| {
                    cache
                        .get(pack)
                        .and_then(|modules| modules.get(path))
                        .cloned()
                })
            }) {
                return Ok(module);
            }
        }
        let (pack, ast) = self.find(source, path).map_err(refuse)?;
        let module: Shared<Module> = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|error| refuse(format!("lib/{path}.rhai failed: {error}")))?
            .into();
        if let Ok(libs) = self.libs.read() {
            if let Ok(mut cache) = libs.evaluated.write() {
                cache
                    .entry(pack)
                    .or_default()
                    .insert(path.to_string(), module.clone());
            }
        }
        Ok(module)
    }
}

/// Builds the sandboxed engine. The host API is registered by the caller.
pub(crate) fn sandboxed_engine(limits: &Limits, libs: Arc<RwLock<LibRegistry>>) -> Engine {
    // Rhai's standard library has no file, network or process access; nothing here adds any.
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_modules(limits.max_modules)
        // Rhai interns strings behind one lock shared by every thread: with rules running on
        // all cores that lock serialises them, so nothing is interned.
        .set_max_strings_interned(0)
        .set_max_functions(limits.max_functions)
        .set_strict_variables(true)
        .set_module_resolver(PackModuleResolver { libs });
    engine.disable_symbol("eval");
    harden_standard_library(&mut engine, limits);
    // Output goes to the capture of the rule × host running on this thread, when one is
    // traced; otherwise nowhere.
    engine.on_print(crate::trace::capture_print);
    engine.on_debug(crate::trace::capture_debug);
    engine.on_progress(|operations| {
        // `host.memo` keeps the most operations a computation reached (see `crate::memo`).
        crate::memo::note_operations(operations);
        if operations % 4096 != 0 {
            return None;
        }
        let now = Instant::now();
        let passed = |deadline: Option<Instant>| deadline.is_some_and(|deadline| now > deadline);
        if RUN_DEADLINE.with(|deadline| passed(deadline.get())) {
            return Some(Dynamic::from(RunExpired));
        }
        DEADLINE
            .with(|deadline| passed(deadline.get()))
            .then(|| Dynamic::from("the rule ran out of time"))
    });
    engine
}
