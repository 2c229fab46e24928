//! Text as people search it: Vietnamese folded to lower-case letters without diacritics, so
//! "nguyen van a" finds "Nguyễn Văn A" (and "NGUYỄN" finds "nguyen"). One folding for every
//! search motcua offers.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `s` in lower case without diacritics (canonical decomposition, combining marks dropped,
/// đ as d).
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

/// The words of `s`, folded: runs of letters and digits.
pub fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `query` finds a thing named `name` with code `code`: part of the name, folded
/// ("khai sinh" finds "Đăng ký khai sinh"), or part of the code; an empty query finds all.
pub fn finds(query: &str, name: &str, code: &str) -> bool {
    let q = query.trim();
    q.is_empty() || code.contains(q) || fold(name).contains(&fold(q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_folds_to_plain_lower_case_words() {
        assert_eq!(fold("Nguyễn Văn A"), "nguyen van a");
        assert_eq!(fold("ĐỖ THỊ Hương"), "do thi huong");
        assert_eq!(fold("Hoà Bình, Thừa Thiên-Huế"), "hoa binh, thua thien-hue");
        assert_eq!(
            words("  Trần  Thị-Bé 0912 345 "),
            ["tran", "thi", "be", "0912", "345"]
        );
        assert!(words("<>!").is_empty());
        assert!(finds("KHAI sinh", "Đăng ký khai sinh", "1.001193"));
        assert!(finds("001193", "Đăng ký khai sinh", "1.001193"));
        assert!(finds("  ", "Đăng ký khai sinh", "1.001193"));
        assert!(!finds("khai tu", "Đăng ký khai sinh", "1.001193"));
    }
}
