//! Field checks for request bodies: collect every problem, answer them all
//! at once as 422 `validation_failed` with their paths.

use crate::error::{ApiError, ErrorDetail};

#[derive(Debug, Default)]
pub struct Problems {
    details: Vec<ErrorDetail>,
}

impl Problems {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.details.push(ErrorDetail {
            path: path.into(),
            message: message.into(),
        });
    }

    /// `value` must have `min..=max` characters.
    pub fn length(&mut self, path: &str, value: &str, min: usize, max: usize) {
        let length = value.chars().count();
        if length < min || length > max {
            self.add(
                path,
                format!("must be {min} to {max} characters long (is {length})"),
            );
        }
    }

    pub fn time_zone(&mut self, path: &str, value: &str) {
        if value.parse::<chrono_tz::Tz>().is_err() {
            self.add(
                path,
                format!("{value:?} is not an IANA time zone (e.g. \"Asia/Jerusalem\")"),
            );
        }
    }

    pub fn email(&mut self, path: &str, value: &str) {
        let well_formed = value.len() <= 254
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            self.add(path, "is not an email address");
        }
    }

    pub fn extend(&mut self, details: impl IntoIterator<Item = ErrorDetail>) {
        self.details.extend(details);
    }

    pub fn is_empty(&self) -> bool {
        self.details.is_empty()
    }

    /// `Ok` when nothing was found, else 422 with every problem.
    pub fn finish(self, what: &str) -> Result<(), ApiError> {
        if self.details.is_empty() {
            return Ok(());
        }
        let count = self.details.len();
        let plural = if count == 1 { "problem" } else { "problems" };
        Err(ApiError::validation(
            format!("{what} has {count} {plural}"),
            self.details,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut problems = Problems::default();
        problems.length("name", "", 1, 10);
        problems.time_zone("time_zone", "Mars/Olympus");
        problems.email("email", "not-an-email");
        problems.email("ok", "a@b.co");
        let error = problems.finish("the tenant").unwrap_err();
        assert_eq!(error.code(), "validation_failed");
        let paths: Vec<&str> = error.details().iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["name", "time_zone", "email"]);
    }
}
