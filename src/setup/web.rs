//! `--element-web`: Element Web on a host of its own, and `--base-redirect`: where the
//! server name's host sends everything that is not a well-known document.

use std::str::FromStr;

use serde::Serialize;

use super::{Host, Invalid, SafePath, Upstream, describe_char, first_unsafe_char};

/// `--element-web`: the host Element Web answers on and what serves its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementWeb {
    pub host: Host,
    pub served: ElementWebServed,
}

/// The proxy serves the unpacked release from a folder (`--element-web-root`), or
/// forwards to Element's own server, its Docker image (`--element-web-upstream`; the
/// compose stack's `element-web` service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementWebServed {
    Files(SafePath),
    Upstream(Upstream),
}

/// `--base-redirect`: the server name's host answers every path but
/// `/.well-known/matrix/*` with a redirect (ESS's `wellKnownDelegation.baseDomainRedirect`,
/// charts/matrix-stack/configs/well-known/partial-haproxy.cfg.tpl), to Element Web's host
/// or to a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum BaseRedirect {
    ElementWeb,
    Url(RedirectUrl),
}

/// The word that selects Element Web's host rather than a URL.
pub const BASE_REDIRECT_ELEMENT_WEB: &str = "element-web";

impl FromStr for BaseRedirect {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        if value == BASE_REDIRECT_ELEMENT_WEB {
            return Ok(BaseRedirect::ElementWeb);
        }
        value.parse().map(BaseRedirect::Url)
    }
}

impl std::fmt::Display for BaseRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaseRedirect::ElementWeb => f.write_str(BASE_REDIRECT_ELEMENT_WEB),
            BaseRedirect::Url(url) => url.fmt(f),
        }
    }
}

string_serde!(BaseRedirect);

/// An absolute http(s) URL, printed into every proxy's config as a redirect target: parsed
/// (and normalised) by the `url` crate, and held to characters that cannot end a token or
/// start a comment in any of the formats; `%` is refused too, since nginx, Apache and
/// HAProxy would each read a `%xx` sequence in their own way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct RedirectUrl(String);

impl RedirectUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RedirectUrl {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        const EXAMPLE: &str = "https://www.example.com/ (or element-web)";
        if let Some(c) = first_unsafe_char(value).or(value.chars().find(|&c| c == '%')) {
            return Err(Invalid::new(
                format!(
                    "contains {}, which would break the redirect line in a proxy's config",
                    describe_char(c)
                ),
                EXAMPLE,
            ));
        }
        if value.len() > 2048 {
            return Err(Invalid::new(
                format!("is {} characters long; at most 2048", value.len()),
                EXAMPLE,
            ));
        }
        let url = url::Url::parse(value).map_err(|e| {
            Invalid::new(
                format!("is not an absolute URL ({e}); give the scheme and host"),
                EXAMPLE,
            )
        })?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(Invalid::new(
                format!(
                    "is a {} URL; a browser follows a redirect to an http(s) URL with a host",
                    url.scheme()
                ),
                EXAMPLE,
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Invalid::new(
                "carries a user name or password, which every visitor would receive",
                EXAMPLE,
            ));
        }
        // The serialised form can differ (a lower-cased host, punycode, `/` added after
        // the host); check it again, since that is what is printed.
        let normal = url.as_str();
        if let Some(c) = first_unsafe_char(normal).or(normal.chars().find(|&c| c == '%')) {
            return Err(Invalid::new(
                format!(
                    "becomes {normal} as a URL, which contains {}",
                    describe_char(c)
                ),
                EXAMPLE,
            ));
        }
        Ok(RedirectUrl(normal.to_string()))
    }
}

string_serde!(RedirectUrl(String));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::testing::{accepts, refuses};

    #[test]
    fn http_urls_are_accepted_in_their_normal_form() {
        for (value, normal) in [
            ("https://www.example.com/", "https://www.example.com/"),
            ("https://www.example.com", "https://www.example.com/"),
            ("https://WWW.Example.com/a/b", "https://www.example.com/a/b"),
            (
                "http://example.com:8080/x?y=1",
                "http://example.com:8080/x?y=1",
            ),
            ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ] {
            let url: RedirectUrl = accepts(value);
            assert_eq!(url.as_str(), normal, "{value}");
        }
        assert_eq!(
            accepts::<BaseRedirect>("element-web"),
            BaseRedirect::ElementWeb
        );
        assert_eq!(
            accepts::<BaseRedirect>("https://chat.example.com").to_string(),
            "https://chat.example.com/"
        );
    }

    #[test]
    fn urls_that_could_break_a_config_line_or_leak_are_refused() {
        const EXAMPLE: &str = "https://www.example.com/ (or element-web)";
        const BREAK: &str = "which would break the redirect line in a proxy's config";
        for (value, reason) in [
            ("https://a.example/ x", format!("contains a space, {BREAK}")),
            ("https://a.example/;x", format!("contains `;`, {BREAK}")),
            ("https://a.example/\"", format!("contains `\"`, {BREAK}")),
            ("https://a.example/'", format!("contains `'`, {BREAK}")),
            ("https://a.example/$host", format!("contains `$`, {BREAK}")),
            ("https://a.example/#x", format!("contains `#`, {BREAK}")),
            ("https://a.example/%41", format!("contains `%`, {BREAK}")),
            (
                "https://a.example/\nx",
                format!("contains a newline, {BREAK}"),
            ),
            ("https://a.example/{x}", format!("contains `{{`, {BREAK}")),
            (
                "chat.example.com",
                "is not an absolute URL (relative URL without a base); give the scheme and host"
                    .into(),
            ),
            (
                "ftp://example.com/",
                "is a ftp URL; a browser follows a redirect to an http(s) URL with a host".into(),
            ),
            (
                "https://user:pw@example.com/",
                "carries a user name or password, which every visitor would receive".into(),
            ),
            (
                "https://example.com/café",
                "becomes https://example.com/caf%C3%A9 as a URL, which contains `%`".into(),
            ),
        ] {
            refuses::<RedirectUrl>(value, &reason, EXAMPLE);
        }
    }
}
