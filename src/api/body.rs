//! Request bodies: which media types are JSON, the size limit, and reading one JSON
//! object.
//!
//! The rules, as ASP.NET Core's JSON input applies them for the seed sample's clients:
//! - `application/json` and every `+json` structured-suffix type (RFC 6838 §4.2.8) are JSON;
//! - JSON is UTF-8 (RFC 8259 §8.1): a declared charset other than UTF-8 is `415`, and a
//!   UTF-8 byte-order mark before the JSON is skipped, as System.Text.Json skips it;
//! - member names match the names the API reads regardless of case, and where a member
//!   appears more than once **the last one wins**, as System.Text.Json's default does;
//! - members the API does not read (a client-sent `id`) are skipped unread, whatever
//!   their value: a number no parser could hold is as ignored as any other.

use std::fmt;
use std::io::{self, Read};

use http::{HeaderMap, header};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::encoding::{self, BodyCoding, GunzipError};
use super::failure::{BodyError, Failure};

pub const JSON: &str = "application/json";
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// Checks what the headers say of the body, before preconditions are evaluated (a
/// §13.2.1 "normal request check"): a JSON media type in UTF-8, no content coding but
/// gzip, and a declared length within `limit`. `accepted` names the media types for the
/// `415` answer.
pub fn check_declared(
    headers: &HeaderMap,
    accepted: &'static [&'static str],
    limit: usize,
) -> Result<(), Failure> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if !is_json(&essence) {
        return Err(Failure::Body(BodyError::NotJson(accepted)));
    }
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let value = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
            return Err(Failure::Body(BodyError::NotUtf8(value.to_owned())));
        }
    }
    if encoding::body_coding(headers).is_none() {
        return Err(Failure::Body(BodyError::UnsupportedCoding));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Failure::Body(BodyError::TooLarge(limit)));
    }
    Ok(())
}

/// `type/subtype` is JSON: `application/json`, or any `+json` suffix.
fn is_json(essence: &str) -> bool {
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let token = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    token(kind)
        && token(subtype)
        && (essence == JSON || (subtype.len() > 5 && subtype.ends_with("+json")))
}

/// Reads the body, sent in `coding`, at most `limit` bytes of it (a body past it,
/// encoded or decoded, is `413`, unread beyond that), and parses it as one JSON object,
/// keeping only `members` (by their canonical names). A reader that fails with
/// [`io::ErrorKind::TimedOut`] (the host adapter's deadline for the whole body,
/// `body_timeout_ms`) is `408`.
pub fn read_object<B: Read>(
    body: B,
    coding: BodyCoding,
    limit: usize,
    members: &'static [&'static str],
) -> Result<Map<String, Value>, Failure> {
    let unreadable = |error: io::Error| match error.kind() {
        io::ErrorKind::TimedOut => Failure::Body(BodyError::TooSlow),
        _ => Failure::Body(BodyError::Unreadable(error.to_string())),
    };
    let mut bytes = Vec::new();
    match coding {
        BodyCoding::Identity => {
            body.take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(unreadable)?;
        }
        BodyCoding::Gzip => {
            encoding::gunzip(body, limit, &mut bytes).map_err(|error| match error {
                GunzipError::Body(error) => unreadable(error),
                GunzipError::NotGzip => Failure::Body(BodyError::NotGzip),
                GunzipError::TooLarge => Failure::Body(BodyError::TooLarge(limit)),
            })?;
        }
    }
    if bytes.len() > limit {
        return Err(Failure::Body(BodyError::TooLarge(limit)));
    }
    let json = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let start = json.iter().position(|byte| !byte.is_ascii_whitespace());
    let syntax = |error: serde_json::Error| {
        Failure::Body(BodyError::NotJsonSyntax {
            line: error.line(),
            column: error.column(),
        })
    };
    match start.map(|index| json[index]) {
        None => Err(Failure::Body(BodyError::Empty)),
        Some(b'{') => {
            let mut deserializer = serde_json::Deserializer::from_slice(json);
            let object = KnownMembers(members)
                .deserialize(&mut deserializer)
                .map_err(syntax)?;
            deserializer.end().map_err(syntax)?;
            Ok(object)
        }
        Some(_) => {
            serde_json::from_slice::<IgnoredAny>(json).map_err(syntax)?;
            Err(Failure::Body(BodyError::NotAnObject))
        }
    }
}

/// Deserializes a JSON object into its members named in `.0` (matched regardless of case,
/// stored under the canonical name, the last one winning), skipping the others unread.
struct KnownMembers(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KnownMembers {
    type Value = Map<String, Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        // `deserialize_any`, not `deserialize_map`: the latter describes what it found
        // instead, and that description links float formatting (some 15 KB) into the
        // component. The caller has seen the `{` already.
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KnownMembers {
    type Value = Map<String, Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        // Names as `Value`: a `String` would bring its own description of what else it met.
        while let Some(name) = map.next_key::<Value>()? {
            let name = name.as_str().unwrap_or_default();
            match self.0.iter().find(|known| known.eq_ignore_ascii_case(name)) {
                Some(known) => {
                    object.insert((*known).to_owned(), map.next_value::<Value>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(object)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("not an object"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(E::custom("not an object"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(E::custom("not an object"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(E::custom("not an object"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(E::custom("not an object"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(E::custom("not an object"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("not an object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBERS: &[&str] = &["title", "isComplete"];

    fn read(body: &[u8]) -> Result<Value, String> {
        read_object(body, BodyCoding::Identity, 1000, MEMBERS)
            .map(Value::Object)
            .map_err(|failure| failure.into_problem().detail)
    }

    #[test]
    fn json_media_types_are_application_json_and_every_plus_json() {
        for json in [
            "application/json",
            "application/merge-patch+json",
            "application/vnd.api+json",
            "text/x+json",
        ] {
            assert!(is_json(json), "{json}");
        }
        for not in [
            "text/json",
            "application/+json",
            "application/jsonx",
            "json",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!is_json(not), "{not}");
        }
    }

    #[test]
    fn only_utf8_is_read_as_json() {
        let check = |content_type: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
            check_declared(&headers, &[JSON], 10).map_err(|f| f.into_problem().status)
        };
        assert_eq!(check("application/json; charset=utf-8"), Ok(()));
        assert_eq!(check("Application/JSON;Charset=\"UTF-8\""), Ok(()));
        assert_eq!(check("application/json; charset=utf-16"), Err(415));
        assert_eq!(check("application/json; charset=latin1"), Err(415));
        assert_eq!(check("text/plain"), Err(415));
    }

    #[test]
    fn a_gzip_body_is_read_and_any_other_coding_is_415() {
        let declared = |coding: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, JSON.parse().unwrap());
            headers.insert(header::CONTENT_ENCODING, coding.parse().unwrap());
            check_declared(&headers, &[JSON], 100).map_err(|f| {
                let problem = f.into_problem();
                let accept = problem
                    .headers
                    .iter()
                    .find(|(name, _)| name == header::ACCEPT_ENCODING);
                (problem.status, accept.map(|(_, value)| value.clone()))
            })
        };
        assert_eq!(declared("gzip"), Ok(()));
        assert_eq!(declared("br"), Err((415, Some("gzip".to_owned()))));
        let body = encoding::gzip(br#"{"title":"a"}"#);
        let read = read_object(&body[..], BodyCoding::Gzip, 100, MEMBERS).unwrap();
        assert_eq!(Value::Object(read), serde_json::json!({"title": "a"}));
        let not_gzip = read_object(&b"{}"[..], BodyCoding::Gzip, 100, MEMBERS).unwrap_err();
        assert_eq!(not_gzip.into_problem().status, 400);
        // The limit is on the decoded body.
        let big = encoding::gzip(format!(r#"{{"title":"{}"}}"#, "a".repeat(200)).as_bytes());
        assert!(big.len() < 100);
        let too_large = read_object(&big[..], BodyCoding::Gzip, 100, MEMBERS).unwrap_err();
        assert_eq!(too_large.into_problem().status, 413);
    }

    #[test]
    fn the_last_of_repeated_members_wins_whatever_its_case() {
        let body = br#"{"title":"a","TITLE":"b","Title":"c","isComplete":true,"iscomplete":false}"#;
        assert_eq!(
            read(body).unwrap(),
            serde_json::json!({"title": "c", "isComplete": false})
        );
    }

    #[test]
    fn ignored_members_are_skipped_unread_whatever_their_value() {
        let body = br#"{"id": 1e400, "extra": [1, {"x": -1e99999}], "title": "a"}"#;
        assert_eq!(read(body).unwrap(), serde_json::json!({"title": "a"}));
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_bad_bodies_are_named() {
        assert_eq!(
            read(b"\xEF\xBB\xBF{\"title\":\"a\"}").unwrap(),
            serde_json::json!({"title": "a"})
        );
        assert!(read(b"").unwrap_err().contains("empty"));
        assert!(
            read(b"  [1]")
                .unwrap_err()
                .contains("must be a JSON object")
        );
        assert!(
            read(b"{\"title\": }")
                .unwrap_err()
                .contains("line 1, column 11")
        );
        assert!(read(b"{} {}").unwrap_err().contains("not valid JSON"));
        assert!(read(b"[1,").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn a_body_past_its_deadline_is_408_and_a_failing_one_400() {
        // What the component's reader does once `body_timeout_ms` has passed: part of the
        // body came, then the deadline did.
        struct Stalled(&'static [u8], io::ErrorKind);
        impl Read for Stalled {
            fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(self.1, "stalled"));
                }
                let n = self.0.len().min(buffer.len());
                buffer[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for coding in [BodyCoding::Identity, BodyCoding::Gzip] {
            let sent: &'static [u8] = match coding {
                BodyCoding::Identity => b"{\"title\":",
                // The start of a gzip body: its header and some of the deflate stream.
                BodyCoding::Gzip => encoding::gzip(b"{\"title\":\"a\"}").leak().split_at(14).0,
            };
            let answer =
                |kind| read_object(Stalled(sent, kind), coding, 1000, MEMBERS).unwrap_err();
            let late = answer(io::ErrorKind::TimedOut).into_problem();
            assert_eq!(late.status, 408, "{coding:?}");
            assert!(
                late.detail
                    .contains("did not arrive within the time allowed")
            );
            let broken = answer(io::ErrorKind::ConnectionReset).into_problem();
            assert_eq!(broken.status, 400, "{coding:?}");
            assert!(!broken.detail.contains("stalled"), "{}", broken.detail);
            assert!(!broken.detail.contains("gzip"), "{}", broken.detail);
        }
    }
}
