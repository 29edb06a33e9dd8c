//! The domain: a todo, its parts, and the rules each part obeys.
//!
//! Input arrives as JSON objects and is parsed here into values that are valid by
//! construction (`Title`, `DueDate`, `TodoFields`), so handlers and stores never see an
//! invalid todo. Wire names are the minimal-API Todo sample's: `id`, `title`, `dueBy`,
//! `isComplete`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// The longest title a request may send, in characters (Unicode scalar values), unless
/// configured otherwise (`max_title_length`).
pub const DEFAULT_MAX_TITLE_CHARS: usize = 500;
/// The largest title limit that may be configured. Stored titles are read up to this
/// length, so lowering the configured limit never makes a stored todo unreadable.
pub const MAX_TITLE_CHARS_CEILING: usize = 10_000;

/// A todo's id: a positive integer assigned by the store, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TodoId(i64);

impl TodoId {
    /// Wraps a store-assigned id; `None` unless it is positive.
    pub fn new(value: i64) -> Option<Self> {
        (value > 0).then_some(Self(value))
    }

    /// Parses an id from a URL path segment: decimal digits only, no sign, no leading
    /// zero, and it must fit an `i64`. Anything else names no todo.
    pub fn parse(segment: &str) -> Option<Self> {
        let canonical = !segment.is_empty()
            && !segment.starts_with('0')
            && segment.bytes().all(|b| b.is_ascii_digit());
        if !canonical {
            return None;
        }
        segment.parse::<i64>().ok().and_then(Self::new)
    }

    /// Parses the id segment of `/todos/{id}` as the seed sample's `int id` route
    /// binding parses it (.NET `int.TryParse`, invariant culture): optional white space
    /// around, an optional sign, ASCII digits, leading zeros allowed. `Err` when it is not
    /// such an integer or does not fit an `i64` (the seed answers `400`); `Ok(None)` when
    /// it is one but no todo can have it (zero or negative: `404`).
    pub fn parse_route_value(segment: &str) -> Result<Option<Self>, NotAnInteger> {
        let number = segment.trim_matches(|c: char| c == ' ' || ('\t'..='\r').contains(&c));
        let digits = number.strip_prefix(['+', '-']).unwrap_or(number);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NotAnInteger);
        }
        number
            .strip_prefix('+')
            .unwrap_or(number)
            .parse::<i64>()
            .map(Self::new)
            .map_err(|_| NotAnInteger)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for TodoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A route value that does not bind as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnInteger;

/// A title: not blank, at most the given number of characters. Kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    pub fn parse(value: String, max_chars: usize) -> Result<Self, String> {
        if value.trim().is_empty() {
            return Err("The title must not be blank.".into());
        }
        let chars = value.chars().count();
        if chars > max_chars {
            return Err(format!(
                "The title must be at most {max_chars} characters long; it has {chars}."
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A calendar date in the ISO 8601 form `YYYY-MM-DD`, years 0001 to 9999.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DueDate(String);

impl DueDate {
    pub fn parse(value: &str) -> Result<Self, String> {
        let error = || format!("'{value}' is not a date of the form YYYY-MM-DD.");
        let bytes = value.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return Err(error());
        }
        // The shape check above guarantees ASCII digits at these positions.
        let number = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(0);
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(error()),
        };
        if year == 0 || day == 0 || day > days_in_month {
            return Err(error());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything about a todo that a client sets: the stored todo minus its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoFields {
    pub title: Title,
    pub is_complete: bool,
    pub due_by: Option<DueDate>,
}

/// A stored todo as it goes on the wire. Field order follows the seed sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    pub id: TodoId,
    pub title: Title,
    pub due_by: Option<DueDate>,
    pub is_complete: bool,
}

impl Todo {
    pub fn new(id: TodoId, fields: TodoFields) -> Self {
        Self {
            id,
            title: fields.title,
            due_by: fields.due_by,
            is_complete: fields.is_complete,
        }
    }

    pub fn fields(&self) -> TodoFields {
        TodoFields {
            title: self.title.clone(),
            is_complete: self.is_complete,
            due_by: self.due_by.clone(),
        }
    }
}

/// `text` case-folded for matching that ignores case: each character replaced by one
/// representative of its class under Unicode simple case folding (CaseFolding.txt,
/// statuses C and S), so that the string keeps its length in characters. The
/// representative is the character's lowercase where that is one character, after
/// [`FOLDS_OF_LOWERCASE`]; where the lowercase takes several (`İ`), the character itself.
/// Titles are searched and sorted by this.
pub fn fold_case(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// The lowercase letters that simple case folding maps to another letter (`ſ` is `s`,
/// final `ς` is `σ`): every other class meets at its lowercase. A test holds this table to
/// the classes Rust's own case mappings give.
const FOLDS_OF_LOWERCASE: &[(char, char)] = &[
    ('\u{b5}', 'μ'),
    ('ſ', 's'),
    ('\u{345}', 'ι'),
    ('ς', 'σ'),
    ('ϐ', 'β'),
    ('ϑ', 'θ'),
    ('ϕ', 'φ'),
    ('ϖ', 'π'),
    ('ϰ', 'κ'),
    ('ϱ', 'ρ'),
    ('ϵ', 'ε'),
    ('ᲀ', 'в'),
    ('ᲁ', 'д'),
    ('ᲂ', 'о'),
    ('ᲃ', 'с'),
    ('ᲄ', 'т'),
    ('ᲅ', 'т'),
    ('ᲆ', 'ъ'),
    ('ᲇ', 'ѣ'),
    ('ᲈ', 'ꙋ'),
    ('ẛ', 'ṡ'),
    ('\u{1fbe}', 'ι'),
];

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    let lower = match (lower.next(), lower.next()) {
        (Some(one), None) => one,
        _ => c,
    };
    FOLDS_OF_LOWERCASE
        .iter()
        .find(|(from, _)| *from == lower)
        .map_or(lower, |(_, to)| *to)
}

/// Validation messages per wire field name, as RFC 9457 `errors` carries them.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

fn add_error(errors: &mut FieldErrors, field: &str, message: impl Into<String>) {
    errors
        .entry(field.to_owned())
        .or_default()
        .push(message.into());
}

/// The members of a todo a request body may set, as the API reads them; the body reader
/// matches names regardless of case and keeps only these (`crate::api`'s body rules).
pub const MEMBERS: &[&str] = &["title", "isComplete", "dueBy"];

fn member<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name)
}

/// The body of `POST /todos` and `PUT /todos/{id}`: a whole todo. `title` is required,
/// `isComplete` defaults to `false`, `dueBy` to `null`; `id` and unknown members are ignored.
/// Titles may have at most `max_title_chars` characters.
pub fn parse_new_todo(
    body: &Map<String, Value>,
    max_title_chars: usize,
) -> Result<TodoFields, FieldErrors> {
    let mut errors = FieldErrors::new();
    let title = match member(body, "title") {
        None | Some(Value::Null) => {
            add_error(&mut errors, "title", "The title is required.");
            None
        }
        Some(value) => parse_title(value, max_title_chars, &mut errors),
    };
    let is_complete = match member(body, "isComplete") {
        None => Some(false),
        Some(value) => parse_is_complete(value, &mut errors),
    };
    let due_by = match member(body, "dueBy") {
        None => Some(None),
        Some(value) => parse_due_by(value, &mut errors),
    };
    match (title, is_complete, due_by) {
        (Some(title), Some(is_complete), Some(due_by)) if errors.is_empty() => Ok(TodoFields {
            title,
            is_complete,
            due_by,
        }),
        _ => Err(errors),
    }
}

/// A parsed JSON Merge Patch (RFC 7396), the body of `PATCH /todos/{id}`: the members it
/// sets, each already valid. `None`: left as it is; `due_by: Some(None)` clears the date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TodoPatch {
    pub title: Option<Title>,
    pub is_complete: Option<bool>,
    pub due_by: Option<Option<DueDate>>,
}

impl TodoPatch {
    /// Parses a patch body. `title` and `isComplete` cannot be removed (`null`); `id` and
    /// unknown members are ignored. Titles may have at most `max_title_chars` characters.
    /// Everything is checked here, before the todo is read, so a bad patch is a `400`
    /// whatever the todo's state or the request's preconditions.
    pub fn parse(patch: &Map<String, Value>, max_title_chars: usize) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = match member(patch, "title") {
            None => None,
            Some(Value::Null) => {
                add_error(&mut errors, "title", "The title cannot be removed.");
                None
            }
            Some(value) => parse_title(value, max_title_chars, &mut errors),
        };
        let is_complete = match member(patch, "isComplete") {
            None => None,
            Some(Value::Null) => {
                add_error(
                    &mut errors,
                    "isComplete",
                    "isComplete cannot be removed; send true or false.",
                );
                None
            }
            Some(value) => parse_is_complete(value, &mut errors),
        };
        let due_by = member(patch, "dueBy").and_then(|value| parse_due_by(value, &mut errors));
        if errors.is_empty() {
            Ok(Self {
                title,
                is_complete,
                due_by,
            })
        } else {
            Err(errors)
        }
    }

    /// `current` with the members this patch sets replaced.
    pub fn apply(&self, current: &TodoFields) -> TodoFields {
        TodoFields {
            title: self.title.clone().unwrap_or_else(|| current.title.clone()),
            is_complete: self.is_complete.unwrap_or(current.is_complete),
            due_by: self
                .due_by
                .clone()
                .unwrap_or_else(|| current.due_by.clone()),
        }
    }
}

fn parse_title(value: &Value, max_chars: usize, errors: &mut FieldErrors) -> Option<Title> {
    match value {
        Value::String(text) => Title::parse(text.clone(), max_chars)
            .map_err(|message| add_error(errors, "title", message))
            .ok(),
        _ => {
            add_error(errors, "title", "The title must be a string.");
            None
        }
    }
}

fn parse_is_complete(value: &Value, errors: &mut FieldErrors) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        _ => {
            add_error(errors, "isComplete", "isComplete must be true or false.");
            None
        }
    }
}

fn parse_due_by(value: &Value, errors: &mut FieldErrors) -> Option<Option<DueDate>> {
    match value {
        Value::Null => Some(None),
        Value::String(text) => DueDate::parse(text)
            .map(Some)
            .map_err(|message| add_error(errors, "dueBy", message))
            .ok(),
        _ => {
            add_error(
                errors,
                "dueBy",
                "dueBy must be a date string (YYYY-MM-DD) or null.",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("test bodies are objects"),
        }
    }

    #[test]
    fn ids_are_positive_canonical_integers_that_fit() {
        assert_eq!(TodoId::parse("7").map(TodoId::get), Some(7));
        assert_eq!(
            TodoId::parse("9223372036854775807").map(TodoId::get),
            Some(i64::MAX)
        );
        for bad in [
            "",
            "0",
            "007",
            "-1",
            "+1",
            "1.0",
            "abc",
            "9223372036854775808",
            " 1",
        ] {
            assert_eq!(TodoId::parse(bad), None, "{bad:?} must not parse");
        }
    }

    #[test]
    fn route_ids_parse_as_the_seeds_int_binding_parses_them() {
        let id = |segment| TodoId::parse_route_value(segment).map(|id| id.map(TodoId::get));
        for (segment, expected) in [
            ("7", 7),
            ("007", 7),
            ("+7", 7),
            (" 7 ", 7),
            ("\t7", 7),
            ("9223372036854775807", i64::MAX),
        ] {
            assert_eq!(id(segment), Ok(Some(expected)), "{segment:?}");
        }
        for names_nothing in ["0", "-1", "-0", "+0"] {
            assert_eq!(id(names_nothing), Ok(None), "{names_nothing:?}");
        }
        for not_an_int in [
            "",
            "abc",
            "1.0",
            "1e3",
            "--1",
            "+-1",
            "+",
            "9223372036854775808",
            "١",
            "7a",
            "0x7",
        ] {
            assert_eq!(id(not_an_int), Err(NotAnInteger), "{not_an_int:?}");
        }
    }

    /// The classes of simple case folding, computed another way: the lowercase of the
    /// uppercase where both are one character (dotless ı aside, which only Turkic folding
    /// joins to i).
    fn fold_by_both_mappings(c: char) -> char {
        fn single(mut mapped: impl Iterator<Item = char>) -> Option<char> {
            let first = mapped.next()?;
            mapped.next().is_none().then_some(first)
        }
        if c == 'ı' {
            return c;
        }
        let upper = single(c.to_uppercase()).unwrap_or(c);
        single(upper.to_lowercase())
            .or_else(|| single(c.to_lowercase()))
            .unwrap_or(c)
    }

    #[test]
    fn case_folding_makes_the_classes_both_case_mappings_make() {
        // Two maps make the same classes when each is constant on the other's classes.
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let (ours, theirs) = (fold_char(c), fold_by_both_mappings(c));
            assert_eq!(fold_char(theirs), ours, "{c:?} (U+{:04X})", c as u32);
            assert_eq!(
                fold_by_both_mappings(ours),
                theirs,
                "{c:?} (U+{:04X})",
                c as u32
            );
        }
    }

    #[test]
    fn case_folding_joins_what_simple_case_folding_joins_and_nothing_more() {
        for (a, b) in [
            ("MILK", "milk"),
            ("Straße", "STRAẞE"),
            ("ſ", "S"),
            ("ς", "Σ"),
            ("σ", "Σ"),
            ("µ", "Μ"),
            ("K", "k"),
            ("Ǆ", "ǅ"),
            ("ᲀ", "в"),
            ("Ꭰ", "ꭰ"),
            ("ϑ", "Θ"),
            ("ᾼ", "ᾳ"),
        ] {
            assert_eq!(fold_case(a), fold_case(b), "{a} ~ {b}");
        }
        for (a, b) in [("ı", "i"), ("İ", "i"), ("ß", "ss"), ("é", "e")] {
            assert_ne!(fold_case(a), fold_case(b), "{a} !~ {b}");
        }
        let long = "Ǆſß".repeat(100);
        assert_eq!(fold_case(&long).chars().count(), long.chars().count());
    }

    #[test]
    fn a_blank_title_is_rejected() {
        assert!(Title::parse("   \t".into(), 10).is_err());
        assert!(Title::parse(String::new(), 10).is_err());
    }

    #[test]
    fn a_title_longer_than_the_maximum_is_rejected_and_one_at_it_accepted() {
        assert!(Title::parse("é".repeat(DEFAULT_MAX_TITLE_CHARS), DEFAULT_MAX_TITLE_CHARS).is_ok());
        assert!(
            Title::parse(
                "é".repeat(DEFAULT_MAX_TITLE_CHARS + 1),
                DEFAULT_MAX_TITLE_CHARS
            )
            .is_err()
        );
        assert!(Title::parse("abc".into(), 2).is_err());
    }

    /// .NET counts UTF-16 units (an emoji is 2); here code points (1): every title the
    /// seed's rule accepts passes, and some it refuses (docs/http.md).
    #[test]
    fn a_title_is_measured_in_code_points_not_utf16_units() {
        let emoji = "\u{1F600}".repeat(DEFAULT_MAX_TITLE_CHARS);
        assert_eq!(emoji.encode_utf16().count(), 2 * DEFAULT_MAX_TITLE_CHARS);
        assert!(Title::parse(emoji, DEFAULT_MAX_TITLE_CHARS).is_ok());
    }

    #[test]
    fn due_dates_must_be_real_calendar_days() {
        for good in ["2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31"] {
            assert!(DueDate::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "0000-01-01",
            "2024-1-01",
            "2024/01/01",
            "2024-01-01T00:00:00Z",
            "２０２４-01-01",
        ] {
            assert!(DueDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_todo_defaults_is_complete_and_due_by_and_ignores_id() {
        let fields = parse_new_todo(
            &object(json!({"id": 99, "title": "Walk the dog"})),
            DEFAULT_MAX_TITLE_CHARS,
        )
        .unwrap();
        assert_eq!(fields.title.as_str(), "Walk the dog");
        assert!(!fields.is_complete);
        assert_eq!(fields.due_by, None);
    }

    #[test]
    fn a_new_todo_reports_every_bad_field() {
        let errors = parse_new_todo(
            &object(json!({"title": 5, "isComplete": "yes", "dueBy": 3})),
            DEFAULT_MAX_TITLE_CHARS,
        )
        .unwrap_err();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["dueBy", "isComplete", "title"]
        );
        let errors = parse_new_todo(&object(json!({})), DEFAULT_MAX_TITLE_CHARS).unwrap_err();
        assert!(errors.contains_key("title"));
    }

    #[test]
    fn a_merge_patch_changes_only_the_members_it_names() {
        let current = parse_new_todo(
            &object(json!({"title": "a", "isComplete": false, "dueBy": "2025-01-01"})),
            DEFAULT_MAX_TITLE_CHARS,
        )
        .unwrap();
        let patch = |body: Value| TodoPatch::parse(&object(body), DEFAULT_MAX_TITLE_CHARS).unwrap();
        let next = patch(json!({"isComplete": true})).apply(&current);
        assert_eq!(next.title.as_str(), "a");
        assert!(next.is_complete);
        assert_eq!(
            next.due_by.as_ref().map(DueDate::as_str),
            Some("2025-01-01")
        );
        let cleared = patch(json!({"dueBy": null})).apply(&next);
        assert_eq!(cleared.due_by, None);
    }

    #[test]
    fn a_merge_patch_cannot_remove_title_or_is_complete() {
        let errors = TodoPatch::parse(
            &object(json!({"title": null, "isComplete": null})),
            DEFAULT_MAX_TITLE_CHARS,
        )
        .unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["isComplete", "title"]);
    }

    #[test]
    fn a_todo_serializes_like_the_seed_sample() {
        let todo = Todo::new(
            TodoId::new(1).unwrap(),
            parse_new_todo(
                &object(json!({"title": "Walk the dog"})),
                DEFAULT_MAX_TITLE_CHARS,
            )
            .unwrap(),
        );
        assert_eq!(
            serde_json::to_string(&todo).unwrap(),
            r#"{"id":1,"title":"Walk the dog","dueBy":null,"isComplete":false}"#
        );
    }
}
