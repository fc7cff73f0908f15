//! Disk and container formats, and the rule that ties them.

use crate::error::Error;

/// Formats that describe an Amazon-style kernel, ramdisk or machine image: where either format
/// is one of these, both must be present and equal.
const AMAZON: [&str; 3] = ["ami", "ari", "aki"];

pub const DEFAULT_DISK_FORMATS: [&str; 11] = [
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
pub const DEFAULT_CONTAINER_FORMATS: [&str; 8] = [
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

/// The formats this registry accepts (configurable, as in Glance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formats {
    pub disk: Vec<String>,
    pub container: Vec<String>,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            disk: DEFAULT_DISK_FORMATS.map(String::from).to_vec(),
            container: DEFAULT_CONTAINER_FORMATS.map(String::from).to_vec(),
        }
    }
}

impl Formats {
    pub fn check_disk(&self, v: &str) -> Result<(), Error> {
        check("disk_format", v, &self.disk)
    }

    pub fn check_container(&self, v: &str) -> Result<(), Error> {
        check("container_format", v, &self.container)
    }

    /// The rule that ties the two formats together.
    pub fn check_pair(disk: Option<&str>, container: Option<&str>) -> Result<(), Error> {
        let amazon = |f: Option<&str>| f.is_some_and(|f| AMAZON.contains(&f));
        if (amazon(disk) || amazon(container)) && disk != container {
            return Err(Error::bad_request(format!(
                "Invalid mix of disk and container formats (disk_format={}, container_format={}): \
                 when either is one of 'ami', 'ari' or 'aki', both must be set and equal",
                disk.unwrap_or("null"),
                container.unwrap_or("null"),
            )));
        }
        Ok(())
    }
}

fn check(field: &str, v: &str, allowed: &[String]) -> Result<(), Error> {
    if allowed.iter().any(|a| a == v) {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "Invalid {field} '{v}': {field} must be one of {}",
            allowed.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_formats_must_match() {
        assert!(Formats::check_pair(Some("ami"), Some("ami")).is_ok());
        assert!(Formats::check_pair(Some("raw"), Some("bare")).is_ok());
        assert!(Formats::check_pair(None, None).is_ok());
        assert!(Formats::check_pair(Some("ami"), Some("bare")).is_err());
        assert!(Formats::check_pair(Some("raw"), Some("aki")).is_err());
        assert!(Formats::check_pair(Some("ari"), None).is_err());
        assert!(Formats::check_pair(None, Some("aki")).is_err());
    }

    #[test]
    fn unknown_formats_are_named_in_the_error() {
        let f = Formats::default();
        assert!(f.check_disk("qcow2").is_ok());
        let e = f.check_disk("").unwrap_err().to_string();
        assert!(e.contains("disk_format") && e.contains("qcow2"), "{e}");
        assert!(f.check_container("docker").is_ok());
        assert!(f.check_container("zip").is_err());
    }
}
