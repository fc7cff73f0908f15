//! Writing the seed catalog as a `glimpse db import` file instead of POSTing it.
//!
//! Seeding through the API runs at a few hundred to a thousand images a second on a small
//! machine (every create is a durable commit), so a million images take most of an hour. The
//! same images, written in the catalog export format and loaded with `glimpse db import`
//! (batched transactions), take a few minutes; the scenarios then run over HTTP as usual.
//! Only glimpse can load such a file; other registries are seeded with `--images N`.

use crate::catalog;
use crate::rng::Rng;
use serde_json::{Value, json};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;
use time::OffsetDateTime;
use time::macros::format_description;

/// The id of image number `i`: a random (version 4) UUID drawn from `(seed, i)`, so the same
/// seed gives the same catalog on every backend.
pub fn image_id(seed: u64, i: u64) -> String {
    let mut r = Rng::derive(seed ^ 0x1d5_c47a_106e, i);
    let bytes = ((r.next_u64() as u128) << 64 | r.next_u64() as u128).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// One line of the file: image `i` as the API would have stored it, created `i` milliseconds
/// after `start`.
fn record(seed: u64, i: u64, start: OffsetDateTime) -> Result<Value, String> {
    let id = image_id(seed, i);
    let Value::Object(mut body) = catalog::image_body(seed, i, &id, true) else {
        return Err("the generated image is not an object".into());
    };
    let Some(Value::Object(mut image)) = body.remove("image") else {
        return Err("the generated body has no image".into());
    };
    let at = (start + time::Duration::milliseconds(i as i64))
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
        ))
        .map_err(|e| format!("formatting a timestamp: {e}"))?;
    for field in ["size", "virtual_size", "checksum", "location", "owner"] {
        image.entry(field).or_insert(Value::Null);
    }
    image.insert("created_at".into(), Value::from(at.clone()));
    image.insert("updated_at".into(), Value::from(at));
    image.insert("deleted_at".into(), Value::Null);
    image.insert("deleted".into(), Value::from(false));
    Ok(json!({ "image": image, "version": 1, "members": [] }))
}

/// Writes images `0..count` to `path` (one JSON object a line) and their ids to `ids_path`,
/// printing progress to stderr. Returns how many were written.
pub fn write(path: &Path, ids_path: Option<&Path>, count: u64, seed: u64) -> Result<u64, String> {
    let open = |p: &Path| {
        std::fs::File::create(p)
            .map(BufWriter::new)
            .map_err(|e| format!("creating {}: {e}", p.display()))
    };
    let mut out = open(path)?;
    let mut ids = ids_path.map(open).transpose()?;
    // Created over the last `count` milliseconds, oldest first.
    let start = OffsetDateTime::now_utc() - time::Duration::milliseconds(count as i64);
    let begun = Instant::now();
    let mut last = Instant::now();
    let werr = |e: std::io::Error| format!("writing {}: {e}", path.display());
    for i in 0..count {
        let line = record(seed, i, start)?;
        serde_json::to_writer(&mut out, &line).map_err(|e| format!("JSON: {e}"))?;
        out.write_all(b"\n").map_err(werr)?;
        if let Some(ids) = ids.as_mut() {
            let id = line["image"]["id"].as_str().unwrap_or_default();
            writeln!(ids, "{id}").map_err(|e| format!("writing the ids: {e}"))?;
        }
        if last.elapsed().as_secs() >= 5 {
            eprintln!("writing the catalog: {i}/{count} images");
            last = Instant::now();
        }
    }
    out.flush().map_err(werr)?;
    if let Some(mut ids) = ids {
        ids.flush().map_err(|e| format!("writing the ids: {e}"))?;
    }
    eprintln!(
        "wrote {count} images to {} in {:.1}s; load them with: glimpse db import --database URL < {}",
        path.display(),
        begun.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_valid_v4_uuids_and_repeatable() {
        let a: Vec<String> = (0..1000).map(|i| image_id(7, i)).collect();
        let set: std::collections::HashSet<&String> = a.iter().collect();
        assert_eq!(set.len(), 1000);
        for id in &a {
            let u = uuid::Uuid::parse_str(id).map_err(|e| e.to_string());
            assert_eq!(u.map(|u| u.get_version_num()), Ok(4), "{id}");
        }
        assert_eq!(image_id(7, 3), a[3]);
        assert_ne!(image_id(8, 3), a[3]);
    }

    #[test]
    fn records_are_complete_and_ordered_by_creation() {
        let start = OffsetDateTime::now_utc();
        let r0 = record(1, 0, start).map_err(|e| e.to_string());
        let r1 = record(1, 1, start).map_err(|e| e.to_string());
        let (Ok(r0), Ok(r1)) = (r0, r1) else {
            panic!("records could not be built");
        };
        for field in ["size", "owner", "created_at", "deleted", "deleted_at"] {
            assert!(r0["image"].get(field).is_some(), "{field} missing");
        }
        assert!(r0["image"]["created_at"].as_str() < r1["image"]["created_at"].as_str());
        assert_eq!(r0["version"], 1);
        assert_eq!(r1["image"]["properties"]["build_id"], catalog::build_id(1));
    }
}
