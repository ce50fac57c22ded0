//! Signing keys: generation, encryption at rest, and the in-memory keyring.
//!
//! Each key lives through three states: `next` (published in the JWKS, not signing), `active`
//! (signing) and `retired` (published until every token it signed has expired, then pruned).
//! Rotation promotes the published next key, so verifiers that cache the JWKS already know it
//! before it signs anything. Private keys are stored only as AES-256-GCM ciphertext (the key id
//! is the associated data) under a key derived from the master key.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use brandstream_domain::{CredentialRules, UnixSeconds};
use brandstream_store::{KeyRotation, KeyState, SigningKeyRecord, Store};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::master::MasterKey;
use crate::AuthError;

/// Retired keys stay published this long after retirement: the longest token lifetime any
/// credential may have, plus the verification leeway.
pub const RETIRED_KEY_GRACE: i64 = CredentialRules::MAX_LIFETIME + 120;

/// The JWS algorithms we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys (the hosted service's algorithm).
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [SigningAlgorithm; 3] = [
        SigningAlgorithm::Rs256,
        SigningAlgorithm::Es256,
        SigningAlgorithm::EdDsa,
    ];

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses a JWS `alg` name (case-sensitive, as JWS requires; `eddsa` is accepted in
    /// configuration for convenience by [`SigningAlgorithm::from_config`]).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == value)
    }

    /// Parses the configuration value, case-insensitively.
    pub fn from_config(value: &str) -> Result<Self, AuthError> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| {
                AuthError::Config(format!(
                    "signing_alg must be RS256, ES256 or EdDSA, not '{}'",
                    value.chars().take(32).collect::<String>()
                ))
            })
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Encrypts and decrypts private keys at rest.
pub struct KeyEncryptor {
    key: LessSafeKey,
    /// The previous master key's, during a master-key rotation: decrypts, never encrypts.
    previous: Option<LessSafeKey>,
}

fn aead_key(master: &MasterKey) -> Result<LessSafeKey, AuthError> {
    let derived = master.derive("brandstream signing-key encryption v1");
    let unbound = UnboundKey::new(&aead::AES_256_GCM, derived.expose_secret())
        .map_err(|_| AuthError::Internal("AES-256-GCM key".into()))?;
    Ok(LessSafeKey::new(unbound))
}

impl KeyEncryptor {
    /// The encryptor of this master key (and of the key it replaced, for decrypting).
    pub fn new(master: &MasterKey) -> Result<Self, AuthError> {
        Ok(Self {
            key: aead_key(master)?,
            previous: master.previous().as_ref().map(aead_key).transpose()?,
        })
    }

    fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, AuthError> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| AuthError::Internal("the OS random number generator failed".into()))?;
        let mut buffer = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| AuthError::Internal("encrypting a signing key failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(out)
    }

    fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, AuthError> {
        if sealed.len() < aead::NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return Err(AuthError::Internal(format!(
                "signing key {kid} is truncated"
            )));
        }
        let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
        for key in std::iter::once(&self.key).chain(self.previous.as_ref()) {
            let nonce = Nonce::try_assume_unique_for_key(nonce)
                .map_err(|_| AuthError::Internal("nonce length".into()))?;
            let mut buffer = ciphertext.to_vec();
            if let Ok(plaintext) = key.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            {
                return Ok(plaintext.to_vec());
            }
        }
        Err(AuthError::Config(format!(
            "signing key {kid} cannot be decrypted: is this the master key it was created with? \
             (every node must use the same BRANDSTREAM_MASTER_KEY; during a rotation set \
             BRANDSTREAM_MASTER_KEY_PREVIOUS too)"
        )))
    }

    /// Re-encrypts under the current key a private key sealed under the previous one;
    /// `None` when it is already under the current key.
    fn reseal(&self, kid: &str, sealed: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        if sealed.len() >= aead::NONCE_LEN {
            let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
            let nonce = Nonce::try_assume_unique_for_key(nonce)
                .map_err(|_| AuthError::Internal("nonce length".into()))?;
            let mut buffer = ciphertext.to_vec();
            if self
                .key
                .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
                .is_ok()
            {
                return Ok(None);
            }
        }
        let plaintext = self.open(kid, sealed)?;
        Ok(Some(self.seal(kid, &plaintext)?))
    }
}

/// A private key ready to sign.
pub enum Signer {
    /// RS256.
    Rsa(RsaKeyPair),
    /// ES256.
    Ecdsa(EcdsaKeyPair),
    /// EdDSA.
    Ed25519(Ed25519KeyPair),
}

impl Signer {
    /// Loads a PKCS#8 private key.
    pub fn from_pkcs8(alg: SigningAlgorithm, pkcs8: &[u8]) -> Result<Self, AuthError> {
        let rejected =
            |e: aws_lc_rs::error::KeyRejected| AuthError::Internal(format!("bad {alg} key: {e}"));
        Ok(match alg {
            SigningAlgorithm::Rs256 => {
                Signer::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?)
            }
            SigningAlgorithm::Es256 => Signer::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(rejected)?,
            ),
            SigningAlgorithm::EdDsa => Signer::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(rejected)?,
            ),
        })
    }

    /// Signs `message`, returning the JWS signature bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AuthError> {
        let failed = |_| AuthError::Internal("signing failed".into());
        match self {
            Signer::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
            Signer::Ecdsa(pair) => Ok(pair
                .sign(&SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// A public key that verifies signatures of one algorithm.
#[derive(Clone)]
pub struct VerificationKey {
    /// Its algorithm; a token whose header names another is rejected.
    pub alg: SigningAlgorithm,
    material: PublicMaterial,
}

#[derive(Clone)]
enum PublicMaterial {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Raw(Vec<u8>),
}

impl VerificationKey {
    /// Parses our own stored public JWK.
    pub fn from_jwk(alg: SigningAlgorithm, jwk: &serde_json::Value) -> Result<Self, AuthError> {
        let field = |name: &str| -> Result<Vec<u8>, AuthError> {
            jwk.get(name)
                .and_then(|v| v.as_str())
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .ok_or_else(|| AuthError::Internal(format!("stored JWK lacks {name}")))
        };
        let material = match alg {
            SigningAlgorithm::Rs256 => PublicMaterial::Rsa {
                n: field("n")?,
                e: field("e")?,
            },
            SigningAlgorithm::Es256 => {
                let mut point = vec![0x04];
                point.extend(field("x")?);
                point.extend(field("y")?);
                PublicMaterial::Raw(point)
            }
            SigningAlgorithm::EdDsa => PublicMaterial::Raw(field("x")?),
        };
        Ok(Self { alg, material })
    }

    /// Whether `signature` is valid for `message`.
    pub fn verify(&self, message: &[u8], signature_bytes: &[u8]) -> bool {
        match (&self.material, self.alg) {
            (PublicMaterial::Rsa { n, e }, _) => signature::RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    signature_bytes,
                )
                .is_ok(),
            (PublicMaterial::Raw(point), SigningAlgorithm::Es256) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature_bytes)
                    .is_ok()
            }
            (PublicMaterial::Raw(point), _) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, point)
                    .verify(message, signature_bytes)
                    .is_ok()
            }
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 thumbprint of the required public members, used as the key id.
fn thumbprint(canonical: &str) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

/// Generates a key pair: its PKCS#8 private key and public JWK (with `kid`, `alg`, `use`).
pub fn generate_key_pair(alg: SigningAlgorithm) -> Result<(Vec<u8>, serde_json::Value), AuthError> {
    let rng = SystemRandom::new();
    let random_failed = |_| AuthError::Internal("key generation failed".into());
    let (pkcs8, mut jwk, canonical) = match alg {
        SigningAlgorithm::Rs256 => {
            use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
            use aws_lc_rs::rsa::KeySize;
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(random_failed)?;
            let der: Pkcs8V1Der<'static> = pair
                .as_der()
                .map_err(|_| AuthError::Internal("RSA key encoding".into()))?;
            let public = pair.public_key();
            let (n, e) = (
                b64(public.modulus().big_endian_without_leading_zero()),
                b64(public.exponent().big_endian_without_leading_zero()),
            );
            let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
            (
                der.as_ref().to_vec(),
                json!({"kty": "RSA", "n": n, "e": e}),
                canonical,
            )
        }
        SigningAlgorithm::Es256 => {
            let document =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(random_failed)?;
            let pair = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                document.as_ref(),
            )
            .map_err(|_| AuthError::Internal("P-256 key".into()))?;
            let point = pair.public_key().as_ref();
            let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
            let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            (
                document.as_ref().to_vec(),
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                canonical,
            )
        }
        SigningAlgorithm::EdDsa => {
            let document = Ed25519KeyPair::generate_pkcs8(&rng).map_err(random_failed)?;
            let pair = Ed25519KeyPair::from_pkcs8(document.as_ref())
                .map_err(|_| AuthError::Internal("Ed25519 key".into()))?;
            let x = b64(pair.public_key().as_ref());
            let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
            (
                document.as_ref().to_vec(),
                json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                canonical,
            )
        }
    };
    jwk["kid"] = json!(thumbprint(&canonical));
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    Ok((pkcs8, jwk))
}

/// Generates a key and returns it as a storable record in `state`.
pub fn generate_key_record(
    alg: SigningAlgorithm,
    state: KeyState,
    encryptor: &KeyEncryptor,
    now: UnixSeconds,
) -> Result<SigningKeyRecord, AuthError> {
    let (pkcs8, jwk) = generate_key_pair(alg)?;
    let kid = jwk["kid"].as_str().unwrap_or_default().to_owned();
    Ok(SigningKeyRecord {
        private_key_encrypted: encryptor.seal(&kid, &pkcs8)?,
        kid,
        alg: alg.as_str().to_owned(),
        state,
        public_jwk: jwk.to_string(),
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
    })
}

/// The key that signs new tokens, with its precomputed JWS header.
pub struct ActiveKey {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlgorithm,
    /// base64url of the JWS header `{"alg","typ":"at+jwt","kid"}`.
    pub encoded_header: String,
    /// When it started signing.
    pub activated_at: UnixSeconds,
    /// The private key.
    pub signer: Signer,
}

/// An immutable view of the keyring; replaced whole when keys change.
pub struct KeyringSnapshot {
    /// The signing key.
    pub active: ActiveKey,
    /// Every published key by `kid`.
    pub verifiers: HashMap<String, VerificationKey>,
    /// The serialised JWKS document.
    pub jwks: Arc<str>,
    /// What was loaded, for `keys list` and change detection (no private material).
    pub summary: Vec<KeySummary>,
}

/// Public facts about one key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeySummary {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// next | active | retired.
    pub state: KeyState,
    /// Creation time.
    pub created_at: UnixSeconds,
    /// When it started signing.
    pub activated_at: Option<UnixSeconds>,
    /// When it stopped signing.
    pub retired_at: Option<UnixSeconds>,
}

/// The signing keyring: loads keys from the store, signs with the active one, and rotates.
pub struct Keyring {
    store: Arc<dyn Store>,
    encryptor: KeyEncryptor,
    algorithm: SigningAlgorithm,
    current: RwLock<Arc<KeyringSnapshot>>,
}

impl Keyring {
    /// Opens the keyring: creates the first active and next keys on an empty store, switches
    /// to `algorithm` if the active key uses another one, and loads everything.
    pub async fn open(
        store: Arc<dyn Store>,
        master: &MasterKey,
        algorithm: SigningAlgorithm,
    ) -> Result<Self, AuthError> {
        let encryptor = KeyEncryptor::new(master)?;
        let mut records = store.list_signing_keys().await?;
        if records.is_empty() {
            let now = brandstream_domain::now_unix();
            let active = generate_key_record(algorithm, KeyState::Active, &encryptor, now)?;
            let next = generate_key_record(algorithm, KeyState::Next, &encryptor, now)?;
            if store.bootstrap_signing_keys(&active, &next).await? {
                tracing::info!(kid = %active.kid, alg = %algorithm, "created the first signing keys");
            }
            records = store.list_signing_keys().await?;
        }
        let snapshot = build_snapshot(&encryptor, &records)?;
        let keyring = Self {
            store,
            encryptor,
            algorithm,
            current: RwLock::new(Arc::new(snapshot)),
        };
        if keyring.snapshot().active.alg != algorithm {
            tracing::info!(
                from = %keyring.snapshot().active.alg,
                to = %algorithm,
                "the configured signing algorithm changed; rotating to a new key"
            );
            keyring.rotate().await?;
        }
        Ok(keyring)
    }

    /// The current view.
    pub fn snapshot(&self) -> Arc<KeyringSnapshot> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The configured signing algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// Reloads from the store if the set of keys or their states changed. Returns whether
    /// anything changed.
    pub async fn reload(&self) -> Result<bool, AuthError> {
        let records = self.store.list_signing_keys().await?;
        let summary: Vec<KeySummary> = records.iter().map(summarize).collect();
        if summary == self.snapshot().summary {
            return Ok(false);
        }
        let snapshot = build_snapshot(&self.encryptor, &records)?;
        tracing::info!(active = %snapshot.active.kid, keys = snapshot.verifiers.len(), "signing keys reloaded");
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
        Ok(true)
    }

    /// Re-encrypts under the current master key every stored private key still sealed under
    /// the previous one (the second step of a master-key rotation). Returns how many.
    pub async fn rewrap(&self) -> Result<usize, AuthError> {
        let mut rewrapped = 0;
        for record in self.store.list_signing_keys().await? {
            if let Some(sealed) = self
                .encryptor
                .reseal(&record.kid, &record.private_key_encrypted)?
            {
                if self
                    .store
                    .rewrap_signing_key(&record.kid, &record.private_key_encrypted, &sealed)
                    .await?
                {
                    rewrapped += 1;
                }
            }
        }
        Ok(rewrapped)
    }

    /// Rotates: the published next key starts signing, the active key retires, and a new next
    /// key is published. If the next key has another algorithm than the configured one, a new
    /// key of the configured algorithm signs at once instead. Returns the new active key id.
    pub async fn rotate(&self) -> Result<String, AuthError> {
        self.reload().await?;
        let active = self.snapshot().active.kid.clone();
        Ok(self.rotate_from(&active).await?.0)
    }

    /// Rotates only if `expected_active` is still the active key in the store (compare and
    /// swap), so processes racing to rotate the same key rotate it once. Returns the active key
    /// id afterwards and whether this call rotated.
    async fn rotate_from(&self, expected_active: &str) -> Result<(String, bool), AuthError> {
        let snapshot = self.snapshot();
        let now = brandstream_domain::now_unix();
        let next_matches = snapshot
            .summary
            .iter()
            .any(|key| key.state == KeyState::Next && key.alg == self.algorithm.as_str());
        let new_active = if next_matches {
            None
        } else {
            Some(generate_key_record(
                self.algorithm,
                KeyState::Active,
                &self.encryptor,
                now,
            )?)
        };
        let new_next = generate_key_record(self.algorithm, KeyState::Next, &self.encryptor, now)?;
        let rotated = self
            .store
            .rotate_signing_keys(&KeyRotation {
                expected_active,
                new_active: new_active.as_ref(),
                new_next: &new_next,
                at: now,
            })
            .await?;
        if !rotated {
            tracing::info!("another process rotated the signing keys first");
        }
        self.reload().await?;
        let active = self.snapshot().active.kid.clone();
        if rotated {
            tracing::info!(kid = %active, "signing keys rotated");
        }
        Ok((active, rotated))
    }

    /// Periodic upkeep: rotates when the active key is older than `rotation_period` seconds
    /// (if non-zero) and prunes retired keys past their grace period. Returns whether it
    /// rotated.
    pub async fn maintain(&self, rotation_period: i64) -> Result<bool, AuthError> {
        let now = brandstream_domain::now_unix();
        let pruned = self
            .store
            .prune_signing_keys(now - RETIRED_KEY_GRACE)
            .await?;
        if pruned > 0 {
            tracing::info!(pruned, "pruned retired signing keys");
        }
        if rotation_period <= 0 {
            if pruned > 0 {
                self.reload().await?;
            }
            return Ok(false);
        }
        // Decide on the store's current state, so a rotation another process just made is
        // not repeated.
        self.reload().await?;
        let snapshot = self.snapshot();
        if snapshot.active.activated_at + rotation_period > now {
            return Ok(false);
        }
        Ok(self.rotate_from(&snapshot.active.kid).await?.1)
    }
}

fn summarize(record: &SigningKeyRecord) -> KeySummary {
    KeySummary {
        kid: record.kid.clone(),
        alg: record.alg.clone(),
        state: record.state,
        created_at: record.created_at,
        activated_at: record.activated_at,
        retired_at: record.retired_at,
    }
}

fn build_snapshot(
    encryptor: &KeyEncryptor,
    records: &[SigningKeyRecord],
) -> Result<KeyringSnapshot, AuthError> {
    let mut active = None;
    let mut verifiers = HashMap::new();
    let mut published = Vec::new();
    for record in records {
        let Some(alg) = SigningAlgorithm::parse(&record.alg) else {
            tracing::warn!(kid = %record.kid, alg = %record.alg, "skipping a key of unknown algorithm");
            continue;
        };
        let jwk: serde_json::Value = serde_json::from_str(&record.public_jwk)
            .map_err(|e| AuthError::Internal(format!("stored JWK of {}: {e}", record.kid)))?;
        verifiers.insert(record.kid.clone(), VerificationKey::from_jwk(alg, &jwk)?);
        published.push(jwk);
        if record.state == KeyState::Active {
            let pkcs8 = encryptor.open(&record.kid, &record.private_key_encrypted)?;
            let header = json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": record.kid});
            active = Some(ActiveKey {
                kid: record.kid.clone(),
                alg,
                encoded_header: b64(header.to_string().as_bytes()),
                activated_at: record.activated_at.unwrap_or(record.created_at),
                signer: Signer::from_pkcs8(alg, &pkcs8)?,
            });
        }
    }
    let active =
        active.ok_or_else(|| AuthError::Internal("the keyring has no active key".into()))?;
    let jwks: Arc<str> = json!({ "keys": published }).to_string().into();
    Ok(KeyringSnapshot {
        active,
        verifiers,
        jwks,
        summary: records.iter().map(summarize).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in SigningAlgorithm::ALL {
            let (pkcs8, jwk) = generate_key_pair(alg).unwrap();
            let signer = Signer::from_pkcs8(alg, &pkcs8).unwrap();
            let verifier = VerificationKey::from_jwk(alg, &jwk).unwrap();
            let signature = signer.sign(b"header.payload").unwrap();
            assert!(verifier.verify(b"header.payload", &signature), "{alg}");
            assert!(!verifier.verify(b"header.payloaD", &signature), "{alg}");
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["kid"].as_str().unwrap().len(), 43);
        }
    }

    #[test]
    fn encryption_is_bound_to_the_kid_and_the_master_key() {
        let master = MasterKey::generate().unwrap();
        let encryptor = KeyEncryptor::new(&master).unwrap();
        let sealed = encryptor.seal("kid-1", b"private").unwrap();
        assert_eq!(encryptor.open("kid-1", &sealed).unwrap(), b"private");
        assert!(encryptor.open("kid-2", &sealed).is_err());
        let other = KeyEncryptor::new(&MasterKey::generate().unwrap()).unwrap();
        assert!(other.open("kid-1", &sealed).is_err());
    }

    #[test]
    fn configuration_names_are_case_insensitive() {
        assert_eq!(
            SigningAlgorithm::from_config("eddsa").unwrap(),
            SigningAlgorithm::EdDsa
        );
        assert!(SigningAlgorithm::from_config("HS256").is_err());
        assert!(SigningAlgorithm::parse("none").is_none());
    }
}

#[cfg(test)]
mod keyring_tests {
    use super::*;
    use brandstream_store::SqliteStore;

    async fn keyring(
        alg: SigningAlgorithm,
    ) -> (tempfile::TempDir, Arc<dyn Store>, MasterKey, Keyring) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("db")).await.unwrap());
        let master = MasterKey::generate().unwrap();
        let keyring = Keyring::open(Arc::clone(&store), &master, alg)
            .await
            .unwrap();
        (dir, store, master, keyring)
    }

    #[tokio::test]
    async fn a_master_key_rotation_rewraps_the_stored_keys() {
        let (_dir, store, old_master, keyring) = keyring(SigningAlgorithm::EdDsa).await;
        let kids: Vec<String> = keyring
            .snapshot()
            .summary
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        drop(keyring);
        let old_copy = MasterKey::from_base64(&old_master.to_base64()).unwrap();
        let new_master = MasterKey::generate().unwrap();
        let new_copy = MasterKey::from_base64(&new_master.to_base64()).unwrap();
        // The new key alone cannot read the keyring; with the old one as previous it can.
        assert!(
            Keyring::open(Arc::clone(&store), &new_copy, SigningAlgorithm::EdDsa)
                .await
                .is_err()
        );
        let rotating = new_master.with_previous(old_copy);
        let keyring = Keyring::open(Arc::clone(&store), &rotating, SigningAlgorithm::EdDsa)
            .await
            .unwrap();
        assert_eq!(keyring.rewrap().await.unwrap(), kids.len());
        assert_eq!(keyring.rewrap().await.unwrap(), 0);
        let reopened = Keyring::open(Arc::clone(&store), &new_copy, SigningAlgorithm::EdDsa)
            .await
            .unwrap();
        let after: Vec<String> = reopened
            .snapshot()
            .summary
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        assert_eq!(after, kids);
        assert!(Keyring::open(store, &old_master, SigningAlgorithm::EdDsa)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn automatic_rotation_promotes_the_published_next_key_and_prunes_expired_ones() {
        let (_dir, store, _master, keyring) = keyring(SigningAlgorithm::EdDsa).await;
        let first = keyring.snapshot();
        let next = first
            .summary
            .iter()
            .find(|k| k.state == KeyState::Next)
            .unwrap()
            .kid
            .clone();
        assert!(
            !keyring.maintain(3600).await.unwrap(),
            "rotated a fresh key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert!(keyring.maintain(1).await.unwrap());
        let second = keyring.snapshot();
        assert_eq!(second.active.kid, next);
        assert!(
            second.verifiers.contains_key(&first.active.kid),
            "retired key unpublished"
        );
        assert_eq!(second.verifiers.len(), 3);

        // A key retired longer ago than the longest token lifetime is pruned by upkeep.
        let encryptor = KeyEncryptor::new(&MasterKey::generate().unwrap()).unwrap();
        let now = brandstream_domain::now_unix();
        let newer =
            generate_key_record(SigningAlgorithm::EdDsa, KeyState::Next, &encryptor, now).unwrap();
        let long_ago = now - RETIRED_KEY_GRACE - 10;
        assert!(store
            .rotate_signing_keys(&KeyRotation {
                expected_active: &second.active.kid,
                new_active: None,
                new_next: &newer,
                at: long_ago,
            })
            .await
            .unwrap());
        keyring.reload().await.unwrap();
        assert!(keyring
            .snapshot()
            .verifiers
            .contains_key(&second.active.kid));
        keyring.maintain(0).await.unwrap();
        let third = keyring.snapshot();
        assert!(
            !third.verifiers.contains_key(&second.active.kid),
            "expired retired key still published"
        );
        assert!(
            third.verifiers.contains_key(&first.active.kid),
            "unexpired retired key pruned"
        );
    }

    #[tokio::test]
    async fn a_configured_algorithm_change_rotates_at_once() {
        let (_dir, store, master, keyring) = keyring(SigningAlgorithm::Rs256).await;
        let before = keyring.snapshot().active.kid.clone();
        drop(keyring);
        let switched = Keyring::open(Arc::clone(&store), &master, SigningAlgorithm::Es256)
            .await
            .unwrap();
        let snapshot = switched.snapshot();
        assert_eq!(snapshot.active.alg, SigningAlgorithm::Es256);
        assert!(
            snapshot.verifiers.contains_key(&before),
            "the old RS256 key must stay published"
        );
        assert!(snapshot
            .summary
            .iter()
            .any(|k| k.state == KeyState::Next && k.alg == "ES256"));
    }

    #[tokio::test]
    async fn concurrent_rotations_rotate_once() {
        let (_dir, store, master, keyring) = keyring(SigningAlgorithm::EdDsa).await;
        let other = Keyring::open(Arc::clone(&store), &master, SigningAlgorithm::EdDsa)
            .await
            .unwrap();
        let before = keyring.snapshot().active.kid.clone();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        // Two processes find the key due at the same moment: one rotation happens.
        let (a, b) = tokio::join!(keyring.maintain(1), other.maintain(1));
        assert!(a.unwrap() ^ b.unwrap(), "exactly one of them rotates");
        keyring.reload().await.unwrap();
        other.reload().await.unwrap();
        let (a, b) = (
            keyring.snapshot().active.kid.clone(),
            other.snapshot().active.kid.clone(),
        );
        assert_ne!(a, before);
        assert_eq!(a, b, "both keyrings must end on the same active key");
        let keys = store.list_signing_keys().await.unwrap();
        let retired = keys.iter().filter(|k| k.state == KeyState::Retired).count();
        assert_eq!(retired, 1, "two concurrent rotations must rotate once");
    }
}

#[cfg(test)]
mod verification_tests {
    use super::*;
    use crate::jwt::{decode, encode, AccessTokenClaims, TokenError};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use brandstream_store::SqliteStore;

    fn claims(now: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://issuer.example/".into(),
            sub: "client@clients".into(),
            aud: "https://api.sitecorecloud.io".into(),
            iat: now,
            exp: now + 3600,
            jti: "jti-1".into(),
            azp: "client".into(),
            client_id: "client".into(),
            gty: "client-credentials".into(),
            scope: "ai.org.brd:r".into(),
            org_id: "org_AAAAAAAAAAAAAAAA".into(),
        }
    }

    #[tokio::test]
    async fn validly_signed_tokens_are_still_checked_for_time_issuer_and_audience() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("db")).await.unwrap());
        let keyring = Keyring::open(
            store,
            &MasterKey::generate().unwrap(),
            SigningAlgorithm::Es256,
        )
        .await
        .unwrap();
        let snapshot = keyring.snapshot();
        let now = brandstream_domain::now_unix();
        let audiences = vec!["https://api.sitecorecloud.io".to_owned()];
        let check = |claims: &AccessTokenClaims| {
            let token = encode(&snapshot.active, claims).unwrap();
            decode(
                &snapshot,
                &token,
                "https://issuer.example/",
                &audiences,
                now,
            )
            .map(|_| ())
        };
        assert_eq!(check(&claims(now)), Ok(()));
        let mut expired = claims(now - 7200);
        expired.exp = now - 61;
        assert_eq!(check(&expired), Err(TokenError::Expired));
        // Our own tokens are judged on our own clock: no leeway past `exp`.
        let mut just_expired = claims(now - 7200);
        just_expired.exp = now;
        assert_eq!(check(&just_expired), Err(TokenError::Expired));
        let mut last_second = claims(now - 7200);
        last_second.exp = now + 1;
        assert_eq!(check(&last_second), Ok(()));
        assert_eq!(check(&claims(now + 600)), Err(TokenError::NotYetValid));
        // A validly signed token with a `crit` header is refused whatever `crit` holds
        // (RFC 7515 §4.1.11): we understand no extension, and null or [] are invalid.
        for crit in [
            serde_json::Value::Null,
            serde_json::json!([]),
            serde_json::json!("exp"),
            serde_json::json!(["exp"]),
        ] {
            let header = serde_json::json!({
                "alg": snapshot.active.alg.as_str(), "typ": "at+jwt", "kid": snapshot.active.kid,
                "crit": crit,
            });
            let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now)).unwrap()));
            let signature = snapshot.active.signer.sign(token.as_bytes()).unwrap();
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(signature));
            let refused = decode(
                &snapshot,
                &token,
                "https://issuer.example/",
                &audiences,
                now,
            );
            assert_eq!(
                refused.map(|_| ()),
                Err(TokenError::Malformed),
                "crit {crit}"
            );
        }
        let mut issuer = claims(now);
        issuer.iss = "https://other.example/".into();
        assert_eq!(check(&issuer), Err(TokenError::WrongIssuer));
        let mut audience = claims(now);
        audience.aud = "https://other.example".into();
        assert_eq!(check(&audience), Err(TokenError::WrongAudience));
    }
}
