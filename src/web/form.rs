//! A submitted form as name → value pairs, in the order sent (`application/x-www-form-urlencoded`).
//!
//! Parsed here rather than by `web::Form`, whose decoder turns bytes that are not UTF-8 into
//! U+FFFD: a form with such bytes (percent-encoded or raw) is refused with a 400 page, as the
//! API refuses such JSON, so nothing altered is ever recorded.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;

use super::error::WebError;
use crate::http::error::ApiError;
use crate::http::extract::BODY_LIMIT;

#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

/// Decodes one name or value: `+` is a space, `%XX` a byte (a `%` not followed by two hex
/// digits stays as it is); the bytes must be UTF-8.
fn decode(text: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        let hex = |j: usize| text.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Fields {
    /// Parses an `application/x-www-form-urlencoded` body; `None` if a name or value is not
    /// UTF-8 once decoded.
    pub fn parse(body: &[u8]) -> Option<Self> {
        body.split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(at) => (&pair[..at], &pair[at + 1..]),
                    None => (pair, &pair[pair.len()..]),
                };
                Some((decode(name)?, decode(value)?))
            })
            .collect::<Option<Vec<_>>>()
            .map(Fields)
    }
}

/// Reads a form body of at most `limit` bytes.
fn read_form(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
    limit: usize,
) -> Pin<Box<dyn Future<Output = Result<Fields, WebError>>>> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let mut payload = payload.take();
    Box::pin(async move {
        if !is_form {
            return Err(WebError::bad_request(
                "send the form as application/x-www-form-urlencoded".into(),
            ));
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| WebError::bad_request(format!("reading form: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit }.into());
            }
            body.extend_from_slice(&chunk);
        }
        Fields::parse(&body).ok_or_else(|| {
            WebError::bad_request(
                "the form is not valid UTF-8; nothing was recorded. Check the entries and send it again"
                    .into(),
            )
        })
    })
}

impl FromRequest for Fields {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        read_form(req, payload, BODY_LIMIT)
    }
}

/// The largest form carrying a whole protocol file: the file itself may be as large as the
/// API accepts ([`BODY_LIMIT`]), and percent-encoding can triple it.
pub const LARGE_FORM_LIMIT: usize = 4 * BODY_LIMIT;

/// A form that may be up to [`LARGE_FORM_LIMIT`] bytes (the protocol amendment's).
pub struct LargeFields(pub Fields);

impl FromRequest for LargeFields {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let read = read_form(req, payload, LARGE_FORM_LIMIT);
        Box::pin(async move { read.await.map(LargeFields) })
    }
}

impl Fields {
    #[cfg(test)]
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }

    /// The first value sent under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every non-blank value sent under `name` (checkboxes of one name).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value sent under `name`, or "".
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The trimmed value, or `None` when blank.
    pub fn filled(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Adds a value under `name` next to any it has (checkboxes of one name).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_string(), value.into()));
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name.to_string(), value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
        Fields::parse(body).map(|f| f.0)
    }

    #[test]
    fn decodes_like_a_browser_sends() {
        let p = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            pairs(b"a=1&b=x+y%2Bz&&c&d=&e=%C3%BC%zz%4").unwrap(),
            [
                p("a", "1"),
                p("b", "x y+z"),
                p("c", ""),
                p("d", ""),
                p("e", "ü%zz%4")
            ]
        );
        assert_eq!(pairs(b"a.b%5B0%5D=%3D").unwrap(), [p("a.b[0]", "=")]);
        assert_eq!(pairs("n=é".as_bytes()).unwrap(), [p("n", "é")]);
        assert_eq!(pairs(b"").unwrap(), []);
    }

    #[test]
    fn refuses_what_is_not_utf8() {
        for body in [
            &b"a=%FF"[..],
            b"a=%C3",
            b"a=ok&b=%ED%A0%80",
            b"%FF=1",
            b"a=\xff",
            b"a=%C3+",
        ] {
            assert!(pairs(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }
}
