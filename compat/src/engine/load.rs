//! Loading both sides: catalogs and files parsed, events matched by system and name, each event's whole wire message as one schema, and the validators that confirm counterexamples.

use super::*;

/// One side of the comparison, parsed.
pub struct Loaded {
    pub side: Side,
    pub cat: Catalog,
    pub(super) docs: Arc<HashMap<String, Value>>,
}

impl Loaded {
    pub fn catalog(side: Side, files: &[(String, String)]) -> Result<Self, CompatError> {
        let cat = Catalog::from_texts(files.to_vec()).map_err(|d| CompatError::Parse {
            side,
            message: d
                .0
                .first()
                .map(|x| x.to_string())
                .unwrap_or_else(|| "the catalog does not parse".into()),
        })?;
        let docs = Arc::new(
            cat.files
                .iter()
                .filter(|(p, _)| !p.ends_with("manifest.json"))
                .map(|(p, f)| (format!("{ID_BASE}{p}"), f.value.clone()))
                .collect(),
        );
        Ok(Self { side, cat, docs })
    }

    pub fn file(side: Side, name: &str, text: &str) -> Result<Self, CompatError> {
        let f = SourceFile::parse(name, text).map_err(|e| CompatError::Parse {
            side,
            message: format!(
                "{name}:{}:{}: {}",
                e.position.line, e.position.column, e.message
            ),
        })?;
        let mut docs = HashMap::new();
        if let Some(id) = f.value.get("$id").and_then(Value::as_str) {
            docs.insert(id.to_owned(), f.value.clone());
        }
        let mut cat = Catalog::default();
        cat.files.insert(name.to_owned(), f);
        Ok(Self {
            side,
            cat,
            docs: Arc::new(docs),
        })
    }

    pub(super) fn location(&self, loc: &Loc, prefix: &str) -> Location {
        let pos = self
            .cat
            .files
            .get(&loc.file)
            .map(|f| f.position(&loc.pointer))
            .unwrap_or_default();
        Location {
            side: self.side,
            file: format!("{prefix}{}", loc.file),
            line: pos.line.max(1),
            column: pos.column.max(1),
            pointer: loc.pointer.clone(),
        }
    }
}

pub(super) struct Retriever(pub(super) Arc<HashMap<String, Value>>);

impl jsonschema::Retrieve for Retriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let key = uri.as_str();
        let key = key.split('#').next().unwrap_or(key);
        self.0
            .get(key)
            .cloned()
            .ok_or_else(|| format!("`{key}` is not in this side's schemas").into())
    }
}

/// `schema`'s validator in `dialect` (the dialect of the document it stands for: a catalog
/// message's wrapper has no `$schema` of its own).
pub(super) fn compile(
    docs: &Arc<HashMap<String, Value>>,
    schema: &Value,
    dialect: Dialect,
) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(dialect.draft())
        .should_validate_formats(true)
        .with_retriever(Retriever(Arc::clone(docs)))
        .build(schema)
        .map_err(|e| e.to_string())
}

/// An event on one side.
#[derive(Clone)]
pub(super) struct Ev<'a> {
    pub(super) entry: &'a EventEntry,
    pub(super) index: usize,
    pub(super) manifest_file: String,
    pub(super) schema_file: String,
    pub(super) envelope: &'a Envelope,
    pub(super) dir: String,
}

impl Ev<'_> {
    pub(super) fn envelope_file(&self) -> Option<(String, &str, &str)> {
        match self.envelope {
            Envelope::Flat => None,
            Envelope::Wrapped {
                schema,
                type_field,
                payload_field,
                ..
            } => Some((
                format!("{}/{}", self.dir, schema),
                type_field.as_str(),
                payload_field.as_str(),
            )),
        }
    }

    pub(super) fn payload_prefix(&self) -> String {
        match self.envelope_file() {
            Some((_, _, p)) => format!("/{p}"),
            None => String::new(),
        }
    }

    pub(super) fn manifest_loc(&self) -> Loc {
        Loc::new(
            self.manifest_file.clone(),
            format!("/events/{}", self.index),
        )
    }
}

pub(super) fn events(cat: &Catalog) -> BTreeMap<(String, String), Ev<'_>> {
    let mut out = BTreeMap::new();
    for sys in &cat.systems {
        for (i, e) in sys.manifest.events.iter().enumerate() {
            out.insert(
                (sys.manifest.system.clone(), e.name.clone()),
                Ev {
                    entry: e,
                    index: i,
                    manifest_file: sys.manifest_file.clone(),
                    schema_file: format!("{}/{}", sys.dir, e.schema),
                    envelope: &sys.manifest.envelope,
                    dir: sys.dir.clone(),
                },
            );
        }
    }
    out
}

pub(super) fn mode_of(c: Compatibility) -> Mode {
    match c {
        Compatibility::Backward => Mode::Backward,
        Compatibility::BackwardTransitive => Mode::BackwardTransitive,
        Compatibility::Forward => Mode::Forward,
        Compatibility::ForwardTransitive => Mode::ForwardTransitive,
        Compatibility::Full => Mode::Full,
        Compatibility::FullTransitive => Mode::FullTransitive,
        Compatibility::None => Mode::None,
    }
}

pub(super) fn is_transitive(m: Mode) -> bool {
    matches!(
        m,
        Mode::BackwardTransitive | Mode::ForwardTransitive | Mode::FullTransitive
    )
}

/// The message an event travels in, as one canonical schema, plus everything needed to
/// verify counterexamples against it.
pub(super) struct Message {
    pub(super) schema: Schema,
    /// The dialect its validator reads it in.
    pub(super) dialect: Dialect,
    pub(super) validator_schema: Value,
    pub(super) examples: Vec<Value>,
}

pub(super) fn message(norm: &mut Normalizer, l: &Loaded, ev: &Ev) -> Message {
    let payload = norm.node(&Loc::new(ev.schema_file.clone(), ""));
    let payload_examples: Vec<Value> = l
        .cat
        .files
        .get(&ev.schema_file)
        .and_then(|f| f.value.get("examples"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let event_id = format!("{ID_BASE}{}", ev.schema_file);
    let dialect = norm.dialect(&ev.schema_file);
    match ev.envelope_file() {
        None => Message {
            schema: payload,
            dialect,
            validator_schema: json!({ "$ref": event_id }),
            examples: payload_examples,
        },
        Some((file, type_field, payload_field)) => {
            let mut env = norm.node(&Loc::new(file.clone(), ""));
            let mut p = merge(&env.prop_schema(payload_field), &payload);
            p.loc = payload.loc.clone();
            p.title = payload.title.clone();
            set_prop(&mut env, payload_field, p);
            let mut props = serde_json::Map::new();
            props.insert(payload_field.to_owned(), json!({ "$ref": event_id }));
            if !ev.entry.fallback {
                let mut t = env.prop_schema(type_field);
                t = merge(
                    &t,
                    &Schema {
                        enumeration: Some(vec![Value::String(ev.entry.name.clone())]),
                        ..Schema::default()
                    },
                );
                set_prop(&mut env, type_field, t);
                props.insert(type_field.to_owned(), json!({ "const": ev.entry.name }));
            }
            let env_id = format!("{ID_BASE}{file}");
            let env_examples: Vec<Value> = l
                .cat
                .files
                .get(&file)
                .and_then(|f| f.value.get("examples"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut examples = Vec::new();
            if let Some(base) = env_examples
                .iter()
                .find(|e| e.get(type_field).and_then(Value::as_str) == Some(ev.entry.name.as_str()))
                .or(env_examples.first())
            {
                for p in &payload_examples {
                    let mut m = base.clone();
                    if let Value::Object(o) = &mut m {
                        o.insert(payload_field.to_owned(), p.clone());
                        if !ev.entry.fallback {
                            o.insert(type_field.to_owned(), Value::String(ev.entry.name.clone()));
                        }
                    }
                    examples.push(m);
                }
            }
            Message {
                schema: env,
                dialect: norm.dialect(&file),
                validator_schema: json!({
                    "allOf": [{ "$ref": env_id }],
                    "properties": props,
                }),
                examples,
            }
        }
    }
}

pub(super) fn set_prop(s: &mut Schema, name: &str, schema: Schema) {
    match s.props.iter_mut().find(|(n, _)| n == name) {
        Some((_, p)) => p.schema = schema,
        None => s.props.push((
            name.to_owned(),
            schema::Prop {
                schema,
                ..Default::default()
            },
        )),
    }
}
