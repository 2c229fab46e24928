//! Parsing what a request names (path segments, query parameters, headers, body fields) into
//! the domain's types, with the problem each failure is: a path segment that names nothing is
//! 404, a bad parameter, header or field is 422 on that field.

use axum::http::{header, HeaderMap};
use chrono::NaiveDate;
use motcua_engine::domain::types::{DossierCode, ParseError, PlanId, TaskId, Timestamp};

use crate::errors::ApiError;

/// A dossier code from the path.
pub fn code(code: &str) -> Result<DossierCode, ApiError> {
    code.parse()
        .map_err(|e: ParseError| ApiError::NotFound(e.to_string()))
}

/// A plan id from the path.
pub fn plan(s: &str) -> Result<PlanId, ApiError> {
    s.parse()
        .map_err(|e: ParseError| ApiError::NotFound(e.to_string()))
}

/// A task id from the path.
pub fn task(s: &str) -> Result<TaskId, ApiError> {
    s.parse()
        .map_err(|e: ParseError| ApiError::NotFound(e.to_string()))
}

/// `s` as a `T`, or 422 on `field`.
pub fn field<T: std::str::FromStr>(field: &str, s: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e: T::Err| ApiError::validation(field, e.to_string()))
}

/// An optional value (absent or empty: `None`), or 422 on `field`.
pub fn optional<T: std::str::FromStr>(
    field_name: &str,
    v: &Option<String>,
) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => field(field_name, s).map(Some),
    }
}

/// A non-blank string, or 422 "required" on `field`.
pub fn required(field: &str, v: Option<String>) -> Result<String, ApiError> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(ApiError::validation(field, "required")),
    }
}

/// A date `YYYY-MM-DD`, or 422 on `field`.
pub fn date(field: &str, s: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ApiError::validation(field, "expected YYYY-MM-DD"))
}

/// An instant in RFC 3339, or 422 on `field`.
pub fn instant(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Timestamp::from_utc(t.with_timezone(&chrono::Utc)))
        .map_err(|_| ApiError::validation(field, "expected RFC 3339"))
}

/// What an `If-Match` header asks (RFC 9110, 13.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current representation. On an existing resource no version is checked; on a
    /// missing one the precondition fails (412).
    Any,
    /// An ETag (the stream version): the write is exact on it.
    Version(u64),
}

impl IfMatch {
    /// The version the write must find, if any (`*` checks none: existence is checked apart).
    pub fn version(self) -> Option<u64> {
        match self {
            IfMatch::Any => None,
            IfMatch::Version(v) => Some(v),
        }
    }
}

/// `If-Match: "7"` (or `7`, or `W/"7"`) -> version 7; `If-Match: *` -> any.
pub fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| ApiError::validation("If-Match", "not ASCII"))?
        .trim();
    if s == "*" {
        return Ok(Some(IfMatch::Any));
    }
    let s = s.trim_start_matches("W/").trim_matches('"');
    s.parse::<u64>()
        .map(|v| Some(IfMatch::Version(v)))
        .map_err(|_| {
            ApiError::validation(
                "If-Match",
                "expected * or the ETag of GET /v1/dossiers/{code}",
            )
        })
}

/// `e`, or 412 `nothing-to-match` when the request sent `If-Match: *` and `e` says the
/// resource (`what`) does not exist.
pub fn missing_under_any(e: ApiError, if_match: Option<IfMatch>, what: &str) -> ApiError {
    match (e, if_match) {
        (ApiError::NotFound(_), Some(IfMatch::Any)) => ApiError::NothingToMatch(what.to_owned()),
        (e, _) => e,
    }
}

/// The SHA-256 identifying a write that names a resource in its path: the body's hash with the
/// path's parts, so one `Idempotency-Key` reused on another resource is another request.
pub fn fingerprint(body_sha256: [u8; 32], parts: &[&str]) -> [u8; 32] {
    let mut input = body_sha256.to_vec();
    for p in parts {
        input.extend_from_slice(p.as_bytes());
    }
    crate::crypto::sha256(&input)
}
