//! One-click acknowledge links: a token naming the incident and an expiry, signed with a
//! key only the daemon holds, so a link cannot be forged for another incident or reused
//! after it expires.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How long an emailed acknowledge link stays valid.
pub const ACK_LINK_VALIDITY: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckLinkError {
    #[error("this acknowledge link is malformed")]
    Malformed,
    #[error("this acknowledge link was not issued by this tocsin")]
    BadSignature,
    #[error("this acknowledge link expired at {0}")]
    Expired(DateTime<Utc>),
}

#[derive(Clone)]
pub struct AckLinks {
    key: Vec<u8>,
}

impl std::fmt::Debug for AckLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckLinks { key: *** }")
    }
}

impl AckLinks {
    pub fn new(key: Vec<u8>) -> AckLinks {
        AckLinks { key }
    }

    fn mac(&self, incident_id: i64, expires: i64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; the error arm cannot happen.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new_from_slice(&[0u8; 32]).expect("fixed key"));
        mac.update(format!("ack/{incident_id}/{expires}").as_bytes());
        mac
    }

    /// A token acknowledging `incident_id`, valid until `now + ACK_LINK_VALIDITY`.
    pub fn token(&self, incident_id: i64, now: DateTime<Utc>) -> String {
        let expires = (now + ACK_LINK_VALIDITY).timestamp();
        let signature = URL_SAFE_NO_PAD.encode(self.mac(incident_id, expires).finalize().into_bytes());
        format!("{incident_id}.{expires}.{signature}")
    }

    /// The incident a token acknowledges, if it is genuine and unexpired.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<i64, AckLinkError> {
        let mut parts = token.splitn(3, '.');
        let (Some(id), Some(expires), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(AckLinkError::Malformed);
        };
        let incident_id: i64 = id.parse().map_err(|_| AckLinkError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| AckLinkError::Malformed)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| AckLinkError::Malformed)?;
        self.mac(incident_id, expires).verify_slice(&signature).map_err(|_| AckLinkError::BadSignature)?;
        let expiry = DateTime::from_timestamp(expires, 0).ok_or(AckLinkError::Malformed)?;
        if expiry < now {
            return Err(AckLinkError::Expired(expiry));
        }
        Ok(incident_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid")
    }

    #[test]
    fn a_token_verifies_for_its_incident_until_it_expires() {
        let links = AckLinks::new(b"secret".to_vec());
        let token = links.token(42, now());
        assert_eq!(links.verify(&token, now() + Duration::days(6)), Ok(42));
        assert!(matches!(links.verify(&token, now() + Duration::days(8)), Err(AckLinkError::Expired(_))));
    }

    #[test]
    fn a_token_edited_to_another_incident_or_signed_by_another_key_is_refused() {
        let links = AckLinks::new(b"secret".to_vec());
        let token = links.token(42, now());
        let forged = token.replacen("42.", "43.", 1);
        assert_eq!(links.verify(&forged, now()), Err(AckLinkError::BadSignature));
        let other = AckLinks::new(b"other".to_vec());
        assert_eq!(other.verify(&token, now()), Err(AckLinkError::BadSignature));
        assert_eq!(links.verify("garbage", now()), Err(AckLinkError::Malformed));
    }
}
