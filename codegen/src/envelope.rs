//! A wrapped system's envelope as publishing and consuming see it: the manifest's declared
//! roles (`envelope.roles`) bound to the envelope struct's fields. [`Envelope::problems`]
//! checks the declaration once; the transport emitter then asks this module, and nothing
//! else, how each envelope property is filled when publishing and where the message id and
//! trace context are read when consuming. No property name is special here: a role is
//! whatever the manifest says it is.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::catalog::Loc;
use crate::diag::Code;
use crate::emit::{field_idents, ident, variant_idents};
use crate::manifest::{self, AlsoRead, EnvelopeRoles, TimeFormat};
use crate::model::{Field, StrChecks, Ty, TypeGraph, TypeKind};
use crate::CheckedSystem;

fn rt() -> TokenStream {
    quote!(::event_contracts_runtime)
}

/// What kind of property each role needs, for the check and its message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// A string, or a `format: uuid` string.
    StringOrUuid,
    String,
    /// A `format: date-time` string.
    DateTime,
    Integer,
}

impl Needs {
    fn describe(self) -> &'static str {
        match self {
            Needs::StringOrUuid => "a string (or `format: uuid`) property",
            Needs::String => "a string property",
            Needs::DateTime => "a `\"type\": \"string\", \"format\": \"date-time\"` property",
            Needs::Integer => "an integer property",
        }
    }

    fn accepts(self, ty: &Ty) -> bool {
        match self {
            Needs::StringOrUuid => matches!(ty, Ty::Str { .. } | Ty::Uuid { .. }),
            Needs::String => matches!(ty, Ty::Str { .. }),
            Needs::DateTime => matches!(ty, Ty::DateTime { .. }),
            Needs::Integer => matches!(ty, Ty::Int { .. }),
        }
    }
}

fn time_needs(format: TimeFormat) -> Needs {
    match format {
        TimeFormat::Rfc3339Seconds | TimeFormat::Rfc3339Millis | TimeFormat::Rfc3339Micros => {
            Needs::DateTime
        }
        TimeFormat::UnixMillisString => Needs::String,
        TimeFormat::UnixMillis | TimeFormat::UnixSeconds => Needs::Integer,
    }
}

/// The role a conventional property name usually plays, for the hint of an unfilled one.
fn likely_role(wire: &str) -> Option<&'static str> {
    Some(match wire {
        "id" | "event_id" | "message_id" | "msg_id" | "uuid" => "message_id",
        "time" | "timestamp" | "ts" | "emitted_at" | "created_at" | "occurred_at" | "sent_at" => {
            "time"
        }
        "source" | "gateway" | "producer" | "service" | "device" | "origin" => "source",
        "subject" => "subject",
        "traceparent" => "traceparent",
        "trace_id" | "traceid" => "trace_id",
        "span_id" | "spanid" => "span_id",
        "seq" | "sequence" | "sequence_number" => "seq",
        _ => return None,
    })
}

/// One problem with the declaration, located in the manifest or the envelope schema.
pub(crate) struct Problem {
    pub code: Code,
    pub at: Loc,
    pub message: String,
    pub hint: String,
}

/// A role bound to its property.
#[derive(Clone, Copy)]
struct Bound<'a> {
    field: &'a Field,
    ident: &'a Ident,
}

/// The envelope struct of a wrapped system with its declared roles.
pub(crate) struct Envelope<'a> {
    pub fields: &'a [Field],
    pub idents: Vec<Ident>,
    pub type_field: &'a str,
    pub payload_field: &'a str,
    roles: &'a EnvelopeRoles,
    also_read: &'a AlsoRead,
    graph: &'a TypeGraph,
}

/// One step of a read location: the property reached and its Rust identifier.
type Step<'a> = (&'a Field, Ident);

impl<'a> Envelope<'a> {
    /// The envelope of a wrapped system whose envelope schema is an object; `None` otherwise.
    pub fn of(sys: &'a CheckedSystem<'_>) -> Option<Self> {
        let manifest::Envelope::Wrapped {
            type_field,
            payload_field,
            roles,
            also_read,
            ..
        } = &sys.source.manifest.envelope
        else {
            return None;
        };
        let TypeKind::Struct { fields, .. } = &sys.graph[sys.envelope?].kind else {
            return None;
        };
        Some(Self {
            fields,
            idents: field_idents(fields),
            type_field,
            payload_field,
            roles,
            also_read,
            graph: &sys.graph,
        })
    }

    /// The Rust identifier of the envelope property `wire` (the property's own name when the
    /// schema lacks it, which `problems` reports).
    pub fn ident_of(&self, wire: &str) -> Ident {
        self.fields
            .iter()
            .position(|f| f.wire == wire)
            .map(|i| self.idents[i].clone())
            .unwrap_or_else(|| ident(wire))
    }

    fn bound(&self, property: Option<&str>) -> Option<Bound<'_>> {
        let i = self
            .fields
            .iter()
            .position(|f| Some(f.wire.as_str()) == property)?;
        Some(Bound {
            field: &self.fields[i],
            ident: &self.idents[i],
        })
    }

    fn needs(&self, role: &str) -> Needs {
        match role {
            "message_id" => Needs::StringOrUuid,
            "time" => self
                .roles
                .time
                .as_ref()
                .map_or(Needs::DateTime, |t| time_needs(t.format)),
            "seq" => Needs::Integer,
            _ => Needs::String,
        }
    }

    /// Every problem of the declaration: a role naming a property the envelope lacks, the
    /// type or payload field, a property another role took, or a property of the wrong kind;
    /// and a required property that nothing fills. `manifest` is the manifest file's root,
    /// `envelope` the envelope schema's root.
    pub fn problems(&self, manifest: &Loc, envelope: &Loc) -> Vec<Problem> {
        let mut problems = Vec::new();
        let roles_at = manifest.join("envelope").join("roles");
        let names: Vec<&str> = self.fields.iter().map(|f| f.wire.as_str()).collect();
        let mut taken: Vec<(&str, &str)> = Vec::new();
        let type_ok = self
            .fields
            .iter()
            .any(|f| f.wire == self.type_field && f.required && matches!(f.ty, Ty::Str { .. }));
        if !type_ok {
            problems.push(Problem {
 code: Code::EnvelopeField,
                at: manifest.join("envelope").join("type_field"),
                message: format!(
                    "the envelope's type field `{}` is not a required string property of the envelope schema",
                    self.type_field
                ),
                hint: format!(
                    "name the property that holds the event name ({}), or declare it as a required string",
                    names.join(", ")
                ),
            });
        }
        for (role, property) in self.roles.declared() {
            let at = if role == "time" {
                roles_at.join(role).join("property")
            } else {
                roles_at.join(role)
            };
            let Some(field) = self.fields.iter().find(|f| f.wire == property) else {
                problems.push(Problem {
 code: Code::EnvelopeRole,
                    at,
                    message: format!(
                        "envelope role `{role}` names `{property}`, which the envelope schema does not declare"
                    ),
                    hint: format!("name one of the envelope's properties: {}", names.join(", ")),
                });
                continue;
            };
            if property == self.type_field || property == self.payload_field {
                problems.push(Problem {
 code: Code::EnvelopeRole,
                    at,
                    message: format!(
                        "envelope role `{role}` names `{property}`, which is the envelope's {} field",
                        if property == self.type_field { "type" } else { "payload" }
                    ),
                    hint: "a role names a property of its own; the type and payload fields are declared by `type_field` and `payload_field`".into(),
                });
                continue;
            }
            if let Some((other, _)) = taken.iter().find(|(_, p)| *p == property) {
                problems.push(Problem {
                    code: Code::EnvelopeRole,
                    at,
                    message: format!(
                        "envelope roles `{other}` and `{role}` both name `{property}`"
                    ),
                    hint: "give each role its own property".into(),
                });
                continue;
            }
            taken.push((role, property));
            let needs = self.needs(role);
            if !needs.accepts(&field.ty) {
                let format = match (role, &self.roles.time) {
                    ("time", Some(t)) => format!(" in format `{}`", t.format.as_str()),
                    _ => String::new(),
                };
                problems.push(Problem {
 code: Code::EnvelopeRole,
                    at,
                    message: format!(
                        "envelope role `{role}`{format} needs {}, but `{property}` is not one",
                        needs.describe()
                    ),
                    hint: if role == "time" {
                        "declare the format the property's schema holds: `rfc3339-seconds`, `rfc3339-millis` or `rfc3339-micros` for `format: date-time`, `unix-millis-string` for a string, `unix-millis` or `unix-seconds` for an integer".into()
                    } else {
                        format!("change the property's schema to {}, or name another property", needs.describe())
                    },
                });
            }
        }
        for (role, pointers) in self.also_read.declared() {
            for (i, pointer) in pointers.iter().enumerate() {
                if let Err(message) = self.resolve(pointer, self.needs(role)) {
                    problems.push(Problem {
 code: Code::AlsoRead,
                        at: manifest
                            .join("envelope")
                            .join("also_read")
                            .join(role)
                            .join(&i.to_string()),
                        message: format!("`also_read` of role `{role}`: {message}"),
                        hint: format!(
                            "write a JSON pointer through the envelope's object properties to {} (`/extensions/{role}`)",
                            self.needs(role).describe()
                        ),
                    });
                }
            }
        }
        for (f, id) in self.fields.iter().zip(&self.idents) {
            if f.required && self.role_of(&f.wire).is_none() && f.default.is_some() {
                if let (Ty::Str { checks }, Some(s)) = (&f.ty, default_string(f)) {
                    if !str_accepts(checks, s) {
                        problems.push(Problem {
 code: Code::EnvelopeDefault,
                            at: envelope.join("properties").join(&f.wire).join("default"),
                            message: format!(
                                "the `default` {s:?} of required envelope property `{}` breaks the property's own schema, so publishing cannot fill it",
                                f.wire
                            ),
                            hint: "write a default the property's `pattern` and lengths accept".into(),
                        });
                        continue;
                    }
                }
            }
            if f.required && self.init(f, id).is_none() {
                let hint = match likely_role(&f.wire) {
                    Some(role) if self.bound(self.property_of(role)).is_none() => format!(
                        "declare its role in the manifest: \"envelope\": {{…, \"roles\": {{\"{role}\": {}}}}}, give it a single `const`, or make it optional",
                        if role == "time" {
                            format!("{{\"property\": \"{}\", \"format\": \"rfc3339-millis\"}}", f.wire)
                        } else {
                            format!("\"{}\"", f.wire)
                        }
                    ),
                    _ => "declare its role in the manifest's `envelope.roles` (message_id, time, source, subject, traceparent, trace_id, span_id, seq), give it a single `const` or (a string) a `default`, or make it optional".into(),
                };
                problems.push(Problem {
 code: Code::UnfilledEnvelopeProperty,
                    at: envelope.join("properties").join(&f.wire),
                    message: format!(
                        "required envelope property `{}` plays no declared role, so publishing cannot fill it",
                        f.wire
                    ),
                    hint,
                });
            }
        }
        problems
    }

    fn property_of(&self, role: &str) -> Option<&str> {
        self.roles
            .declared()
            .into_iter()
            .find(|(r, _)| *r == role)
            .map(|(_, p)| p)
    }

    fn role_of(&self, wire: &str) -> Option<&'static str> {
        self.roles
            .declared()
            .into_iter()
            .find(|(_, p)| *p == wire)
            .map(|(r, _)| r)
    }

    /// How publishing fills property `f` (`id: value`), from the event (type and payload
    /// fields, bound by `wrap` under the fields' own identifiers) and the publish's `meta`.
    /// `None` for a required property nothing fills (reported by `problems`).
    pub fn init(&self, f: &Field, id: &Ident) -> Option<TokenStream> {
        let rt = rt();
        let tr = quote!(#rt::transport);
        if f.wire == self.type_field || f.wire == self.payload_field {
            return Some(quote!(#id));
        }
        let ptr = format!("/{}", f.wire);
        let value = match self.role_of(&f.wire) {
            Some(role) if self.needs(role).accepts(&f.ty) => self.role_value(role, f, &ptr, &tr),
            Some(_) => return None,
            None if !f.required => return Some(quote!(#id: None)),
            None => match &f.ty {
                Ty::Named(t) => match &self.graph[*t].kind {
                    // A single-valued enum (`schema_version: "v1"`, `specversion: "1.0"`).
                    TypeKind::StrEnum { values } if values.len() == 1 => {
                        let ty = ident(&self.graph[*t].name);
                        let v = &variant_idents(values)[0];
                        return Some(quote!(#id: #ty::#v));
                    }
                    _ => return None,
                },
                // A string property's `default` (`datacontenttype: "application/json"` where
                // the schema also takes media-type parameters).
                Ty::Str { checks } => match default_string(f) {
                    Some(s) if str_accepts(checks, s) => return Some(quote!(#id: #s.to_owned())),
                    _ => return None,
                },
                _ => return None,
            },
        };
        Some(quote!(#id: #value))
    }

    /// The value of a role's property, `Option`-wrapped when the property is optional.
    fn role_value(&self, role: &str, f: &Field, ptr: &str, tr: &TokenStream) -> TokenStream {
        let rt = rt();
        let required = f.required;
        let some = |v: TokenStream| if required { v } else { quote!(Some(#v)) };
        let parse_trace =
            quote!(meta.traceparent.as_deref().and_then(#tr::trace::TraceParent::parse));
        match role {
            "message_id" => some(match f.ty {
                Ty::Uuid { .. } => quote! {
                    match &meta.id {
                        Some(id) => ::uuid::Uuid::parse_str(id).map_err(|e| #rt::EncodeError::Invalid(#rt::Violations(vec![#rt::Violation { pointer: #ptr.into(), keyword: "format".into(), message: format!("`{id}` is not a UUID: {e}") }])))?,
                        None => ::uuid::Uuid::new_v4(),
                    }
                },
                _ => quote!(meta.id_or_new()),
            }),
            "time" => {
                let format = self
                    .roles
                    .time
                    .as_ref()
                    .map_or(TimeFormat::Rfc3339Millis, |t| t.format);
                some(match format {
                    TimeFormat::Rfc3339Seconds => quote!(#rt::DateTime::now_utc_with_fraction(0)),
                    TimeFormat::Rfc3339Millis => quote!(#rt::DateTime::now_utc_with_fraction(3)),
                    TimeFormat::Rfc3339Micros => quote!(#rt::DateTime::now_utc_with_fraction(6)),
                    TimeFormat::UnixMillisString => {
                        quote!(#rt::DateTime::unix_millis_now().to_string())
                    }
                    TimeFormat::UnixMillis => {
                        int_from_u64(&f.ty, quote!(#rt::DateTime::unix_millis_now()))
                    }
                    TimeFormat::UnixSeconds => {
                        int_from_u64(&f.ty, quote!(#rt::DateTime::unix_seconds_now()))
                    }
                })
            }
            "source" | "subject" => {
                let meta_field = if role == "source" {
                    quote!(meta.source)
                } else {
                    quote!(meta.subject)
                };
                let what = if role == "source" {
                    "the publishing service (`Meta::source`)"
                } else {
                    "the message's subject (`Meta::subject`)"
                };
                match &f.ty {
                    _ if !required => quote!(#meta_field.clone()),
                    Ty::Str { checks } if accepts_empty(checks) => {
                        quote!(#meta_field.clone().unwrap_or_default())
                    }
                    _ => quote!(#tr::Meta::require(&#meta_field, #ptr, #what)?.to_owned()),
                }
            }
            "traceparent" if required => {
                quote!(meta.traceparent.clone().unwrap_or_else(|| #tr::trace::child_or_new(None)))
            }
            "traceparent" => quote!(meta.traceparent.clone()),
            "trace_id" => some(quote! {
                #parse_trace.map(|t| t.trace_id).unwrap_or_else(|| #tr::trace::TraceParent::new_root().trace_id)
            }),
            "span_id" if required => quote! {
                #parse_trace.map(|t| t.parent_id).unwrap_or_else(|| #tr::trace::TraceParent::new_root().parent_id)
            },
            "span_id" => quote!(#parse_trace.map(|t| t.parent_id)),
            "seq" => {
                let seq = if required {
                    quote!(#tr::Meta::require_seq(meta.seq, #ptr)?)
                } else {
                    quote!(meta.seq)
                };
                match (&f.ty, required) {
                    (Ty::Int { unsigned: true, .. }, _) => seq,
                    (_, true) => int_from_u64(&f.ty, seq),
                    (_, false) => quote!(#seq.map(|s| i64::try_from(s).unwrap_or(i64::MAX))),
                }
            }
            other => unreachable!("`{other}` is not an envelope role"),
        }
    }

    /// Whether `wrap` reads the publish's `meta` (else it is bound as `_meta`).
    pub fn publishing_reads_meta(&self) -> bool {
        // Every role but `time` reads its value from `meta`.
        self.fields
            .iter()
            .any(|f| self.role_of(&f.wire).is_some_and(|role| role != "time"))
    }

    /// The properties a read location passes through, from the envelope to the value:
    /// `pointer` must go through object properties the schema declares and end at a property
    /// of the kind `needs` (or a nullable one). The error says which step fails.
    fn resolve(&self, pointer: &str, needs: Needs) -> Result<Vec<Step<'a>>, String> {
        let Some(rest) = pointer.strip_prefix('/') else {
            return Err(format!(
                "`{pointer}` is not a JSON pointer to a property (it starts with `/`)"
            ));
        };
        let tokens: Vec<String> = rest
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let mut fields: &'a [Field] = self.fields;
        let mut steps = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let here = if i == 0 {
                "the envelope".to_owned()
            } else {
                format!("`/{}`", tokens[..i].join("/"))
            };
            let Some(at) = fields.iter().position(|f| &f.wire == token) else {
                let names: Vec<&str> = fields.iter().map(|f| f.wire.as_str()).collect();
                return Err(format!(
                    "`{pointer}`: {here} declares no property `{token}` (it declares {})",
                    names.join(", ")
                ));
            };
            let field = &fields[at];
            if i == 0 && (field.wire == self.type_field || field.wire == self.payload_field) {
                return Err(format!(
                    "`{pointer}` goes into the envelope's type or payload field"
                ));
            }
            steps.push((field, field_idents(fields)[at].clone()));
            let value = match &field.ty {
                Ty::Nullable(inner) => inner.as_ref(),
                other => other,
            };
            if i + 1 == tokens.len() {
                if !needs.accepts(value) {
                    return Err(format!("`{pointer}` is not {}", needs.describe()));
                }
            } else {
                match value {
                    Ty::Named(t) => match &self.graph[*t].kind {
                        TypeKind::Struct { fields: inner, .. } => fields = inner,
                        _ => {
                            return Err(format!(
                                "`{pointer}`: `/{}` is not an object with declared properties",
                                tokens[..=i].join("/")
                            ))
                        }
                    },
                    _ => {
                        return Err(format!(
                            "`{pointer}`: `/{}` is not an object with declared properties",
                            tokens[..=i].join("/")
                        ))
                    }
                }
            }
        }
        Ok(steps)
    }

    /// `Option<String>`: the value at the end of `steps`, starting from `message`. Present
    /// properties are walked as places; from the first optional or nullable one on, as an
    /// `Option<&T>` chain.
    fn read_steps(steps: &[Step<'_>]) -> TokenStream {
        let mut place = quote!(message);
        let mut chain: Option<TokenStream> = None;
        for (i, (field, id)) in steps.iter().enumerate() {
            let nullable = matches!(field.ty, Ty::Nullable(_));
            // `Option<Option<T>>`: optional and nullable.
            let flatten = (!field.required && nullable)
                .then(|| quote!(.and_then(::std::option::Option::as_ref)));
            let optional = !field.required || nullable;
            let last = i + 1 == steps.len();
            chain = match (chain, optional) {
                (None, false) => {
                    place = quote!(#place.#id);
                    None
                }
                // A top-level optional string: the `Option<String>` itself.
                (None, true) if last && flatten.is_none() && matches!(field.ty, Ty::Str { .. }) => {
                    return quote!(#place.#id.clone());
                }
                (None, true) => Some(quote!(#place.#id.as_ref()#flatten)),
                (Some(c), false) => Some(quote!(#c.map(|v| &v.#id))),
                (Some(c), true) => Some(quote!(#c.and_then(|v| v.#id.as_ref()#flatten))),
            };
        }
        match chain {
            None => quote!(Some(#place.to_string())),
            Some(c) => quote!(#c.map(::std::string::ToString::to_string)),
        }
    }

    /// `Option<String>`: role `role` read from its own property (`own`), then from each of its
    /// `also_read` locations in order; `None` when it has neither.
    fn read_role(&self, role: &str, own: Option<Bound<'_>>) -> Option<TokenStream> {
        let own = own.map(|b| Self::read_steps(&[(b.field, b.ident.clone())]));
        let fallbacks = self
            .also_read
            .of(role)
            .iter()
            .filter_map(|p| self.resolve(p, self.needs(role)).ok())
            .map(|steps| Self::read_steps(&steps));
        own.into_iter()
            .chain(fallbacks)
            .reduce(|first, next| quote!(#first.or_else(|| #next)))
    }

    /// `Option<String>`: the message id of `message`, from the `message_id` role (and its
    /// `also_read` locations).
    pub fn read_message_id(&self) -> Option<TokenStream> {
        self.read_role("message_id", self.bound(self.roles.message_id.as_deref()))
    }

    /// `Option<String>`: the W3C `traceparent` of `message`, from the `traceparent` role, else
    /// from `trace_id` and `span_id` together (each with its `also_read` locations).
    pub fn read_traceparent(&self) -> Option<TokenStream> {
        let rt = rt();
        let whole = self.read_role("traceparent", self.bound(self.roles.traceparent.as_deref()));
        let ids = match (
            self.read_role("trace_id", self.bound(self.roles.trace_id.as_deref())),
            self.read_role("span_id", self.bound(self.roles.span_id.as_deref())),
        ) {
            (Some(trace), Some(span)) => Some(quote! {
                match (#trace, #span) {
                    (Some(trace), Some(span)) => #rt::transport::trace::TraceParent::parse(&format!("00-{trace}-{span}-01")).map(|t| t.to_string()),
                    _ => None,
                }
            }),
            _ => None,
        };
        match (whole, ids) {
            (Some(whole), Some(ids)) => Some(quote!(#whole.or_else(|| #ids))),
            (whole, ids) => whole.or(ids),
        }
    }
}

/// The `default` of a string property, when it is a string.
fn default_string(f: &Field) -> Option<&str> {
    f.default.as_ref().and_then(serde_json::Value::as_str)
}

/// Whether a string meets the property's lengths and patterns (already in the `regex` crate's
/// dialect, checked when the model was built).
fn str_accepts(checks: &StrChecks, s: &str) -> bool {
    let n = event_contracts_runtime::str_len(s) as u64;
    checks.min_length.is_none_or(|min| n >= min)
        && checks.max_length.is_none_or(|max| n <= max)
        && checks
            .patterns
            .iter()
            .all(|p| regex::Regex::new(p).is_ok_and(|r| r.is_match(s)))
}

/// A string property with no constraint accepts `""`, so an unset `Meta` field may be written
/// as empty (the livepeer gateway's `gateway`); any constraint makes it required.
fn accepts_empty(checks: &StrChecks) -> bool {
    checks.min_length.unwrap_or(0) == 0 && checks.patterns.is_empty()
}

fn int_from_u64(ty: &Ty, value: TokenStream) -> TokenStream {
    match ty {
        Ty::Int { unsigned: true, .. } => value,
        _ => quote!(i64::try_from(#value).unwrap_or(i64::MAX)),
    }
}
