//! List-query parsing: any query string gives a query or a 400, never a panic.
#![no_main]
use glimpse::domain::Caller;
use glimpse::domain::query::{ListQuery, PageLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    for caller in [Caller::anonymous_admin(), Caller::authenticated(Some("t".into()), None, vec![], true)] {
        let _ = ListQuery::parse(&pairs, &caller, PageLimits::default());
    }
});
