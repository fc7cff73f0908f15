//! The hashes Glance keeps of image data: md5 (`checksum`, what every client checks) and the
//! sha512 multihash (`os_hash_algo`/`os_hash_value`, what new clients check), computed as the
//! bytes stream past.

use md5::Md5;
use sha2::{Digest, Sha512};

/// The multihash algorithm, by its hashlib name (clients call `hashlib.new` with it).
pub const MULTIHASH_ALGO: &str = "sha512";

#[derive(Default)]
pub struct DataDigest {
    md5: Md5,
    sha512: Sha512,
    len: u64,
}

/// The finished hashes, lowercase hex, and the byte count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    pub md5: String,
    pub sha512: String,
    pub len: u64,
}

impl DataDigest {
    pub fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.sha512.update(chunk);
        self.len += chunk.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Hashes {
        Hashes {
            md5: hex(&self.md5.finalize()),
            sha512: hex(&self.sha512.finalize()),
            len: self.len,
        }
    }
}

/// md5 only, for verifying data as it is read back.
#[derive(Default)]
pub struct Md5Digest(Md5);

impl Md5Digest {
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_the_well_known_values() {
        let empty = DataDigest::default().finish();
        assert_eq!(empty.md5, "d41d8cd98f00b204e9800998ecf8427e");
        assert!(empty.sha512.starts_with("cf83e1357eefb8bdf1542850d66d8007"));
        let mut d = DataDigest::default();
        d.update(b"hello ");
        d.update(b"world");
        let h = d.finish();
        assert_eq!(h.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(h.len, 11);
        let mut m = Md5Digest::default();
        m.update(b"hello world");
        assert_eq!(m.finish(), h.md5);
    }
}
