//! The hashes Glance keeps of image data: md5 (`checksum`, what every client checks) and the
//! sha512 multihash (`os_hash_algo`/`os_hash_value`, what new clients check), computed as the
//! bytes stream past; and glimpse's own CRC-32, which verifies downloads at wire speed (md5
//! runs at a few hundred MB/s, a fraction of what a download reaches).

use md5::Md5;
use sha2::{Digest, Sha512};

/// The multihash algorithm, by its hashlib name (clients call `hashlib.new` with it).
pub const MULTIHASH_ALGO: &str = "sha512";

#[derive(Default)]
pub struct DataDigest {
    md5: Md5,
    sha512: Sha512,
    crc32: crc32fast::Hasher,
    len: u64,
}

/// The finished hashes, lowercase hex, and the byte count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    pub md5: String,
    pub sha512: String,
    pub crc32: u32,
    pub len: u64,
}

impl DataDigest {
    pub fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.sha512.update(chunk);
        self.crc32.update(chunk);
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
            crc32: self.crc32.finalize(),
            len: self.len,
        }
    }
}

/// What data read back must match: its CRC-32 when the upload recorded one, else its md5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Crc32(u32),
    Md5(String),
}

/// The running check of data read back.
pub enum ReadCheck {
    Crc32(crc32fast::Hasher, u32),
    Md5(Md5, String),
}

impl ReadCheck {
    pub fn new(expected: Expected) -> ReadCheck {
        match expected {
            Expected::Crc32(c) => ReadCheck::Crc32(crc32fast::Hasher::new(), c),
            Expected::Md5(m) => ReadCheck::Md5(Md5::default(), m),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        match self {
            ReadCheck::Crc32(h, _) => h.update(chunk),
            ReadCheck::Md5(h, _) => h.update(chunk),
        }
    }

    /// `Ok` if the data matched; else what was found instead of what was expected.
    pub fn finish(self) -> Result<(), String> {
        match self {
            ReadCheck::Crc32(h, want) => {
                let got = h.finalize();
                (got == want)
                    .then_some(())
                    .ok_or_else(|| format!("crc32 {got:08x}, expected {want:08x}"))
            }
            ReadCheck::Md5(h, want) => {
                let got = hex(&h.finalize());
                (got == want)
                    .then_some(())
                    .ok_or_else(|| format!("md5 {got}, expected {want}"))
            }
        }
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
        assert_eq!(h.crc32, 0x0d4a_1185);
        assert_eq!(h.len, 11);
        for expected in [Expected::Md5(h.md5.clone()), Expected::Crc32(h.crc32)] {
            let mut check = ReadCheck::new(expected.clone());
            check.update(b"hello world");
            assert_eq!(check.finish(), Ok(()), "{expected:?}");
            let mut check = ReadCheck::new(expected.clone());
            check.update(b"hello w0rld");
            assert!(check.finish().is_err(), "{expected:?}");
        }
    }
}
