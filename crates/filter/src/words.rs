//! `state X` / `exclude X` words before the expression (ss 2.3).

use sockq_model::StateSet;

/// A bad `state`/`exclude` word.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateWordError {
    /// `state bogus`.
    #[error("unknown state \"{0}\" (try listening, established, connected, …)")]
    WrongName(String),
    /// `state` as the last word.
    #[error("`{0}` needs a state name")]
    Missing(String),
}

/// Peels leading `state NAME`, `exclude NAME` and `excl NAME` words, as ss
/// does: the first `state` starts from no state, the first `exclude` from
/// all states, and later words accumulate. A final empty mask means "keep
/// the defaults" (`None`). Returns the remaining words.
///
/// sockq extension: when the words after a `state NAME` pair begin with a
/// connective (`or`, `and`, `|`, `&`, …), that pair is left in the
/// expression, where `state NAME` is a predicate. ss rejects such input.
pub fn peel_state_words(
    words: &[String],
) -> Result<(Option<StateSet>, Vec<String>), StateWordError> {
    let mut mask: Option<StateSet> = None;
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let is_state = w == "state";
        if !(is_state || w == "exclude" || w == "excl") {
            break;
        }
        let name = words
            .get(i + 1)
            .ok_or_else(|| StateWordError::Missing(w.clone()))?;
        if is_state
            && words.get(i + 2).is_some_and(|n| {
                matches!(n.as_str(), "or" | "|" | "||" | "and" | "&" | "&&")
                    || n.starts_with("or ")
                    || n.starts_with("and ")
            })
        {
            break;
        }
        let set =
            StateSet::parse_name(name).ok_or_else(|| StateWordError::WrongName(name.clone()))?;
        let cur = mask.unwrap_or(if is_state {
            StateSet::EMPTY
        } else {
            StateSet::ALL
        });
        mask = Some(if is_state {
            cur.union(set)
        } else {
            cur.minus(set)
        });
        i += 2;
    }
    let rest = words.get(i..).unwrap_or(&[]).to_vec();
    Ok((mask.filter(|m| !m.is_empty()), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn ss_rules() {
        let (m, rest) =
            peel_state_words(&w("state established ( sport = :80 )")).unwrap_or_default();
        assert_eq!(m, Some(StateSet(1 << 1)));
        assert_eq!(rest, w("( sport = :80 )"));
        let (m, _) = peel_state_words(&w("excl established excl listening state listening"))
            .unwrap_or_default();
        let want = StateSet::ALL
            .minus(StateSet(1 << 1))
            .minus(StateSet(1 << 10))
            .union(StateSet(1 << 10));
        assert_eq!(m, Some(want));
        let (m, rest) = peel_state_words(&w("exclude all")).unwrap_or_default();
        assert_eq!(m, None);
        assert!(rest.is_empty());
        assert_eq!(
            peel_state_words(&w("state listen")),
            Err(StateWordError::WrongName("listen".into()))
        );
        assert_eq!(
            peel_state_words(&w("state")),
            Err(StateWordError::Missing("state".into()))
        );
        let (m, rest) = peel_state_words(&w("state listening or sport = :80")).unwrap_or_default();
        assert_eq!(m, None);
        assert_eq!(rest.len(), 6);
    }
}
