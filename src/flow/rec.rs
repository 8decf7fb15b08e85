//! A recording a node plays: one for every language, or one per language.
//!
//! On the wire (nodes, versions, `/flow/changes`) a prompt is either a
//! recording's name, played whatever the call's language:
//!
//! ```json
//! "main_menu"
//! ```
//!
//! or a map from language to name, with an optional `default` for the
//! languages not listed:
//!
//! ```json
//! {"he": "main_he", "en": "main_en"}
//! ```
//!
//! Invariants (enforced when reading, so no `Rec` breaks them):
//! * a map names at least one recording;
//! * a map's keys are languages (`he`, `en`) or `default`, each once.
//!
//! The engine plays [`Rec::pick`] for the call's language (the caller's
//! choice, the node's, the DID's, the tenant's: see `engine`). Validation
//! (`validate`) makes sure every language a node can be reached in is
//! covered; a flow that skipped validation still gets a recording from
//! [`Rec::play`] (the tenant's language, then any), never silence.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::voicenter::types::Language;

/// The key of a prompt map's fallback entry.
pub const DEFAULT_KEY: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rec {
    /// The same recording in every language.
    One(String),
    /// One recording per language; `default` for the languages not listed.
    PerLanguage {
        by_language: BTreeMap<Language, String>,
        default: Option<String>,
    },
}

impl Rec {
    /// The recording for `language`, if this prompt has one for it (a
    /// single name has one for every language; a map, its entry or its
    /// `default`).
    pub fn pick(&self, language: Language) -> Option<&str> {
        match self {
            Rec::One(name) => Some(name),
            Rec::PerLanguage {
                by_language,
                default,
            } => by_language
                .get(&language)
                .or(default.as_ref())
                .map(String::as_str),
        }
    }

    /// What to play in `language`: [`Rec::pick`], else the recording for
    /// the tenant's language, else the first listed. Never fails: a flow
    /// that skipped validation plays something rather than nothing.
    pub fn play(&self, language: Language, tenant: Language) -> &str {
        self.pick(language)
            .or_else(|| self.pick(tenant))
            .or_else(|| self.names().next().map(|(_, name)| name))
            .unwrap_or_default()
    }

    /// Every recording named, with where in the prompt: `None` for a single
    /// name, `Some("he")`, `Some("default")`… in a map.
    pub fn names(&self) -> impl Iterator<Item = (Option<&'static str>, &str)> {
        let (one, map, default) = match self {
            Rec::One(name) => (Some(name.as_str()), None, None),
            Rec::PerLanguage {
                by_language,
                default,
            } => (None, Some(by_language), default.as_deref()),
        };
        one.map(|name| (None, name))
            .into_iter()
            .chain(
                map.into_iter()
                    .flatten()
                    .map(|(language, name)| (Some(language.as_str()), name.as_str())),
            )
            .chain(default.map(|name| (Some(DEFAULT_KEY), name)))
    }

    /// The recording for the diagram and the simulator's summaries: the
    /// single name, or `he:main_he en:main_en`.
    pub fn label(&self) -> String {
        match self {
            Rec::One(name) => name.clone(),
            Rec::PerLanguage { .. } => self
                .names()
                .map(|(key, name)| format!("{}:{name}", key.unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl From<&str> for Rec {
    fn from(name: &str) -> Rec {
        Rec::One(name.to_owned())
    }
}

impl From<String> for Rec {
    fn from(name: String) -> Rec {
        Rec::One(name)
    }
}

impl Default for Rec {
    fn default() -> Rec {
        Rec::One(String::new())
    }
}

impl Serialize for Rec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Rec::One(name) => serializer.serialize_str(name),
            Rec::PerLanguage { .. } => {
                let mut map = serializer.serialize_map(None)?;
                for (key, name) in self.names() {
                    map.serialize_entry(key.unwrap_or_default(), name)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Rec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rec, D::Error> {
        deserializer.deserialize_any(RecVisitor)
    }
}

struct RecVisitor;

impl<'de> Visitor<'de> for RecVisitor {
    type Value = Rec;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(
            "a recording's name, or one per language: {\"he\": \"…\", \"en\": \"…\", \"default\": \"…\"}",
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Rec, E> {
        Ok(Rec::One(name.to_owned()))
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Rec, E> {
        Ok(Rec::One(name))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rec, A::Error> {
        let mut by_language = BTreeMap::new();
        let mut default = None;
        while let Some(key) = map.next_key::<String>()? {
            let name: String = map.next_value()?;
            let duplicate = if key == DEFAULT_KEY {
                default.replace(name).is_some()
            } else {
                let Some(language) = Language::parse(&key).filter(|l| l.as_str() == key) else {
                    return Err(de::Error::custom(format!(
                        "unknown language {key:?}: a prompt is given for {}, or `{DEFAULT_KEY}` (any other language)",
                        Language::ALL
                            .iter()
                            .map(|language| format!("`{}`", language.as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                };
                by_language.insert(language, name).is_some()
            };
            if duplicate {
                return Err(de::Error::custom(format!("{key:?} is given twice")));
            }
        }
        if by_language.is_empty() && default.is_none() {
            return Err(de::Error::custom(
                "no recording: give one per language ({\"he\": \"…\", \"en\": \"…\"}) or a single name",
            ));
        }
        Ok(Rec::PerLanguage {
            by_language,
            default,
        })
    }
}

impl utoipa::PartialSchema for Rec {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ObjectBuilder, OneOfBuilder, SchemaType, Type,
        };
        let name = || {
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .min_length(Some(1))
                .max_length(Some(200))
        };
        let mut per_language = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(Some(
                "One recording per language; `default` plays in the languages not listed.",
            ))
            .min_properties(Some(1))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for language in Language::ALL {
            per_language = per_language.property(
                language.as_str(),
                name().description(Some(format!(
                    "Played when the call is in `{}`.",
                    language.as_str()
                ))),
            );
        }
        per_language = per_language.property(
            DEFAULT_KEY,
            name().description(Some("Played in any language not listed.")),
        );
        OneOfBuilder::new()
            .item(name().description(Some("The same recording in every language.")))
            .item(per_language)
            .description(Some(
                "A recording of the tenant's catalogue (`/recordings`): one name for every language, or one per language (`{\"he\": \"main_he\", \"en\": \"main_en\"}`). The call's language picks (the caller's choice, the node's, the number's, the tenant's).",
            ))
            .examples([serde_json::json!({"he": "main_he", "en": "main_en"})])
            .into()
    }
}

impl utoipa::ToSchema for Rec {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Rec, String> {
        serde_json::from_str(json).map_err(|error| error.to_string())
    }

    #[test]
    fn a_name_or_a_map_round_trip() {
        for json in [
            r#""main""#,
            r#"{"he":"main_he","en":"main_en"}"#,
            r#"{"he":"main_he","default":"main_any"}"#,
        ] {
            let rec = parse(json).unwrap();
            assert_eq!(serde_json::to_string(&rec).unwrap(), json);
        }
    }

    #[test]
    fn pick_takes_the_language_then_the_default() {
        let rec = parse(r#"{"he":"main_he","default":"main_any"}"#).unwrap();
        assert_eq!(rec.pick(Language::He), Some("main_he"));
        assert_eq!(rec.pick(Language::En), Some("main_any"));
        let only_he = parse(r#"{"he":"main_he"}"#).unwrap();
        assert_eq!(only_he.pick(Language::En), None);
        // Unvalidated: the tenant's language, then any.
        assert_eq!(only_he.play(Language::En, Language::He), "main_he");
        assert_eq!(only_he.play(Language::En, Language::En), "main_he");
        assert_eq!(Rec::from("x").pick(Language::En), Some("x"));
    }

    #[test]
    fn bad_maps_are_refused_in_words() {
        let error = parse(r#"{"he":"a","fr":"b"}"#).unwrap_err();
        assert!(error.contains("unknown language \"fr\""), "{error}");
        assert!(error.contains("`he`, `en`"), "{error}");
        // Languages are written as the API writes them: lower case.
        assert!(
            parse(r#"{"HE":"a"}"#)
                .unwrap_err()
                .contains("unknown language")
        );
        assert!(parse("{}").unwrap_err().contains("no recording"));
        assert!(
            parse(r#"{"he":"a","he":"b"}"#)
                .unwrap_err()
                .contains("given twice")
        );
        assert!(parse(r#"{"he":1}"#).is_err());
        assert!(parse("7").unwrap_err().contains("one per language"));
    }

    #[test]
    fn names_and_labels() {
        let rec = parse(r#"{"en":"e","he":"h","default":"d"}"#).unwrap();
        let names: Vec<_> = rec.names().collect();
        assert_eq!(
            names,
            [(Some("he"), "h"), (Some("en"), "e"), (Some("default"), "d")]
        );
        assert_eq!(rec.label(), "he:h en:e default:d");
        assert_eq!(Rec::from("x").label(), "x");
    }
}
