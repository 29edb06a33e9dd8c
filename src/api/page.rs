//! The page people use (`GET /`, `/app.css`, `/app.js`): the files of `web/`, carried only as
//! the brotli and gzip copies build.rs made of them, and inflated from gzip for a client that
//! takes neither. Each answer carries a strong tag per coding and a Content-Security-Policy
//! that allows the page's own files only.

use http::{HeaderValue, Response, StatusCode, header};

use super::encoding::{self, Accepted, Coding};

/// One file of the page, as build.rs wrote it.
pub struct PageFile {
    pub path: &'static str,
    pub media_type: &'static str,
    pub br: &'static [u8],
    pub gzip: &'static [u8],
    /// The file's length as it is (identity).
    pub length: usize,
    /// Its strong entity tag, for identity (`encoding::tag_in` marks the others).
    pub etag: &'static str,
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

/// The coding `accepted` selects for file `index`.
pub fn coding(index: usize, accepted: &Accepted) -> Coding {
    accepted.choose(&[Coding::Br, Coding::Gzip], PAGE_FILES[index].length)
}

/// The tag of file `index` in the coding `accepted` selects.
pub fn tag(index: usize, accepted: &Accepted) -> String {
    encoding::tag_in(PAGE_FILES[index].etag, coding(index, accepted))
}

/// File `index`'s `200`, in the coding `accepted` selects.
pub fn answer(index: usize, accepted: &Accepted) -> Response<Vec<u8>> {
    let file = &PAGE_FILES[index];
    let coding = coding(index, accepted);
    let content = match coding {
        Coding::Br => file.br.to_vec(),
        Coding::Gzip => file.gzip.to_vec(),
        Coding::Identity => {
            let mut content = Vec::with_capacity(file.length);
            match encoding::gunzip(file.gzip, file.length.max(file.gzip.len()), &mut content) {
                Ok(()) => content,
                Err(_) => Vec::new(),
            }
        }
    };
    let mut response = Response::new(content);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.media_type),
    );
    if let Ok(tag) = HeaderValue::try_from(encoding::tag_in(file.etag, coding)) {
        headers.insert(header::ETAG, tag);
    }
    if coding != Coding::Identity {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
    }
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
