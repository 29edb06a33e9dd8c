//! Conditional requests (RFC 9110 §13), evaluated here and nowhere else: every operation
//! goes through [`Preconditions::evaluate`] once its target is known (a missing todo is a
//! `404` first, §13.2.1) and before its content is read, and a write that lost a race
//! evaluates them again against the todo that won.
//!
//! Only entity tags are compared: no resource here has a modification date, so
//! `If-Unmodified-Since` and `If-Modified-Since` are ignored, as §13.1.4 and §13.1.3 say
//! for resources without one. No `Range` is served, so `If-Range` is ignored too.

use http::{HeaderMap, HeaderName, Method, header};

use super::failure::{Failure, PreconditionError};

/// The entity tags a request's preconditions name, parsed.
#[derive(Debug, Default)]
pub struct Preconditions {
    if_match: Option<Condition>,
    if_none_match: Option<Condition>,
}

/// `*` or a list of entity tags.
#[derive(Debug)]
enum Condition {
    Any,
    Tags(Vec<EntityTag>),
}

#[derive(Debug)]
struct EntityTag {
    weak: bool,
    /// The quoted part, quotes included: `"3"`.
    opaque: Vec<u8>,
}

/// What a request may do once its preconditions hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Proceed,
    /// A `GET` or `HEAD` whose `If-None-Match` matched: answer `304`.
    NotModified,
}

impl Preconditions {
    /// Reads `If-Match` and `If-None-Match`, across all their field lines. A field that is
    /// not `*` or a list of entity tags is the client's error. An empty field is an empty
    /// list (the `#` rule allows zero elements, RFC 9110 §5.6.1): it matches nothing.
    pub fn parse(headers: &HeaderMap) -> Result<Self, Failure> {
        Ok(Self {
            if_match: Condition::parse(headers, header::IF_MATCH)?,
            if_none_match: Condition::parse(headers, header::IF_NONE_MATCH)?,
        })
    }

    /// Evaluates the preconditions in the order of §13.2.2 for `method` on a target that
    /// exists, whose current strong entity tags are `current` (none: it has no tag, as the
    /// collection `POST` writes to). A `GET` names the tag of the representation it selects; a write,
    /// the tags of every representation of the current state (each content coding has its
    /// own tag, and a client may hold any of them).
    pub fn evaluate(&self, method: &Method, current: &[String]) -> Result<Verdict, Failure> {
        let failed = || Failure::Precondition(PreconditionError::Failed);
        // 1. If-Match, by strong comparison: `*` holds for any current representation.
        if let Some(condition) = &self.if_match
            && !condition.holds(current, true)
        {
            return Err(failed());
        }
        // 3. If-None-Match, by weak comparison: a match stops the request.
        if let Some(condition) = &self.if_none_match
            && condition.holds(current, false)
        {
            return if *method == Method::GET || *method == Method::HEAD {
                Ok(Verdict::NotModified)
            } else {
                Err(failed())
            };
        }
        Ok(Verdict::Proceed)
    }
}

impl Preconditions {
    /// Of `candidates`, the tag `If-None-Match` matched (weakly): the one a `304` names.
    /// `*` names the first.
    pub fn none_match_tag<'a>(&self, candidates: &'a [String]) -> Option<&'a String> {
        match self.if_none_match.as_ref()? {
            Condition::Any => candidates.first(),
            Condition::Tags(tags) => candidates
                .iter()
                .find(|candidate| tags.iter().any(|tag| tag.opaque == candidate.as_bytes())),
        }
    }
}

impl Condition {
    fn parse(headers: &HeaderMap, name: HeaderName) -> Result<Option<Self>, Failure> {
        let malformed = || Failure::Precondition(PreconditionError::Malformed(name.clone()));
        let mut lines = headers.get_all(&name).iter().peekable();
        if lines.peek().is_none() {
            return Ok(None);
        }
        let mut tags = Vec::new();
        let mut any = false;
        for line in lines {
            let value = line.as_bytes().trim_ascii();
            if value == b"*" {
                any = true;
            } else {
                parse_tag_list(value, &mut tags).ok_or_else(malformed)?;
            }
        }
        match (any, tags.is_empty()) {
            (true, true) => Ok(Some(Self::Any)),
            (false, _) => Ok(Some(Self::Tags(tags))),
            // `*` is the whole field or nothing.
            (true, false) => Err(malformed()),
        }
    }

    /// Whether this condition matches a target whose current tags are `current`. The
    /// target exists (a missing todo is a `404` first), so `*` always holds.
    fn holds(&self, current: &[String], strong: bool) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => current.iter().any(|current| {
                tags.iter()
                    .any(|tag| !(strong && tag.weak) && tag.opaque == current.as_bytes())
            }),
        }
    }
}

/// Parses `#entity-tag` (RFC 9110 §5.6.1, §8.8.3) into `tags`: empty elements are
/// allowed, anything else that is not `[W/]"etagc*"` is not.
fn parse_tag_list(value: &[u8], tags: &mut Vec<EntityTag>) -> Option<()> {
    let mut rest = value;
    loop {
        rest = rest.trim_ascii_start();
        match rest.first() {
            None => return Some(()),
            Some(b',') => {
                rest = &rest[1..];
                continue;
            }
            Some(_) => {}
        }
        let weak = rest.starts_with(b"W/");
        if weak {
            rest = &rest[2..];
        }
        let body = rest.strip_prefix(b"\"")?;
        let end = body.iter().position(|&byte| byte == b'"')?;
        let etagc = |byte: u8| byte == 0x21 || (0x23..=0x7e).contains(&byte) || byte >= 0x80;
        if !body[..end].iter().all(|&byte| etagc(byte)) {
            return None;
        }
        tags.push(EntityTag {
            weak,
            opaque: rest[..end + 2].to_vec(),
        });
        rest = body[end + 1..].trim_ascii_start();
        match rest.first() {
            None => return Some(()),
            Some(b',') => rest = &rest[1..],
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn preconditions(lines: &[(&HeaderName, &str)]) -> Result<Preconditions, Failure> {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        Preconditions::parse(&headers)
    }

    fn verdict(lines: &[(&HeaderName, &str)], method: Method, current: Option<&str>) -> String {
        let current: Vec<String> = current.into_iter().map(str::to_owned).collect();
        match preconditions(lines).and_then(|p| p.evaluate(&method, &current)) {
            Ok(verdict) => format!("{verdict:?}"),
            Err(failure) => format!("{}", failure.into_problem().status),
        }
    }

    #[test]
    fn entity_tag_lists_parse_by_the_grammar() {
        for good in [
            "\"1\"",
            "W/\"1\"",
            "\"a,b\", W/\"c\"",
            ", \"1\",,",
            "\"\"",
            "*",
            "",
            " , ",
        ] {
            assert!(
                preconditions(&[(&header::IF_MATCH, good)]).is_ok(),
                "{good}"
            );
        }
        for bad in ["1", "\"1", "w/\"1\"", "\"1\" \"2\"", "*, \"1\"", "\"a\"b\""] {
            assert!(
                preconditions(&[(&header::IF_MATCH, bad)]).is_err(),
                "{bad:?}"
            );
        }
        let split = [(&header::IF_MATCH, "*"), (&header::IF_MATCH, "\"1\"")];
        assert!(
            preconditions(&split).is_err(),
            "* and a tag across two lines"
        );
    }

    #[test]
    fn if_match_compares_strongly_and_if_none_match_weakly() {
        let im = &header::IF_MATCH;
        let inm = &header::IF_NONE_MATCH;
        let tag = Some("\"2\"");
        assert_eq!(
            verdict(&[(im, "\"1\", \"2\"")], Method::PUT, tag),
            "Proceed"
        );
        assert_eq!(verdict(&[(im, "W/\"2\"")], Method::PUT, tag), "412");
        assert_eq!(verdict(&[(im, "\"1\"")], Method::GET, tag), "412");
        assert_eq!(verdict(&[(im, "*")], Method::DELETE, tag), "Proceed");
        assert_eq!(verdict(&[(im, "*")], Method::POST, None), "Proceed");
        assert_eq!(verdict(&[(im, "\"2\"")], Method::POST, None), "412");
        assert_eq!(
            verdict(&[(inm, "W/\"2\"")], Method::GET, tag),
            "NotModified"
        );
        assert_eq!(
            verdict(&[(inm, "W/\"2\"")], Method::HEAD, tag),
            "NotModified"
        );
        assert_eq!(verdict(&[(inm, "\"2\"")], Method::PATCH, tag), "412");
        assert_eq!(verdict(&[(inm, "*")], Method::PUT, tag), "412");
        assert_eq!(verdict(&[(inm, "*")], Method::POST, None), "412");
        assert_eq!(verdict(&[(inm, "\"1\"")], Method::PUT, tag), "Proceed");
        // An empty list matches nothing.
        assert_eq!(verdict(&[(im, "")], Method::GET, tag), "412");
        assert_eq!(verdict(&[(inm, "")], Method::PUT, tag), "Proceed");
        // A write holds against any of the current representations' tags.
        let both = ["\"2\"".to_owned(), "\"2-gzip\"".to_owned()];
        let evaluate = |lines: &[(&HeaderName, &str)], method| {
            preconditions(lines)
                .unwrap()
                .evaluate(&method, &both)
                .is_ok()
        };
        assert!(evaluate(&[(im, "\"2-gzip\"")], Method::PUT));
        assert!(evaluate(&[(im, "\"2\"")], Method::DELETE));
        assert!(!evaluate(&[(inm, "\"2-gzip\"")], Method::PATCH));
        // If-Match first: a stale one fails even where If-None-Match would give 304.
        assert_eq!(
            verdict(&[(im, "\"1\""), (inm, "\"2\"")], Method::GET, tag),
            "412"
        );
    }
}
