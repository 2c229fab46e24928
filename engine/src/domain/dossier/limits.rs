//! The bounds of what a dossier command may carry, checked once, before a decision: every text
//! field has a length in characters, lists have a count, names and one-line fields hold no
//! control character (no NUL, no ANSI escape: they end up on printed slips, in exports and on
//! an auditor's terminal), and an applicant's identity number has one of the forms the state
//! issues. A refusal names the field, so the caller can fix it.
//!
//! Why the numbers: they are far above any real dossier (the longest procedure name in the
//! national catalog is under 300 characters; a checklist under 30 documents) and small enough
//! that the largest command still makes an event well inside the log's per-event limit (64 KiB):
//! the command service asserts [`WORST_CASE_BYTES`] below it at compile time.

use crate::domain::error::DomainError;
use crate::domain::events::Applicant;

use super::command::{Command, Intake};

/// A person's or an agency's name, a phone number, a receipt number: one line.
pub const MAX_NAME_CHARS: usize = 200;
/// An address: one line.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// A note, a reason, a legal basis, comments: may span lines.
pub const MAX_NOTE_CHARS: usize = 1_500;
/// A document of a checklist or an item of a supplement request: one line.
pub const MAX_ITEM_CHARS: usize = 250;
/// Documents of an intake, items of a supplement request or of a guidance.
pub const MAX_ITEMS: usize = 30;

/// The largest a command's free text can be in bytes (4 bytes a character at most in UTF-8): an
/// intake's applicant and documents, or a request's items with two notes.
pub const WORST_CASE_BYTES: usize =
    4 * (4 * MAX_NAME_CHARS + MAX_ADDRESS_CHARS + MAX_ITEMS * MAX_ITEM_CHARS + 2 * MAX_NOTE_CHARS);

/// Checks every bound of `cmd`; the first field out of bounds is the refusal.
pub fn check_limits(cmd: &Command) -> Result<(), DomainError> {
    if let Some(intake) = cmd.intake() {
        check_intake(intake)?;
    }
    match cmd {
        Command::GuideToComplete { missing, note, .. } => {
            items("missing", missing)?;
            multi_line("note", note)
        }
        Command::RefuseToReceive {
            reason,
            legal_basis,
            ..
        }
        | Command::Stop {
            reason,
            legal_basis,
        } => {
            multi_line("reason", reason)?;
            multi_line("legal_basis", legal_basis)
        }
        Command::RequestSupplement {
            items: list,
            reason,
        } => {
            items("items", list)?;
            multi_line("reason", reason)
        }
        Command::Forward { agency, note } => {
            one_line("agency", agency, MAX_NAME_CHARS)?;
            multi_line("note", note)
        }
        Command::RecordPayment { receipt_number } => {
            one_line("receipt_number", receipt_number, MAX_NAME_CHARS)
        }
        Command::SignRefusal { reasons } => multi_line("reasons", reasons),
        Command::SendBack { comments } => multi_line("comments", comments),
        Command::Apologise { reason, .. } | Command::Withdraw { reason } => {
            multi_line("reason", reason)
        }
        Command::Assign { note, .. }
        | Command::RecordSupplement { note }
        | Command::RecordAgencyAnswer { note }
        | Command::RequestPayment { note, .. }
        | Command::SubmitForSigning { note, .. }
        | Command::Approve { note }
        | Command::HandOver { note } => multi_line("note", note),
        Command::AttachFile(f) => one_line("document", &f.document, MAX_ITEM_CHARS),
        Command::SubmitOnline(_) | Command::Receive { .. } => Ok(()),
    }
}

fn check_intake(intake: &Intake) -> Result<(), DomainError> {
    check_applicant(&intake.applicant)?;
    items("documents", &intake.documents)
}

/// The applicant: a name, an identity number of a known form, a phone and an address.
pub fn check_applicant(a: &Applicant) -> Result<(), DomainError> {
    one_line("applicant.name", &a.name, MAX_NAME_CHARS)?;
    if a.name.trim().is_empty() {
        return Err(DomainError::validation("applicant.name", "is empty"));
    }
    id_number(&a.id_number)?;
    one_line("applicant.phone", &a.phone, MAX_NAME_CHARS)?;
    one_line("applicant.address", &a.address, MAX_ADDRESS_CHARS)
}

/// A citizen identity number (CCCD: 12 digits), an old identity card number (CMND: 9 digits),
/// or a passport number (one capital letter, then 7 or 8 digits).
fn id_number(v: &str) -> Result<(), DomainError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = ((v.len() == 12 || v.len() == 9) && digits(v)) || passport(v, digits);
    if ok {
        Ok(())
    } else {
        Err(DomainError::validation(
            "applicant.id_number",
            "expected a citizen identity number (12 digits), an identity card number (9 digits) \
             or a passport number (a capital letter and 7 or 8 digits)",
        ))
    }
}

fn passport(v: &str, digits: impl Fn(&str) -> bool) -> bool {
    let mut chars = v.chars();
    match chars.next() {
        Some(c) if c.is_ascii_uppercase() => {
            let rest = chars.as_str();
            (rest.len() == 7 || rest.len() == 8) && digits(rest)
        }
        _ => false,
    }
}

fn items(field: &str, list: &[String]) -> Result<(), DomainError> {
    if list.len() > MAX_ITEMS {
        return Err(DomainError::validation(
            field,
            format!("at most {MAX_ITEMS} entries, got {}", list.len()),
        ));
    }
    list.iter()
        .try_for_each(|item| one_line(field, item, MAX_ITEM_CHARS))
}

/// One line of at most `max` characters, without control characters (reference data's names
/// are held to it too).
pub(crate) fn one_line(field: &str, v: &str, max: usize) -> Result<(), DomainError> {
    bounded(field, v, max)?;
    match v.chars().find(|c| c.is_control()) {
        Some(c) => Err(control(field, c)),
        None => Ok(()),
    }
}

/// Text of at most [`MAX_NOTE_CHARS`] characters; line breaks and tabs allowed, no other
/// control character.
fn multi_line(field: &str, v: &str) -> Result<(), DomainError> {
    bounded(field, v, MAX_NOTE_CHARS)?;
    match v
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some(c) => Err(control(field, c)),
        None => Ok(()),
    }
}

fn bounded(field: &str, v: &str, max: usize) -> Result<(), DomainError> {
    // Bytes bound characters from above: most values never need the count.
    if v.len() > max && v.chars().count() > max {
        return Err(DomainError::validation(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

fn control(field: &str, c: char) -> DomainError {
    DomainError::validation(
        field,
        format!("holds a control character (U+{:04X})", c as u32),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testkit::intake;
    use crate::domain::types::Channel;

    fn applicant() -> Applicant {
        intake("1.000001", Channel::Desk).applicant
    }

    fn refused_field(r: Result<(), DomainError>) -> String {
        match r {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("expected a validation refusal, got {other:?}"),
        }
    }

    #[test]
    fn identity_numbers_of_the_three_forms_pass_and_nothing_else() {
        for ok in ["001090000001", "012345678", "C1234567", "N12345678"] {
            assert!(id_number(ok).is_ok(), "{ok}");
        }
        for bad in [
            "abc",
            "",
            "00109000000",
            "0010900000011",
            "c1234567",
            "C123456",
            "12345678a",
        ] {
            assert!(id_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_bound_names_its_field() {
        let mut a = applicant();
        a.name = "A\u{1b}[31mB".into();
        assert_eq!(refused_field(check_applicant(&a)), "applicant.name");
        let mut a = applicant();
        a.address = "x".repeat(MAX_ADDRESS_CHARS + 1);
        assert_eq!(refused_field(check_applicant(&a)), "applicant.address");
        let mut a = applicant();
        a.name = "ư".repeat(MAX_NAME_CHARS);
        assert!(
            check_applicant(&a).is_ok(),
            "the bound counts characters, not bytes"
        );
        let cmd = Command::RequestSupplement {
            items: vec!["Bản sao".into(); MAX_ITEMS + 1],
            reason: "thiếu".into(),
        };
        assert_eq!(refused_field(check_limits(&cmd)), "items");
        let cmd = Command::Withdraw {
            reason: "dòng 1\ndòng 2\u{0}".into(),
        };
        assert_eq!(refused_field(check_limits(&cmd)), "reason");
        let cmd = Command::Withdraw {
            reason: "dòng 1\ndòng 2".into(),
        };
        assert!(check_limits(&cmd).is_ok());
    }
}
