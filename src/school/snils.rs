//! SNILS, the insurance number that identifies a parent or legal representative: 11 digits written
//! `XXX-XXX-XXX YY`, the last two a check number over the first nine.
#![forbid(unsafe_code)]

use std::fmt;

/// A SNILS whose check number is right. Never printed whole by `Debug` or in logs: use [`Snils::masked`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snils([u8; 11]);

/// Why a text is not a valid SNILS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnilsError {
    /// Not 11 digits (spaces and hyphens aside).
    #[error("a SNILS has 11 digits, written XXX-XXX-XXX YY")]
    Format,
    /// The check number does not match the first nine digits.
    #[error("the SNILS check number is wrong")]
    CheckNumber,
}

/// The check number of the first nine digits: their sum weighted 9..1; below 100 the sum itself, 100 and 101 give
/// 00, above 101 the sum modulo 101 (where 100 again gives 00).
pub fn check_number(digits: &[u8; 9]) -> u8 {
    let sum: u32 = digits.iter().zip((1..=9).rev()).map(|(&d, w)| d as u32 * w).sum();
    let n = match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => sum % 101,
    };
    if n == 100 {
        0
    } else {
        n as u8
    }
}

impl Snils {
    /// Parses `XXX-XXX-XXX YY` (or the 11 digits with any spaces and hyphens) and checks the check number.
    /// Numbers up to 001-001-998 are issued without a meaningful check number and are accepted as they are.
    pub fn parse(text: &str) -> Result<Snils, SnilsError> {
        let mut digits = [0u8; 11];
        let mut n = 0;
        for c in text.trim().chars() {
            match c {
                '0'..='9' if n < 11 => {
                    digits[n] = c as u8 - b'0';
                    n += 1;
                }
                ' ' | '-' => {}
                _ => return Err(SnilsError::Format),
            }
        }
        if n != 11 {
            return Err(SnilsError::Format);
        }
        let head: [u8; 9] = digits[..9].try_into().expect("nine digits");
        let number = head.iter().fold(0u32, |acc, &d| acc * 10 + d as u32);
        let given = digits[9] * 10 + digits[10];
        if number > 1_001_998 && check_number(&head) != given {
            return Err(SnilsError::CheckNumber);
        }
        Ok(Snils(digits))
    }

    /// A SNILS from nine digits, with the check number computed (for generated test data).
    pub fn from_head(head: [u8; 9]) -> Snils {
        let check = check_number(&head);
        let mut digits = [0u8; 11];
        digits[..9].copy_from_slice(&head);
        digits[9] = check / 10;
        digits[10] = check % 10;
        Snils(digits)
    }

    /// The canonical written form `XXX-XXX-XXX YY`.
    pub fn formatted(&self) -> String {
        let d: String = self.0.iter().map(|d| (b'0' + d) as char).collect();
        format!("{}-{}-{} {}", &d[0..3], &d[3..6], &d[6..9], &d[9..11])
    }

    /// A form safe for logs: only the last three digits, as `***-***-**5 95`.
    pub fn masked(&self) -> String {
        let d = &self.0;
        format!("***-***-**{} {}{}", d[8], d[9], d[10])
    }
}

impl fmt::Debug for Snils {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snils({})", self.masked())
    }
}

impl fmt::Display for Snils {
    /// Displays masked: a SNILS that reaches a log line through `{}` must not leak.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, SnilsError>) {
        assert_eq!(Snils::parse(text).map(|s| s.formatted()), expected.map(String::from), "{text}");
    }

    #[test]
    fn parsing_and_check_numbers() {
        check("112-233-445 95", Ok("112-233-445 95"));
        check("11223344595", Ok("112-233-445 95"));
        check("112-233-445 96", Err(SnilsError::CheckNumber));
        check("112-233-445", Err(SnilsError::Format));
        check("112-233-445 9a", Err(SnilsError::Format));
        check("112-233-445 955", Err(SnilsError::Format));
        // Up to 001-001-998 the check number is not checked.
        check("001-001-998 00", Ok("001-001-998 00"));
        check("001-001-999 00", Err(SnilsError::CheckNumber));
    }

    #[test]
    fn the_rule_for_large_sums() {
        // Sums of 100 and 101 give 00; sums above 101 are taken modulo 101.
        for head in [[9, 9, 9, 9, 9, 9, 9, 9, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 0, 0, 1, 1]] {
            let sum: u32 = head.iter().zip((1..=9u32).rev()).map(|(&d, w)| d as u32 * w).sum();
            let expected = match sum {
                0..=99 => sum,
                100 | 101 => 0,
                s => (s % 101) % 100,
            };
            assert_eq!(check_number(&head) as u32, expected, "{head:?}");
            let s = Snils::from_head(head);
            assert_eq!(Snils::parse(&s.formatted()).unwrap(), s);
        }
    }

    #[test]
    fn never_printed_whole() {
        let s = Snils::parse("112-233-445 95").unwrap();
        assert_eq!(s.masked(), "***-***-**5 95");
        assert!(!format!("{s} {s:?}").contains("112-233"));
    }
}
