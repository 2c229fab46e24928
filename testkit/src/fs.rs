//! Files for the damaged-directory tests: what a directory holds byte for byte (to show a
//! refused open left it untouched), deterministic junk to damage it with, and copies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its bytes (directories as `None`), by path relative to `dir`.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("dir entry").path();
            let rel = p.strip_prefix(dir).expect("under dir").to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).expect("read")));
            }
        }
    }
    out
}

/// `len` deterministic junk bytes from `seed` (xorshift).
pub fn junk(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Copies the directory tree `from` to `to` (created if missing).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create_dir_all");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let p = e.expect("dir entry").path();
        let dest = to.join(p.file_name().expect("file name"));
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_snapshots_like_its_original() {
        let dir = std::env::temp_dir().join(format!("motcua-testkit-fs-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(a.join("sub")).unwrap();
        std::fs::write(a.join("f"), junk(100, 7)).unwrap();
        std::fs::write(a.join("sub").join("g"), b"g").unwrap();
        copy_dir(&a, &b);
        let snap = snapshot(&a);
        assert_eq!(snap, snapshot(&b));
        assert_eq!(snap.len(), 3);
        assert_eq!(junk(100, 7), junk(100, 7));
        assert_ne!(junk(100, 7), junk(100, 8));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
