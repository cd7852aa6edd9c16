//! The compose stack's service names: each service the proxy reaches is named after the
//! host its upstream names (`Upstream::compose_service`), so two upstreams, or an upstream
//! and a service the stack names itself, must not name the same one.

use super::layer::{Layers, SetupLayer, Source};
use super::merge::named;
use crate::defaults::{
    CERTBOT_SERVICE, COMPOSE_SERVICE, ELEMENT_WEB_SERVICE, LIVEKIT_COMPOSE_SERVICE,
    MAS_COMPOSE_SERVICE, MAS_DATABASE_SERVICE, RTC_AUTH_COMPOSE_SERVICE,
};
use crate::error::Error;
use crate::setup::{Setup, Upstream};

/// One service the proxy reaches: what names it, and its name when the upstream names none.
struct Reached<'a> {
    flag: &'static str,
    key: &'static str,
    /// The flag as a refusal names it when neither layer gave it.
    unset: &'static str,
    what: &'static str,
    upstream: &'a Upstream,
    default: &'static str,
    given: Option<Source>,
}

impl Reached<'_> {
    fn service(&self) -> String {
        self.upstream.compose_service(self.default)
    }

    fn flag(&self) -> &'static str {
        match self.given {
            Some(source) => named(source, self.flag, self.key),
            None => self.unset,
        }
    }

    fn refused(&self, taken_by: String) -> Error {
        Error::ComposeServiceTaken {
            flag: self.flag(),
            upstream: self.upstream.to_string(),
            service: self.service(),
            taken_by,
            example: format!("{}:{}", self.default, self.upstream.port),
        }
    }
}

pub(super) fn service_names(layers: &Layers, setup: &Setup) -> Result<(), Error> {
    if !setup.compose {
        return Ok(());
    }
    let given = |key: fn(&SetupLayer) -> &Option<Upstream>| layers.pick(key).map(|(_, s)| s);
    let mut reached = vec![Reached {
        flag: "--upstream",
        key: "upstream:",
        unset: "--upstream (default)",
        what: "the homeserver's",
        upstream: &setup.upstream,
        default: COMPOSE_SERVICE,
        given: given(|l| &l.upstream),
    }];
    if let Some(mas) = &setup.mas {
        reached.push(Reached {
            flag: "--mas-upstream",
            key: "mas_upstream:",
            unset: "--mas-upstream (default)",
            what: "MAS's",
            upstream: &mas.upstream,
            default: MAS_COMPOSE_SERVICE,
            given: given(|l| &l.mas_upstream),
        });
    }
    if let Some(rtc) = &setup.rtc {
        reached.push(Reached {
            flag: "--livekit-upstream",
            key: "livekit_upstream:",
            unset: "--livekit-upstream (default)",
            what: "LiveKit's",
            upstream: &rtc.livekit,
            default: LIVEKIT_COMPOSE_SERVICE,
            given: given(|l| &l.livekit_upstream),
        });
        reached.push(Reached {
            flag: "--rtc-auth-upstream",
            key: "rtc_auth_upstream:",
            unset: "--rtc-auth-upstream (default)",
            what: "the authorization service's",
            upstream: &rtc.auth,
            default: RTC_AUTH_COMPOSE_SERVICE,
            given: given(|l| &l.rtc_auth_upstream),
        });
    }
    // The services the stack names itself, whether or not this setup has each one.
    let own = [
        (setup.proxies[0].name(), "the proxy's"),
        (CERTBOT_SERVICE, "certbot's"),
        (ELEMENT_WEB_SERVICE, "Element Web's"),
        (MAS_DATABASE_SERVICE, "MAS's database's"),
    ];
    for (index, this) in reached.iter().enumerate() {
        let service = this.service();
        if let Some((_, what)) = own.iter().find(|(name, _)| *name == service) {
            return Err(this.refused((*what).into()));
        }
        for other in &reached[..index] {
            if other.service() != service {
                continue;
            }
            // The one given by hand is the one to change.
            let (blamed, kept) = if this.given.is_some() {
                (this, other)
            } else {
                (other, this)
            };
            return Err(blamed.refused(format!(
                "{} ({} {})",
                kept.what,
                kept.flag(),
                kept.upstream
            )));
        }
    }
    Ok(())
}
