//! Forwarding by domain: the names under a configured domain (an internal `corp.example`, a
//! lab's `home.arpa`) go to that domain's own upstreams, the most specific domain winning; all
//! other names to the default upstreams. A domain forwarded with `dnssec = "off"` is insecure by
//! policy (Unbound's `domain-insecure`): its answers are passed on unvalidated, without AD, and
//! `trace` says so. Otherwise answers are validated as usual, and the key lookups for names
//! under the domain go to its upstreams too.

use lookaside_dnssec::name::Name;

use crate::upstream::Upstreams;

/// One forwarded domain.
pub struct Forward {
    /// Names at or below this one are forwarded.
    pub domain: Name,
    /// Where to.
    pub upstreams: Upstreams,
    /// False for `dnssec = "off"`: answers are insecure by policy, not validated.
    pub validate: bool,
}

/// The forwarded domains, most specific first.
#[derive(Default)]
pub struct Forwards {
    list: Vec<Forward>,
}

impl Forwards {
    /// The forwards, ordered so that the most specific domain is found first.
    pub fn new(mut list: Vec<Forward>) -> Self {
        list.sort_by_key(|f| std::cmp::Reverse(f.domain.label_count()));
        Self { list }
    }

    /// The forward that `name` falls under, if any.
    pub fn for_name(&self, name: &Name) -> Option<&Forward> {
        self.list.iter().find(|f| name.is_at_or_below(&f.domain))
    }

    /// Every forward, most specific first.
    pub fn iter(&self) -> impl Iterator<Item = &Forward> {
        self.list.iter()
    }

    /// True when nothing is forwarded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(d: &str, validate: bool) -> Forward {
        Forward { domain: Name::parse(d).unwrap(), upstreams: Upstreams::new(vec![]), validate }
    }

    #[test]
    fn the_most_specific_domain_wins() {
        let f = Forwards::new(vec![fwd("example.", true), fwd("corp.example.", false), fwd("lab.", true)]);
        let at = |n: &str| f.for_name(&Name::parse(n).unwrap()).map(|f| f.domain.to_string());
        assert_eq!(at("www.corp.example."), Some("corp.example.".into()));
        assert_eq!(at("CORP.example."), Some("corp.example.".into()));
        assert_eq!(at("www.example."), Some("example.".into()));
        assert_eq!(at("xcorp.example."), Some("example.".into()));
        assert_eq!(at("example.org."), None);
    }
}
