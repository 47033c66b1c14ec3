//! What an introspection answer means: RFC 7662's `active`, then the checks the endpoint does
//! not make for this service. An endpoint answers for every token its server issued, so
//! `active: true` says the token is live, not that it is meant for this service: the issuer,
//! the audience, `nbf` and the token's type are checked here, as a JWT's claims are.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::oauth::claims::{now_secs, Claims};
use crate::oauth::validation::Validation;

/// An endpoint's answer about one token.
pub(super) enum Answer<T> {
    /// Active, and meant for this service.
    Accepted(Arc<Claims<T>>),
    /// Inactive, or refused here: why, for the DEBUG log.
    Refused(&'static str),
}

/// The `token_type`s of an access token presented as a bearer token (RFC 6749 §7.1 names the
/// type `Bearer`, compared without case; RFC 8693's URN names an access token).
fn bearer_type(token_type: &str) -> bool {
    token_type.eq_ignore_ascii_case("bearer")
        || token_type == "access_token"
        || token_type == "urn:ietf:params:oauth:token-type:access_token"
}

/// Reads an answer's body. `Err` is an endpoint that did not answer as RFC 7662 says (a
/// `503`); `Refused` is a token this service does not accept (a `401`).
pub(super) fn read<T: DeserializeOwned>(
    body: &[u8],
    validation: &Validation,
) -> Result<Answer<T>, String> {
    let Ok(Value::Object(mut answer)) = crate::oauth::json::parse(body) else {
        return Err("not a JSON object".into());
    };
    match answer.remove("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Answer::Refused("inactive")),
        _ => return Err("no boolean active".into()),
    }
    match answer.get("token_type") {
        None => {}
        Some(Value::String(t)) if bearer_type(t) => {}
        // RFC 9449 §6.2: a DPoP-bound token, whose `cnf.jkt` names its key. Whether the
        // request proves that key is the resolver's check, on every request.
        Some(Value::String(t))
            if t.eq_ignore_ascii_case("dpop")
                && answer.get("cnf").and_then(|c| c.get("jkt")).is_none() =>
        {
            return Ok(Answer::Refused("token_type DPoP without cnf.jkt"))
        }
        Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop") => {}
        Some(_) => return Ok(Answer::Refused("not an access token (token_type)")),
    }
    let claims: Claims<T> =
        serde_json::from_value(Value::Object(answer)).map_err(|e| e.to_string())?;
    let now = now_secs();
    // An endpoint that says active for an expired token is not believed, leeway or not.
    if claims.exp.is_some_and(|exp| exp <= now) {
        return Ok(Answer::Refused("expired (exp)"));
    }
    // A wrong issuer or audience: `check` logs the expected and the received at DEBUG.
    if let Err(why) = validation.check(None, &claims, now) {
        return Ok(Answer::Refused(why));
    }
    Ok(Answer::Accepted(Arc::new(claims)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn validation(issuer: Option<&str>, audience: Option<&str>) -> Validation {
        Validation {
            issuer: issuer.map(str::to_owned),
            audience: audience.map(str::to_owned),
            require_exp: false,
            ..Validation::default()
        }
    }

    fn read_json(
        answer: Value,
        v: &Validation,
    ) -> Result<Result<Vec<String>, &'static str>, String> {
        let body = serde_json::to_vec(&answer).unwrap();
        read::<Map<String, Value>>(&body, v).map(|a| match a {
            Answer::Accepted(claims) => Ok(claims.scopes.clone()),
            Answer::Refused(why) => Err(why),
        })
    }

    #[test]
    fn whom_and_what_the_token_is_for() {
        let ours = validation(Some("https://as.example"), Some("https://api.example"));
        let now = now_secs();
        let good = json!({"active": true, "iss": "https://as.example", "aud": "https://api.example",
            "scope": "a b", "exp": now + 60, "token_type": "Bearer"});
        assert_eq!(
            read_json(good.clone(), &ours),
            Ok(Ok(vec!["a".into(), "b".into()]))
        );
        let with = |key: &str, value: Value| {
            let mut answer = good.clone();
            answer[key] = value;
            read_json(answer, &ours)
        };
        assert_eq!(with("aud", json!("other-api")), Ok(Err("wrong audience")));
        assert_eq!(
            with("aud", json!(["x", "https://api.example"])).map(|r| r.is_ok()),
            Ok(true)
        );
        assert_eq!(with("iss", json!("https://evil")), Ok(Err("wrong issuer")));
        assert_eq!(
            with("nbf", json!(now + 3600)),
            Ok(Err("not valid yet (nbf)"))
        );
        assert_eq!(with("exp", json!(now - 1)), Ok(Err("expired (exp)")));
        assert_eq!(
            with("token_type", json!("refresh_token")),
            Ok(Err("not an access token (token_type)"))
        );
        assert_eq!(
            with("token_type", json!("bearer")).map(|r| r.is_ok()),
            Ok(true)
        );
        assert_eq!(
            with("token_type", json!("DPoP")),
            Ok(Err("token_type DPoP without cnf.jkt"))
        );
        // A bound token is read; whether the request proves its key is checked per request.
        let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        assert!(with("cnf", json!({ "jkt": jkt })).unwrap().is_ok());
        // Without iss or aud in the answer, a configured check cannot pass.
        let mut bare = good.clone();
        bare.as_object_mut().unwrap().remove("aud");
        assert_eq!(read_json(bare, &ours), Ok(Err("wrong audience")));
        // Unconfigured, neither is required.
        assert!(read_json(json!({"active": true}), &validation(None, None))
            .unwrap()
            .is_ok());
    }

    #[test]
    fn what_is_not_an_answer() {
        let v = validation(None, None);
        assert_eq!(read_json(json!({"active": false}), &v), Ok(Err("inactive")));
        assert!(read_json(json!({"active": "true"}), &v).is_err());
        assert!(read_json(json!([1]), &v).is_err());
        assert!(read::<Map<String, Value>>(b"not json", &v).is_err());
    }
}
