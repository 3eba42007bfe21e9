//! DOS-style wildcards as VPOP3 uses them in mappings (§5.1.1): `*` matches any run of
//! characters (none included), `?` exactly one, everything else itself ignoring ASCII
//! case (DECISIONS.md, "Matching").

/// Whether `text` matches `pattern` as a whole.
///
/// Linear-space, O(pattern × text) worst case: the classic greedy-star algorithm that
/// remembers only the last `*`, which is enough because a later star can always absorb
/// what an earlier one would have.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position of the last star seen, and the text position it was tried against.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c.eq_ignore_ascii_case(&t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last star swallow one more character and retry after it.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `pattern` contains a wildcard character.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_examples() {
        // §5.1.1
        assert!(matches("*@company.com", "anyone@company.com"));
        assert!(!matches("*@company.com", "anyone@company.co.uk"));
        assert!(matches("*@*.company.com", "bob@sales.company.com"));
        assert!(!matches("*@*.company.com", "bob@company.com"));
        assert!(matches("Fred.*@company.com", "fred.bloggs@Company.COM"));
        assert!(!matches("Fred.*@company.com", "fredbloggs@company.com"));
        assert!(matches("Fred.???@company.com", "fred.abc@company.com"));
        assert!(!matches("Fred.???@company.com", "fred.ab@company.com"));
        assert!(!matches("Fred.???@company.com", "fred.abcd@company.com"));
    }

    #[test]
    fn edges() {
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("*", ""));
        assert!(matches("**", "abc"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("*a", "aaaa"));
        assert!(!matches("?", ""));
        assert!(matches("SALES", "sales"));
        assert!(matches("jö*", "JÖrg") == "ö".eq_ignore_ascii_case("Ö"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = "*a".repeat(30) + "b";
        let text = "a".repeat(2000);
        assert!(!matches(&pattern, &text));
    }
}
