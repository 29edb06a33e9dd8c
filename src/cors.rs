//! Cross-origin resource sharing (the Fetch standard's CORS protocol), default deny.
//!
//! With no allowed origins configured, no answer carries a CORS header and browsers keep
//! other origins out. With origins allowed (a list, or `*`):
//! - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on a served
//!   path answers `204` with `Access-Control-Allow-Origin`, `-Methods`, `-Headers` and
//!   `-Max-Age`;
//! - every other answer to an allowed origin carries `Access-Control-Allow-Origin` and
//!   exposes the headers clients of this API read (`ETag`, `Location`, `Link`,
//!   `X-Total-Count`);
//! - answers vary by `Origin`, so caches keep them apart;
//! - a disallowed origin gets no CORS header at all.
//!
//! Credentials mode is never allowed: bearer tokens travel in `Authorization`, which a
//! script sets itself, not in cookies.

use http::{HeaderMap, HeaderValue, Method, Response, header};

/// The request headers a browser may send cross-origin beyond the safelisted ones.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, If-Match, If-None-Match";
/// The response headers a cross-origin script may read beyond the safelisted ones.
const EXPOSED_HEADERS: &str = "ETag, Location, Link, X-Total-Count";

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// No origin (the default).
    #[default]
    None,
    /// Every origin: `*`.
    Any,
    /// These origins exactly (scheme, host and port, as browsers send `Origin`).
    List(Vec<String>),
}

impl AllowedOrigins {
    /// Parses `*` or a comma-separated list of origins such as
    /// `https://app.example.com, http://localhost:5173`.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.trim() == "*" {
            return Ok(Self::Any);
        }
        let mut origins = Vec::new();
        for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if origin == "*" {
                return Err("'*' cannot be combined with other origins".into());
            }
            if !is_origin(origin) {
                return Err(format!(
                    "'{origin}' is not an origin (scheme://host[:port], no path)"
                ));
            }
            // Origins compare as browsers serialize them: scheme and host in lower case.
            origins.push(origin.to_ascii_lowercase());
        }
        if origins.is_empty() {
            return Err("no origin is listed".into());
        }
        Ok(Self::List(origins))
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Self::None => false,
            Self::Any => true,
            Self::List(origins) => origins.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

/// An origin as the `Origin` header serializes it: `scheme://host[:port]`.
fn is_origin(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once("://") else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    scheme_ok && host_ok
}

/// The CORS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub origins: AllowedOrigins,
    /// Seconds a browser may cache a preflight's answer.
    pub max_age: u32,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            origins: AllowedOrigins::None,
            max_age: crate::config::DEFAULT_CORS_MAX_AGE,
        }
    }
}

impl Cors {
    /// Whether a request is a CORS preflight, which is answered by [`Cors::preflight`]
    /// and never reaches a handler.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight on a path that serves `methods`: `204`, with the
    /// permissions only when the origin is allowed.
    pub fn preflight(&self, headers: &HeaderMap, methods: &[Method]) -> Response<Vec<u8>> {
        let mut response = Response::new(Vec::new());
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        if let Some(origin) = self.allowed_origin(headers) {
            let out = response.headers_mut();
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            let methods = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(methods) = HeaderValue::try_from(methods) {
                out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
            }
            out.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            out.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(self.max_age),
            );
        }
        self.vary(&mut response);
        response
    }

    /// Adds the CORS headers an actual (non-preflight) answer carries.
    pub fn apply(&self, headers: &HeaderMap, response: &mut Response<Vec<u8>>) {
        if let Some(origin) = self.allowed_origin(headers) {
            let out = response.headers_mut();
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            out.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
        self.vary(response);
    }

    /// The `Access-Control-Allow-Origin` value for this request, if its origin is allowed.
    fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        if !self.origins.allows(origin.to_str().ok()?) {
            return None;
        }
        Some(match self.origins {
            AllowedOrigins::Any => HeaderValue::from_static("*"),
            _ => origin.clone(),
        })
    }

    /// Answers differ by `Origin` once CORS is on: caches must keep them apart.
    fn vary(&self, response: &mut Response<Vec<u8>>) {
        if self.origins != AllowedOrigins::None {
            response
                .headers_mut()
                .append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_as_a_list_or_a_star() {
        assert_eq!(AllowedOrigins::parse(" * "), Ok(AllowedOrigins::Any));
        assert_eq!(
            AllowedOrigins::parse("https://App.example.com, http://localhost:5173"),
            Ok(AllowedOrigins::List(vec![
                "https://app.example.com".into(),
                "http://localhost:5173".into()
            ]))
        );
        for bad in [
            "app.example.com",
            "https://example.com/path",
            "*, https://a.example",
            ",",
            "https://",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let origins = AllowedOrigins::parse("https://a.example").unwrap();
        assert!(origins.allows("https://a.example"));
        assert!(origins.allows("HTTPS://A.EXAMPLE"));
        assert!(!origins.allows("https://a.example:8443"));
        assert!(!origins.allows("http://a.example"));
        assert!(!origins.allows("null"));
        assert!(!AllowedOrigins::None.allows("https://a.example"));
    }
}
