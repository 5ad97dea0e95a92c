//! Query-string parameters, checked: every value a route reads comes through here, bounded
//! in count and length, and a bad one is a `400` naming the parameter.

use super::{Failure, MAX_QUERY_CHARS};

/// Values a parameter may repeat (`id=A&id=B`): more is a `400`.
pub const MAX_REPEATS: usize = 20;
/// Results one request may ask for.
pub const MAX_K: usize = 100;

/// The decoded `key=value` pairs of a query string, in order.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Result<Self, Failure> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.len() > 4 * MAX_REPEATS {
            return Err(Failure::bad("too many parameters"));
        }
        Ok(Self(pairs))
    }

    /// Every `(key, value)` pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every non-empty value of `key`.
    pub fn all(&self, key: &str) -> Result<Vec<&str>, Failure> {
        let values: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect();
        if values.len() > MAX_REPEATS {
            return Err(Failure::bad(format!(
                "at most {MAX_REPEATS} values of `{key}`"
            )));
        }
        for v in &values {
            if v.chars().count() > MAX_QUERY_CHARS {
                return Err(Failure::bad(format!(
                    "`{key}` is longer than {MAX_QUERY_CHARS} characters"
                )));
            }
        }
        Ok(values)
    }

    /// The value of `key`, if given (and not empty); given twice is a `400`.
    pub fn one(&self, key: &str) -> Result<Option<&str>, Failure> {
        let values = self.all(key)?;
        match values.as_slice() {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            _ => Err(Failure::bad(format!("`{key}` given more than once"))),
        }
    }

    /// `k`: how many results, 1 to `MAX_K`, `default` when absent.
    pub fn k(&self, default: usize) -> Result<usize, Failure> {
        match self.one("k")? {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(k) if (1..=MAX_K).contains(&k) => Ok(k),
                _ => Err(Failure::bad(format!(
                    "`k` must be a whole number from 1 to {MAX_K}, got {v:?}"
                ))),
            },
        }
    }

    /// A flag-like value: one of `T`'s clap names (`scoring=csls`).
    pub fn choice<T: clap::ValueEnum>(&self, key: &str) -> Result<Option<T>, Failure> {
        match self.one(key)? {
            None => Ok(None),
            Some(v) => T::from_str(v, true).map(Some).map_err(|_| {
                let names: Vec<String> = T::value_variants()
                    .iter()
                    .filter_map(|x| x.to_possible_value())
                    .map(|p| p.get_name().to_string())
                    .collect();
                Failure::bad(format!(
                    "`{key}` must be one of {}, got {v:?}",
                    names.join(", ")
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Scoring;

    #[test]
    fn values_are_decoded_trimmed_and_bounded() {
        let p = Params::parse(
            "id=CAD&id=Self%20RAG&q=%ED%99%98%EA%B0%81+%EC%A4%84%EC%9D%B4%EA%B8%B0&k=5&not=",
        )
        .unwrap();
        assert_eq!(p.all("id").unwrap(), ["CAD", "Self RAG"]);
        assert_eq!(p.one("q").unwrap(), Some("환각 줄이기"));
        assert_eq!(p.one("not").unwrap(), None);
        assert_eq!(p.k(10).unwrap(), 5);
        assert!(p.one("id").is_err());
        for bad in ["k=0", "k=101", "k=ten", "k=-1"] {
            assert_eq!(Params::parse(bad).unwrap().k(10).unwrap_err().status, 400);
        }
        let long = format!("q={}", "a".repeat(MAX_QUERY_CHARS + 1));
        assert!(Params::parse(&long).unwrap().one("q").is_err());
        let many = vec!["id=x"; MAX_REPEATS + 1].join("&");
        assert!(Params::parse(&many).unwrap().all("id").is_err());
    }

    #[test]
    fn choices_are_the_cli_names() {
        let p = Params::parse("scoring=max-sim&bad=nope").unwrap();
        assert_eq!(
            p.choice::<Scoring>("scoring").unwrap(),
            Some(Scoring::MaxSim)
        );
        let err = p.choice::<Scoring>("bad").unwrap_err();
        assert!(err.message.contains("csls"), "{}", err.message);
    }
}
