//! The page people use (`GET /`, `/app.css`, `/app.js`): the files of `web/`, carried only as
//! the brotli and gzip copies build.rs made of them, and inflated from gzip for a client that
//! takes neither. Each answer carries a strong tag per coding and a Content-Security-Policy
//! that allows the page's own files only.

use http::{HeaderValue, Response, header};

use super::encoding::{self, Accepted, Precompressed};

/// One file of the page, as build.rs wrote it.
pub struct PageFile {
    pub path: &'static str,
    pub media_type: &'static str,
    pub content: Precompressed,
}

include!(concat!(env!("OUT_DIR"), "/page.rs"));

/// Scripts, styles and connections from the page's own origin only (images also as
/// `data:`, for the empty icon that spares the browser a request for `/favicon.ico`); no
/// frames, no plugins, no `<base>`, forms only to itself.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
    frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// The index of the file served at `path` (matched as the API's paths are: ASCII case
/// ignored).
pub fn find(path: &str) -> Option<usize> {
    PAGE_FILES
        .iter()
        .position(|file| file.path.eq_ignore_ascii_case(path))
}

/// File `index`'s `200`, in the coding `accepted` selects, with the security headers.
pub fn answer(index: usize, accepted: &Accepted) -> Response<Vec<u8>> {
    let file = &PAGE_FILES[index];
    let mut response = file.content.answer(accepted, file.media_type);
    let headers = response.headers_mut();
    encoding::vary(headers);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
