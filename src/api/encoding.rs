//! Content codings (RFC 9110 §8.4, §12.5.3), both ways.
//!
//! Answers: [`Accepted`] reads `Accept-Encoding` and [`Accepted::choose`] picks the coding
//! an answer goes out in; [`encode`] applies it to an answer with content. JSON answers of
//! [`MIN_COMPRESSED_BYTES`] or more are gzipped at run time (miniz_oxide, level 1: the
//! fastest, and JSON lists still shrink to about a fifth); `/openapi.json` is served as
//! the brotli or gzip copy `build.rs` made. Every answer whose content could be encoded
//! carries `Vary: Accept-Encoding`, the identity one too, so that no cache hands a gzip
//! answer to a client that did not ask for it.
//!
//! Each representation has its own strong entity tag (§8.8.3): a gzip answer's tag is the
//! identity tag with `-gzip` inside the quotes. A `GET` compares `If-None-Match` with the
//! tag of the representation it selects; a write accepts the tag of any representation of
//! the current todo (see `handlers`).
//!
//! Requests: a body may be sent with `Content-Encoding: gzip`; any other coding is `415`
//! with `Accept-Encoding: gzip` (§12.5.3). The body limit applies to the decoded body, and
//! to the encoded one.

use std::io::{self, Read};

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

/// The smallest answer worth compressing: below it the gzip framing (18 bytes) and the
/// time outweigh what a few hundred bytes of JSON save. Answers below it go out as they are
/// unless the client refused `identity`.
pub const MIN_COMPRESSED_BYTES: usize = 1024;

/// A content coding this API can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Br,
}

impl Coding {
    pub fn token(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Br => "br",
        }
    }

    /// Whether `name` (from a request, any case) names this coding: `x-gzip` is gzip
    /// (§8.4.1.3).
    fn is_named(self, name: &str) -> bool {
        name.eq_ignore_ascii_case(self.token())
            || (self == Self::Gzip && name.eq_ignore_ascii_case("x-gzip"))
    }
}

/// What a request's `Accept-Encoding` says the client accepts.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    /// Each listed coding (lower case) with its weight in thousandths; `None`: no field, or
    /// one that does not parse (then the client gets identity, as from ASP.NET Core).
    listed: Option<Vec<(String, u16)>>,
}

impl Accepted {
    /// Reads every `Accept-Encoding` field line of `headers`.
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut lines = headers.get_all(header::ACCEPT_ENCODING).iter().peekable();
        if lines.peek().is_none() {
            return Self::default();
        }
        let mut listed = Vec::new();
        for line in lines {
            let Ok(line) = line.to_str() else {
                return Self::default();
            };
            for element in line.split(',') {
                let element = element.trim();
                if element.is_empty() {
                    continue;
                }
                match parse_element(element) {
                    Some(entry) => listed.push(entry),
                    None => return Self::default(),
                }
            }
        }
        Self {
            listed: Some(listed),
        }
    }

    /// The weight the client gives `coding`, in thousandths: an entry naming it, else `*`'s,
    /// else 0 for a coding and, for identity, the least weight there is: acceptable unless
    /// refused (§12.5.3), and second to any coding the client lists. Where a coding is
    /// listed more than once, the highest weight counts.
    fn weight(&self, coding: Coding) -> u16 {
        let Some(listed) = &self.listed else {
            return if coding == Coding::Identity { 1000 } else { 0 };
        };
        let named = |test: &dyn Fn(&str) -> bool| {
            listed
                .iter()
                .filter(|(name, _)| test(name))
                .map(|(_, weight)| *weight)
                .max()
        };
        named(&|name| coding.is_named(name))
            .or_else(|| named(&|name| name == "*"))
            .unwrap_or(if coding == Coding::Identity { 1 } else { 0 })
    }

    /// The coding to send content of `length` bytes in, of the codings it is `available`
    /// in besides identity (in the server's order of preference): the one the client
    /// weighs highest, a coding before identity at equal weight, identity for content
    /// under [`MIN_COMPRESSED_BYTES`]. Where the client refuses identity and accepts none
    /// of the others, the answer goes out as identity all the same (§12.1 lets a server
    /// disregard the field; a `406` would help no one).
    pub fn choose(&self, available: &[Coding], length: usize) -> Coding {
        let best = available
            .iter()
            .map(|coding| (*coding, self.weight(*coding)))
            .filter(|(_, weight)| *weight > 0)
            .fold(None::<(Coding, u16)>, |best, (coding, weight)| match best {
                Some((_, top)) if top >= weight => best,
                _ => Some((coding, weight)),
            });
        let identity = self.weight(Coding::Identity);
        match best {
            Some((coding, _)) if identity == 0 => coding,
            Some((coding, weight)) if weight >= identity && length >= MIN_COMPRESSED_BYTES => {
                coding
            }
            _ => Coding::Identity,
        }
    }
}

/// One element of `Accept-Encoding`: `coding [OWS ";" OWS "q=" qvalue]`.
fn parse_element(element: &str) -> Option<(String, u16)> {
    let mut parts = element.split(';');
    let name = parts.next()?.trim();
    let token = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(name) {
        return None;
    }
    let mut weight = 1000;
    for parameter in parts {
        let (key, value) = parameter.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("q") {
            weight = parse_qvalue(value.trim())?;
        } else {
            return None;
        }
    }
    Some((name.to_ascii_lowercase(), weight))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (§12.4.2), in thousandths.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl Accepted {
    /// The codings an answer of any length might be sent in, of identity and `available`:
    /// what the tag in a `GET`'s `If-None-Match` may name when the length is not known
    /// before the content is read (a list's, whose `304` reads no page). A client holding a
    /// representation in one of these accepts it now.
    pub fn possible(&self, available: &[Coding]) -> Vec<Coding> {
        let mut possible = vec![self.choose(available, 0)];
        let large = self.choose(available, usize::MAX);
        if !possible.contains(&large) {
            possible.push(large);
        }
        possible
    }
}

/// The entity tag of `identity_tag`'s representation in `coding`: `"3"` is `"3-gzip"` in
/// gzip.
pub fn tag_in(identity_tag: &str, coding: Coding) -> String {
    match coding {
        Coding::Identity => identity_tag.to_owned(),
        _ => {
            let inner = identity_tag.trim_end_matches('"');
            format!("{inner}-{}\"", coding.token())
        }
    }
}

/// Every tag a representation of `identity_tag`'s content can have: what a write accepts
/// in `If-Match` and `If-None-Match`.
pub fn tags_of_every_coding(identity_tag: &str) -> [String; 2] {
    [identity_tag.to_owned(), tag_in(identity_tag, Coding::Gzip)]
}

/// The codings an answer is compressed in at run time (the OpenAPI document has its own,
/// made at build time).
pub const RUN_TIME_CODINGS: &[Coding] = &[Coding::Gzip];

/// Sends a JSON answer with content (a `200` or `201`) in the coding `accepted` chooses of
/// [`RUN_TIME_CODINGS`]: gzip from [`MIN_COMPRESSED_BYTES`] up, its `ETag` the gzip
/// representation's. Every such answer gets `Vary: Accept-Encoding`, here and nowhere else
/// (but a `304`'s). An answer already encoded (`/openapi.json`) keeps its coding; any other
/// answer is left as it is.
pub fn encode(response: &mut Response<Vec<u8>>, accepted: &Accepted) {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status == StatusCode::OK || status == StatusCode::CREATED) || !json {
        return;
    }
    vary(response.headers_mut());
    if response.headers().contains_key(header::CONTENT_ENCODING)
        || accepted.choose(RUN_TIME_CODINGS, response.body().len()) != Coding::Gzip
    {
        return;
    }
    let body = std::mem::take(response.body_mut());
    *response.body_mut() = gzip(&body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    if let Some(tag) = headers.get(header::ETAG).and_then(|tag| tag.to_str().ok())
        && let Ok(tag) = HeaderValue::try_from(tag_in(tag, Coding::Gzip))
    {
        headers.insert(header::ETAG, tag);
    }
}

/// Content compressed at build time (build.rs: the OpenAPI document, the page's files):
/// only its brotli and gzip copies are carried, and a client that takes neither gets it
/// inflated from gzip.
pub struct Precompressed {
    pub br: &'static [u8],
    pub gzip: &'static [u8],
    /// How many bytes the content itself has.
    pub length: usize,
    /// Its strong entity tag as it is (identity); [`tag_in`] marks the codings'.
    pub etag: &'static str,
}

impl Precompressed {
    /// The coding `accepted` selects.
    pub fn coding(&self, accepted: &Accepted) -> Coding {
        accepted.choose(&[Coding::Br, Coding::Gzip], self.length)
    }

    /// The tag of the representation `accepted` selects.
    pub fn tag(&self, accepted: &Accepted) -> String {
        tag_in(self.etag, self.coding(accepted))
    }

    /// The content itself, inflated from the gzip copy (a fraction of a millisecond).
    pub fn identity(&self) -> Vec<u8> {
        let mut content = Vec::with_capacity(self.length);
        // build.rs made it: it is gzip, and as long as it says.
        match gunzip(self.gzip, self.length.max(self.gzip.len()), &mut content) {
            Ok(()) => content,
            Err(_) => Vec::new(),
        }
    }

    /// A `200` of the representation `accepted` selects, as `media_type`: its content,
    /// `Content-Type`, `ETag` and `Content-Encoding` (not `Vary`: [`encode`] gives a JSON
    /// answer its own).
    pub fn answer(&self, accepted: &Accepted, media_type: &'static str) -> Response<Vec<u8>> {
        let coding = self.coding(accepted);
        let content = match coding {
            Coding::Br => self.br.to_vec(),
            Coding::Gzip => self.gzip.to_vec(),
            Coding::Identity => self.identity(),
        };
        let mut response = Response::new(content);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        if let Ok(tag) = HeaderValue::try_from(tag_in(self.etag, coding)) {
            headers.insert(header::ETAG, tag);
        }
        if coding != Coding::Identity {
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.token()),
            );
        }
        response
    }
}

/// Adds `Vary: Accept-Encoding`: the answer's content depends on it.
pub fn vary(headers: &mut HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
}

/// `content` as one gzip member (RFC 1952), deflated at level 1.
pub fn gzip(content: &[u8]) -> Vec<u8> {
    let deflated = miniz_oxide::deflate::compress_to_vec(content, 1);
    let mut member = Vec::with_capacity(deflated.len() + 18);
    // ID1 ID2, CM = deflate, no flags, no time, XFL = fastest, OS = unknown.
    member.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
    member.extend_from_slice(&deflated);
    member.extend_from_slice(&crc32(content).to_le_bytes());
    member.extend_from_slice(&(content.len() as u32).to_le_bytes());
    member
}

/// How a request body is encoded: identity, or gzip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyCoding {
    Identity,
    Gzip,
}

/// A request's `Content-Encoding`: none (or `identity`) and `gzip` are read, anything else
/// (another coding, several codings, several field lines) is `None`: `415`.
pub fn body_coding(headers: &HeaderMap) -> Option<BodyCoding> {
    let mut lines = headers.get_all(header::CONTENT_ENCODING).iter();
    let Some(line) = lines.next() else {
        return Some(BodyCoding::Identity);
    };
    if lines.next().is_some() {
        return None;
    }
    let value = line.to_str().ok()?.trim();
    if value.is_empty() || Coding::Identity.is_named(value) {
        Some(BodyCoding::Identity)
    } else if Coding::Gzip.is_named(value) {
        Some(BodyCoding::Gzip)
    } else {
        None
    }
}

/// Why a gzip body could not be read.
#[derive(Debug)]
pub enum GunzipError {
    /// The body itself (the host's stream) failed.
    Body(io::Error),
    /// The bytes are not gzip (or are cut short, or fail their CRC-32).
    NotGzip,
    /// The body, encoded or decoded, is past the limit.
    TooLarge,
}

/// Reads the gzip body `encoded` into `decoded`, at most `limit` bytes of each: where
/// either would exceed it, reading stops there (a gzip bomb is decoded no further than
/// `limit + 1` bytes) and the body is [`GunzipError::TooLarge`]. Several members are read
/// as one (RFC 1952 §2.2); each one's CRC-32 and length are checked.
pub fn gunzip(encoded: impl Read, limit: usize, decoded: &mut Vec<u8>) -> Result<(), GunzipError> {
    let mut bytes = Vec::new();
    encoded
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(GunzipError::Body)?;
    if bytes.len() > limit {
        return Err(GunzipError::TooLarge);
    }
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let deflated = rest
            .get(member_header_length(rest).ok_or(GunzipError::NotGzip)?..)
            .ok_or(GunzipError::NotGzip)?;
        let start = decoded.len();
        let used = inflate(deflated, limit, decoded)?;
        let trailer = deflated.get(used..used + 8).ok_or(GunzipError::NotGzip)?;
        let content = &decoded[start..];
        if trailer[..4] != crc32(content).to_le_bytes()
            || trailer[4..] != (content.len() as u32).to_le_bytes()
        {
            return Err(GunzipError::NotGzip);
        }
        rest = &deflated[used + 8..];
    }
    Ok(())
}

/// The length of the gzip member header at the start of `member` (RFC 1952 §2.3), if it is
/// one: deflate, no reserved flags, its optional fields skipped.
fn member_header_length(member: &[u8]) -> Option<usize> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    let fixed = member.get(..10)?;
    let flags = fixed[3];
    if fixed[..3] != [0x1f, 0x8b, 8] || flags & 0xe0 != 0 {
        return None;
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let length = member.get(at..at + 2)?;
        at += 2 + usize::from(u16::from_le_bytes([length[0], length[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += member.get(at..)?.iter().position(|&byte| byte == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    (at <= member.len()).then_some(at)
}

/// Inflates the raw deflate stream at the start of `deflated` onto `decoded`, never past
/// `limit + 1` bytes in all; gives how many bytes of `deflated` it took.
fn inflate(deflated: &[u8], limit: usize, decoded: &mut Vec<u8>) -> Result<usize, GunzipError> {
    use miniz_oxide::inflate::stream::{InflateState, inflate};
    use miniz_oxide::{DataFormat, MZFlush, MZStatus};
    let mut state = InflateState::new_boxed(DataFormat::Raw);
    let mut chunk = vec![0; 32 * 1024];
    let mut used = 0;
    loop {
        let room = (limit + 1 - decoded.len()).min(chunk.len());
        let step = inflate(
            &mut state,
            &deflated[used..],
            &mut chunk[..room],
            MZFlush::None,
        );
        used += step.bytes_consumed;
        decoded.extend_from_slice(&chunk[..step.bytes_written]);
        if decoded.len() > limit {
            return Err(GunzipError::TooLarge);
        }
        match step.status {
            Ok(MZStatus::StreamEnd) => return Ok(used),
            Ok(_) if step.bytes_consumed > 0 || step.bytes_written > 0 => {}
            // Malformed, or cut short: no progress is possible.
            _ => return Err(GunzipError::NotGzip),
        }
    }
}

/// CRC-32 as gzip uses it (ISO 3309; RFC 1952 §8), a byte at a time from a 1 KiB table.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, &byte| {
        TABLE[((c ^ u32::from(byte)) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(lines: &[&str]) -> Accepted {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header::ACCEPT_ENCODING, line.parse().unwrap());
        }
        Accepted::parse(&headers)
    }

    const BIG: usize = MIN_COMPRESSED_BYTES;
    const SMALL: usize = MIN_COMPRESSED_BYTES - 1;

    #[test]
    fn accept_encoding_is_negotiated_as_rfc_9110_says() {
        use Coding::{Br, Gzip, Identity};
        let dynamic = [Gzip];
        let stored = [Br, Gzip];
        // (field lines, what dynamic content of BIG bytes gets, what the stored document gets)
        let table: &[(&[&str], Coding, Coding)] = &[
            (&[], Identity, Identity),
            (&[""], Identity, Identity),
            (&["gzip"], Gzip, Gzip),
            (&["GZip"], Gzip, Gzip),
            (&["x-gzip"], Gzip, Gzip),
            (&["br"], Identity, Br),
            (&["gzip, br"], Gzip, Br),
            (&["gzip;q=1.0, br;q=0.5"], Gzip, Gzip),
            (&["gzip;q=0"], Identity, Identity),
            (&["gzip ; q=0.000"], Identity, Identity),
            (&["*"], Gzip, Br),
            (&["*;q=0.5, gzip;q=0"], Identity, Br),
            (&["deflate, compress"], Identity, Identity),
            (&["gzip;q=0.5, identity"], Identity, Identity),
            (&["gzip;q=0.5, identity;q=0.5"], Gzip, Gzip),
            (&["identity;q=0"], Identity, Identity),
            (&["gzip", "br;q=0.9"], Gzip, Gzip),
            (&["br;q=0.9", "gzip;q=0.8"], Gzip, Br),
            // Malformed: no compression at all.
            (&["gzip;q=2"], Identity, Identity),
            (&["gzip;q=0.5.1"], Identity, Identity),
            (&["gzip;level=9"], Identity, Identity),
            (&["gz ip"], Identity, Identity),
        ];
        for (lines, for_dynamic, for_stored) in table {
            let accepted = accepted(lines);
            assert_eq!(accepted.choose(&dynamic, BIG), *for_dynamic, "{lines:?}");
            assert_eq!(accepted.choose(&stored, BIG), *for_stored, "{lines:?}");
        }
    }

    #[test]
    fn small_content_goes_out_as_it_is_unless_identity_is_refused() {
        assert_eq!(
            accepted(&["gzip"]).choose(&[Coding::Gzip], SMALL),
            Coding::Identity
        );
        for refused in ["gzip, identity;q=0", "gzip, *;q=0"] {
            assert_eq!(
                accepted(&[refused]).choose(&[Coding::Gzip], SMALL),
                Coding::Gzip,
                "{refused}"
            );
        }
        // Refused, and nothing else acceptable: identity all the same.
        assert_eq!(
            accepted(&["identity;q=0"]).choose(&[Coding::Gzip], BIG),
            Coding::Identity
        );
    }

    #[test]
    fn each_coding_has_its_own_tag() {
        assert_eq!(tag_in("\"3\"", Coding::Identity), "\"3\"");
        assert_eq!(tag_in("\"3\"", Coding::Gzip), "\"3-gzip\"");
        assert_eq!(tags_of_every_coding("\"7\""), ["\"7\"", "\"7-gzip\""]);
    }

    #[test]
    fn request_codings_are_gzip_or_none() {
        let coding = |lines: &[&str]| {
            let mut headers = HeaderMap::new();
            for line in lines {
                headers.append(header::CONTENT_ENCODING, line.parse().unwrap());
            }
            body_coding(&headers)
        };
        assert_eq!(coding(&[]), Some(BodyCoding::Identity));
        assert_eq!(coding(&["identity"]), Some(BodyCoding::Identity));
        assert_eq!(coding(&["GZIP"]), Some(BodyCoding::Gzip));
        assert_eq!(coding(&["x-gzip"]), Some(BodyCoding::Gzip));
        for unsupported in [
            &["br"][..],
            &["deflate"],
            &["gzip, gzip"],
            &["gzip", "gzip"],
        ] {
            assert_eq!(coding(unsupported), None, "{unsupported:?}");
        }
    }

    #[test]
    fn gzip_is_gzip_as_another_implementation_reads_and_writes_it() {
        use std::io::Write;
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let content = br#"{"title":"a todo","isComplete":false}"#.repeat(50);
        let mut read = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&content)[..])
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(read, content);
        // What flate2 writes, a file name and a header CRC included, reads back.
        let mut encoder = flate2::GzBuilder::new()
            .filename("todos.json")
            .comment("made elsewhere")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), flate2::Compression::best());
        encoder.write_all(&content).unwrap();
        let written = encoder.finish().unwrap();
        let mut decoded = Vec::new();
        gunzip(&written[..], 100_000, &mut decoded).unwrap();
        assert_eq!(decoded, content);
        // A flipped byte in the content's CRC-32 is not gzip.
        let mut corrupt = gzip(&content);
        let at = corrupt.len() - 6;
        corrupt[at] ^= 1;
        decoded.clear();
        assert!(matches!(
            gunzip(&corrupt[..], 100_000, &mut decoded),
            Err(GunzipError::NotGzip)
        ));
    }

    #[test]
    fn gzip_round_trips_and_a_bomb_stops_at_the_limit() {
        let content = br#"{"title":"a todo"}"#.repeat(100);
        let mut decoded = Vec::new();
        gunzip(&gzip(&content)[..], content.len(), &mut decoded).unwrap();
        assert_eq!(decoded, content);
        // Two members read as one.
        let two = [gzip(b"{\"title\":"), gzip(b"\"a\"}")].concat();
        decoded.clear();
        gunzip(&two[..], 100, &mut decoded).unwrap();
        assert_eq!(decoded, b"{\"title\":\"a\"}");
        // 64 MiB of zeros in ~64 KiB of gzip: decoded no further than the limit.
        let bomb = gzip(&vec![0; 64 << 20]);
        for limit in [1000, 100_000] {
            decoded.clear();
            assert!(matches!(
                gunzip(&bomb[..], limit, &mut decoded),
                Err(GunzipError::TooLarge)
            ));
            assert!(decoded.len() <= limit + 1, "{}", decoded.len());
        }
        // Not gzip, or cut short.
        let whole = gzip(&content);
        for broken in [&b"{\"title\":\"a\"}"[..], &whole[..whole.len() - 4]] {
            decoded.clear();
            assert!(matches!(
                gunzip(broken, 10_000, &mut decoded),
                Err(GunzipError::NotGzip)
            ));
        }
    }
}
