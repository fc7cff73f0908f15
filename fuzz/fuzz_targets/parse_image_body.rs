//! Request-body parsing and validation: any bytes give an image or an error, never a panic.
#![no_main]
use glimpse::domain::input::{Rules, parse_image_body};
use glimpse::domain::{Caller, Image, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rules = Rules::default();
    for create in [true, false] {
        if let Ok(body) = parse_image_body(data, &rules, create) {
            let _ = Image::create(body.image, &Caller::anonymous_admin(), Timestamp::now(), &rules);
        }
    }
    let _ = glimpse::domain::member::parse_memberships(data);
    let _ = glimpse::domain::member::parse_member_body(data);
});
