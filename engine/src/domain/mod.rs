//! The one-stop desk domain: pure types, calendar, catalog, rules, workflows, decide/apply.
