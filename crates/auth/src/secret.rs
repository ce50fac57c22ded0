//! Client secrets: format, generation and keyed hashing.
//!
//! A secret is `bss_` + 43 base62 characters (256 bits from the OS CSPRNG) + a 6-character
//! base62 CRC-32 of everything before it. The prefix makes leaked secrets easy to scan for;
//! the checksum rejects typos and random guesses before any database lookup.
//!
//! Only HMAC-SHA-256(secret) under a key derived from the master key is stored. A fast keyed
//! hash is right for server-generated high-entropy secrets: nothing can be brute-forced, and a
//! slow password hash would make `/oauth/token` a CPU denial-of-service target.

use aws_lc_rs::hmac;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::master::MasterKey;

/// The recognisable prefix of every client secret.
pub const SECRET_PREFIX: &str = "bss_";
const BODY_LENGTH: usize = 43;
const CHECKSUM_LENGTH: usize = 6;
/// Total length of a client secret.
pub const SECRET_LENGTH: usize = SECRET_PREFIX.len() + BODY_LENGTH + CHECKSUM_LENGTH;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a presented secret was rejected without a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    /// Wrong prefix, length or characters.
    #[error("the client secret is malformed")]
    Malformed,
    /// The checksum does not match (a typo or a guess).
    #[error("the client secret's checksum does not match")]
    Checksum,
}

/// A well-formed client secret. `Debug` is redacted.
pub struct ClientSecret(SecretString);

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

fn checksum(text: &str) -> String {
    let mut value = crc32fast::hash(text.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LENGTH];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ClientSecret {
    /// Draws a new secret.
    pub fn generate() -> Self {
        let body = brandstream_domain::ids::random_alphanumeric(BODY_LENGTH);
        let mut text = String::with_capacity(SECRET_LENGTH);
        text.push_str(SECRET_PREFIX);
        text.push_str(&body);
        let sum = checksum(&text);
        text.push_str(&sum);
        Self(SecretString::from(text))
    }

    /// Checks the format and the checksum of a presented secret.
    pub fn parse(presented: &str) -> Result<Self, SecretFormatError> {
        if presented.len() != SECRET_LENGTH
            || !presented.starts_with(SECRET_PREFIX)
            || !presented[SECRET_PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        {
            return Err(SecretFormatError::Malformed);
        }
        let (payload, sum) = presented.split_at(SECRET_LENGTH - CHECKSUM_LENGTH);
        if checksum(payload).as_bytes().ct_eq(sum.as_bytes()).into() {
            Ok(Self(SecretString::from(presented.to_owned())))
        } else {
            Err(SecretFormatError::Checksum)
        }
    }

    /// The secret text, for showing it once to its owner.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The last four characters, stored as a hint so people can tell secrets apart.
    pub fn hint(&self) -> String {
        let text = self.0.expose_secret();
        format!("{SECRET_PREFIX}…{}", &text[text.len() - 4..])
    }
}

/// Hashes and checks client secrets under a key derived from the master key.
pub struct SecretHasher {
    key: hmac::Key,
    /// The previous master key's, during a master-key rotation: stored hashes made with it
    /// still verify (and are then replaced), new hashes never use it.
    previous: Option<hmac::Key>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher([redacted])")
    }
}

fn hmac_key(master: &MasterKey) -> hmac::Key {
    let derived = master.derive("brandstream client-secret hmac v1");
    hmac::Key::new(hmac::HMAC_SHA256, derived.expose_secret())
}

fn tag(key: &hmac::Key, secret: &ClientSecret) -> [u8; 32] {
    let tag = hmac::sign(key, secret.expose().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Constant-time membership of `presented` among `stored`: every candidate is compared.
fn any_equal<'a>(presented: &[u8; 32], stored: impl IntoIterator<Item = &'a [u8; 32]>) -> bool {
    stored
        .into_iter()
        .fold(subtle::Choice::from(0), |found, hash| {
            found | presented.ct_eq(hash)
        })
        .into()
}

impl SecretHasher {
    /// The hasher of this master key (and of the key it replaced, for verifying).
    pub fn new(master: &MasterKey) -> Self {
        Self {
            key: hmac_key(master),
            previous: master.previous().as_ref().map(hmac_key),
        }
    }

    /// HMAC-SHA-256 of the secret under the current key.
    pub fn hash(&self, secret: &ClientSecret) -> [u8; 32] {
        tag(&self.key, secret)
    }

    /// Whether the secret matches any stored hash, made under the current or (during a
    /// rotation) the previous master key. Every candidate is compared in constant time, and
    /// all of them are always compared.
    pub fn matches<'a>(
        &self,
        secret: &ClientSecret,
        stored: impl IntoIterator<Item = &'a [u8; 32]> + Clone,
    ) -> bool {
        let current = any_equal(&self.hash(secret), stored.clone());
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|key| any_equal(&tag(key, secret), stored));
        current | previous
    }

    /// During a rotation: the stored hash that was made under the previous master key for
    /// this secret, with its replacement under the current key.
    pub fn outdated<'a>(
        &self,
        secret: &ClientSecret,
        stored: impl IntoIterator<Item = &'a [u8; 32]>,
    ) -> Option<([u8; 32], [u8; 32])> {
        let previous = tag(self.previous.as_ref()?, secret);
        let hash = stored
            .into_iter()
            .find(|hash| bool::from(previous.ct_eq(*hash)))?;
        Some((*hash, self.hash(secret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_secrets_parse_and_have_the_documented_shape() {
        for _ in 0..200 {
            let secret = ClientSecret::generate();
            assert_eq!(secret.expose().len(), SECRET_LENGTH);
            assert!(secret.expose().starts_with("bss_"));
            assert!(ClientSecret::parse(secret.expose()).is_ok());
        }
    }

    #[test]
    fn a_single_typo_fails_the_checksum() {
        let secret = ClientSecret::generate();
        let text = secret.expose();
        for position in SECRET_PREFIX.len()..SECRET_LENGTH {
            let mut bytes = text.as_bytes().to_vec();
            bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(bytes).unwrap();
            assert!(
                ClientSecret::parse(&typo).is_err(),
                "typo at {position} accepted"
            );
        }
    }

    #[test]
    fn debug_is_redacted_and_hashes_match() {
        let master = MasterKey::generate().unwrap();
        let hasher = SecretHasher::new(&master);
        let secret = ClientSecret::generate();
        assert!(!format!("{secret:?}").contains(secret.expose()));
        let hash = hasher.hash(&secret);
        assert!(hasher.matches(&secret, [&[0u8; 32], &hash]));
        assert!(!hasher.matches(&ClientSecret::generate(), [&hash]));
        let other = SecretHasher::new(&MasterKey::generate().unwrap());
        assert!(!other.matches(&secret, [&hash]));
    }

    #[test]
    fn during_a_master_key_rotation_old_hashes_verify_and_are_replaced() {
        let old_master = MasterKey::generate().unwrap();
        let secret = ClientSecret::generate();
        let old_hash = SecretHasher::new(&old_master).hash(&secret);
        let new_master = MasterKey::generate().unwrap();
        assert!(new_master.previous().is_none());
        let rotating = SecretHasher::new(&MasterKey::generate().unwrap().with_previous(old_master));
        assert!(rotating.matches(&secret, [&old_hash]));
        let (stored, replacement) = rotating.outdated(&secret, [&[7u8; 32], &old_hash]).unwrap();
        assert_eq!(stored, old_hash);
        assert_eq!(replacement, rotating.hash(&secret));
        assert!(rotating.outdated(&secret, [&replacement]).is_none());
        assert!(!rotating.matches(&ClientSecret::generate(), [&old_hash]));
        assert!(SecretHasher::new(&new_master)
            .outdated(&secret, [&old_hash])
            .is_none());
    }

    proptest! {
        #[test]
        fn parse_never_panics(value in "\\PC{0,80}") {
            let _ = ClientSecret::parse(&value);
        }

        #[test]
        fn random_bodies_almost_never_pass(body in "[0-9A-Za-z]{49}") {
            // A random 49-character tail passes only if its last 6 characters happen to be
            // the CRC of the rest: probability 2^-32 per case.
            let candidate = format!("bss_{body}");
            prop_assert!(ClientSecret::parse(&candidate).is_err());
        }
    }
}
