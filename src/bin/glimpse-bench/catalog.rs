//! Realistic image metadata: what a cloud's catalog looks like (distribution images in a few
//! versions and variants, snapshots, mostly qcow2 and raw, sizes from a few MiB to tens of GiB,
//! 3 to 10 properties, a mix of public and private images spread over many tenants).
//!
//! Image number `i` of a run is generated from `(seed, i)` alone, so the filters of the
//! scenarios can ask for values the catalog is known to contain.

use crate::rng::Rng;
use serde_json::{Map, Value, json};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Distributions, their weights, and the versions each ships.
const DISTROS: &[((&str, &[&str]), u32)] = &[
    (("ubuntu", &["18.04", "20.04", "22.04", "24.04"]), 30),
    (("debian", &["10", "11", "12"]), 12),
    (("centos", &["7", "8-stream", "9-stream"]), 10),
    (("rhel", &["8.8", "9.2", "9.4"]), 10),
    (("rocky", &["8.9", "9.3"]), 8),
    (("fedora", &["38", "39", "40"]), 6),
    (("opensuse", &["15.5", "15.6"]), 4),
    (("windows", &["2019", "2022"]), 8),
    (("cirros", &["0.5.2", "0.6.2"]), 6),
    (("alpine", &["3.18", "3.19", "3.20"]), 6),
];

const VARIANTS: &[&str] = &["server-cloudimg", "minimal", "genericcloud", "gpu"];

const ARCHES: &[(&str, u32)] = &[("x86_64", 80), ("aarch64", 15), ("ppc64le", 5)];

/// (disk_format, container_format, weight). The ami/ari/aki pairs keep the registry's rule
/// that those formats come in equal pairs.
const FORMATS: &[((&str, &str), u32)] = &[
    (("qcow2", "bare"), 50),
    (("raw", "bare"), 22),
    (("vmdk", "bare"), 5),
    (("vmdk", "ovf"), 3),
    (("vhd", "bare"), 4),
    (("vhdx", "bare"), 2),
    (("iso", "bare"), 7),
    (("vdi", "bare"), 2),
    (("ami", "ami"), 3),
    (("aki", "aki"), 1),
    (("ari", "ari"), 1),
];

/// Properties an image may carry besides the three every image has.
const OPTIONAL_KEYS: &[&str] = &[
    "os_version",
    "hw_disk_bus",
    "hw_vif_model",
    "hypervisor_type",
    "image_type",
    "description",
    "owner_team",
    "hw_qemu_guest_agent",
    "os_admin_user",
    "hw_scsi_model",
    "os_require_quiesce",
];

pub const HYPERVISORS: &[&str] = &["kvm", "qemu", "xen", "vmware", "hyperv"];

/// The number of distinct owners of seeded images.
pub const TENANTS: u64 = 200;

/// A Keystone-style project id for tenant number `n`.
pub fn tenant_id(n: u64) -> String {
    let mut r = Rng::derive(0x7e7a_4e75, n);
    r.hex(32)
}

/// `bench_half` of image `i`: `even` or `odd`, each on half of the catalog.
pub fn half(i: u64) -> &'static str {
    if i.is_multiple_of(2) { "even" } else { "odd" }
}

/// `bench_cohort` of image `i`: one of 100 values, each on 1 % of the catalog.
pub fn cohort(i: u64) -> String {
    format!("c{:02}", i % 100)
}

/// The value of the `build_id` property of image number `i` (unique per image).
pub fn build_id(i: u64) -> String {
    format!("b{i:08}")
}

/// One of the names shared by many images (`<distro>-<version>-<variant>-<arch>`).
pub fn common_name(r: &mut Rng) -> String {
    let (distro, versions) = r.weighted(DISTROS);
    let version = r.pick(versions);
    let variant = r.pick(VARIANTS);
    let arch = r.weighted(ARCHES);
    format!("{distro}-{version}-{variant}-{arch}")
}

/// A `property-<key>=<value>` filter that some seeded images match: a frequent value, a rare
/// one or a unique one, so the scenario covers the range of selectivity.
pub fn property_filter(r: &mut Rng, catalog_size: u64) -> (String, String) {
    match r.below(5) {
        0 => ("os_distro".into(), "ubuntu".into()),
        1 => {
            let (distro, _) = r.weighted(DISTROS);
            ("os_distro".into(), (*distro).into())
        }
        2 => ("architecture".into(), "aarch64".into()),
        3 => ("hypervisor_type".into(), (*r.pick(HYPERVISORS)).into()),
        _ => ("build_id".into(), build_id(r.below(catalog_size.max(1)))),
    }
}

/// A size window `(min, max)` in bytes, log-uniform, a factor of 4 wide.
pub fn size_window(r: &mut Rng) -> (u64, u64) {
    let lo = log_uniform(r, 8 * MIB, 16 * GIB);
    (lo, lo * 4)
}

fn log_uniform(r: &mut Rng, lo: u64, hi: u64) -> u64 {
    let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
    (a + (b - a) * r.unit()).exp() as u64
}

/// The `{"image": {...}}` body of image number `i`, with a client-chosen id.
pub fn image_body(seed: u64, i: u64, id: &str, tenant_as_owner: bool) -> Value {
    let mut r = Rng::derive(seed, i);
    let (distro, versions) = r.weighted(DISTROS);
    let version = r.pick(versions);
    let arch = r.weighted(ARCHES);
    let snapshot = r.chance(0.15);
    let name = if snapshot {
        format!("snapshot-{}-{}", distro, r.hex(8))
    } else {
        format!("{distro}-{version}-{}-{arch}", r.pick(VARIANTS))
    };
    let (disk, container) = r.weighted(FORMATS);
    let status = *r.weighted(&[("active", 96), ("queued", 3), ("saving", 1)]);
    let size = log_uniform(&mut r, 12 * MIB, 40 * GIB);
    let virtual_size = if *disk == "qcow2" {
        size.saturating_mul(r.range(1, 8))
    } else {
        size
    };
    let min_disk = virtual_size.div_ceil(GIB).min(200);
    let min_ram = *r.pick(&[0u64, 512, 1024, 2048, 4096]);

    let mut props = Map::new();
    props.insert("os_distro".into(), Value::from(*distro));
    props.insert("architecture".into(), Value::from(*arch));
    props.insert("build_id".into(), Value::from(build_id(i)));
    props.insert("bench_half".into(), Value::from(half(i)));
    props.insert("bench_cohort".into(), Value::from(cohort(i)));
    let extra = r.below(8) as usize; // 0..=7 more: 5 to 12 in all
    let mut keys: Vec<&str> = OPTIONAL_KEYS.to_vec();
    for k in 0..extra {
        let j = k + r.below((keys.len() - k) as u64) as usize;
        keys.swap(k, j);
        let key = keys[k];
        let value = match key {
            "os_version" => (*version).to_string(),
            "hw_disk_bus" => (*r.pick(&["virtio", "scsi", "ide", "sata"])).to_string(),
            "hw_vif_model" => (*r.pick(&["virtio", "e1000", "rtl8139"])).to_string(),
            "hypervisor_type" => (*r.pick(HYPERVISORS)).to_string(),
            "image_type" => if snapshot { "snapshot" } else { "image" }.to_string(),
            "description" => format!(
                "{distro} {version} {arch} image built by the image pipeline, run {}",
                r.hex(12)
            ),
            "owner_team" => format!("team-{}", r.below(40)),
            "hw_qemu_guest_agent" => (*r.pick(&["yes", "no"])).to_string(),
            "os_admin_user" => {
                (*r.pick(&["ubuntu", "cloud-user", "root", "Administrator"])).to_string()
            }
            "hw_scsi_model" => "virtio-scsi".to_string(),
            _ => (*r.pick(&["yes", "no"])).to_string(),
        };
        props.insert(key.into(), Value::from(value));
    }

    let mut image = json!({
        "id": id,
        "name": name,
        "status": status,
        "disk_format": disk,
        "container_format": container,
        "min_disk": min_disk,
        "min_ram": min_ram,
        "is_public": r.chance(0.4),
        "protected": r.chance(0.03),
        "properties": props,
    });
    if let Value::Object(m) = &mut image {
        if status != "queued" {
            m.insert("size".into(), Value::from(size));
            m.insert("virtual_size".into(), Value::from(virtual_size));
            m.insert("checksum".into(), Value::from(r.hex(32)));
            m.insert(
                "location".into(),
                Value::from(format!("file:///var/lib/glance/images/{id}")),
            );
        }
        if tenant_as_owner {
            m.insert("owner".into(), Value::from(tenant_id(r.below(TENANTS))));
        }
    }
    json!({ "image": image })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_have_five_to_twelve_properties_and_valid_format_pairs() {
        for i in 0..2000 {
            let body = image_body(1, i, "00000000-0000-0000-0000-000000000000", true);
            let img = &body["image"];
            let n = img["properties"].as_object().map_or(0, Map::len);
            assert!((5..=12).contains(&n), "{n} properties");
            let (d, c) = (
                img["disk_format"].as_str(),
                img["container_format"].as_str(),
            );
            if matches!(d, Some("ami" | "ari" | "aki")) || matches!(c, Some("ami" | "ari" | "aki"))
            {
                assert_eq!(d, c);
            }
            assert_eq!(img["properties"]["build_id"], build_id(i));
            assert_eq!(img["properties"]["bench_half"], half(i));
            assert_eq!(img["properties"]["bench_cohort"], cohort(i));
        }
    }
}
