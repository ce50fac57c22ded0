//! The master key: 32 random bytes from which every other server key is derived with HKDF.
//!
//! It comes from configuration (`BRANDSTREAM_MASTER_KEY`, base64) or from the file
//! `master.key` in the data dir, created with mode 0600 on first start. Derived keys:
//! the HMAC key that hashes client secrets and the AES-256-GCM key that encrypts signing keys
//! at rest. Nothing derived from it is ever logged or stored.
//!
//! Rotating it: a key may carry the one it replaces (`BRANDSTREAM_MASTER_KEY_PREVIOUS`). Then
//! stored signing keys still decrypt and stored secret hashes still verify under the previous
//! key, while everything new is made under the current one; `brandstream admin keys rewrap`
//! re-encrypts the signing keys and each secret is re-hashed the first time it is used.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretBox};

use crate::AuthError;

/// File name of the master key inside the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The server's root secret, with the key it replaced while a rotation is under way.
pub struct MasterKey {
    current: SecretBox<[u8; 32]>,
    previous: Option<SecretBox<[u8; 32]>>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// HKDF output length marker for 32-byte keys.
struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl MasterKey {
    /// Decodes a base64 master key (32 bytes).
    pub fn from_base64(encoded: &str) -> Result<Self, AuthError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| AuthError::Config("the master key is not valid base64".into()))?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| AuthError::Config("the master key must be 32 bytes (base64)".into()))?;
        Ok(Self {
            current: SecretBox::new(Box::new(array)),
            previous: None,
        })
    }

    /// This key, still accepting what `previous` encrypted or hashed (a master-key rotation).
    pub fn with_previous(mut self, previous: Self) -> Self {
        self.previous = Some(previous.current);
        self
    }

    /// The key this one replaced, if a rotation is under way.
    pub fn previous(&self) -> Option<Self> {
        self.previous.as_ref().map(|previous| Self {
            current: SecretBox::new(Box::new(*previous.expose_secret())),
            previous: None,
        })
    }

    /// A fresh random master key.
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| AuthError::Internal("the OS random number generator failed".into()))?;
        Ok(Self {
            current: SecretBox::new(Box::new(bytes)),
            previous: None,
        })
    }

    /// The key from `configured` (base64) if given, otherwise from `DATA_DIR/master.key`,
    /// creating that file (mode 0600) when `create` is true and it does not exist.
    /// Returns the key and whether a file was created.
    pub fn load_or_create(
        configured: Option<&str>,
        data_dir: &Path,
        create: bool,
    ) -> Result<(Self, bool), AuthError> {
        if let Some(encoded) = configured {
            return Ok((Self::from_base64(encoded)?, false));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(encoded) => {
                check_permissions(&path)?;
                Ok((Self::from_base64(&encoded)?, false))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
                let key = Self::generate()?;
                write_private_file(&path, key.to_base64().as_bytes())?;
                Ok((key, true))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(AuthError::Config(
                format!(
                    "no master key: set BRANDSTREAM_MASTER_KEY or start the server once to create {}",
                    path.display()
                ),
            )),
            Err(error) => Err(AuthError::Config(format!(
                "cannot read {}: {error}",
                path.display()
            ))),
        }
    }

    /// The key as base64, for writing the key file.
    pub(crate) fn to_base64(&self) -> String {
        STANDARD.encode(self.current.expose_secret())
    }

    /// Derives a purpose-bound 32-byte key.
    pub(crate) fn derive(&self, purpose: &'static str) -> SecretBox<[u8; 32]> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"brandstream master key v1");
        let prk = salt.extract(self.current.expose_secret());
        let mut out = [0u8; 32];
        // HKDF-SHA256 can always produce 32 bytes; failure here is impossible.
        #[allow(clippy::expect_used)]
        prk.expand(&[purpose.as_bytes()], Len32)
            .and_then(|okm| okm.fill(&mut out))
            .expect("HKDF expand of 32 bytes");
        SecretBox::new(Box::new(out))
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), AuthError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| AuthError::Config(format!("cannot stat {}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "the master key file is readable by other users; chmod 600 it"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), AuthError> {
    Ok(())
}

/// Writes a file readable only by its owner, atomically (temporary file, fsync, rename).
fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), AuthError> {
    let temporary = path.with_extension("tmp");
    let io_error =
        |e: std::io::Error| AuthError::Config(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = std::fs::remove_file(&temporary);
    let mut file = options.open(&temporary).map_err(io_error)?;
    file.write_all(contents).map_err(io_error)?;
    file.write_all(b"\n").map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    drop(file);
    // Never replace an existing key: a second process may have created one meanwhile.
    std::fs::hard_link(&temporary, path).map_err(io_error)?;
    let _ = std::fs::remove_file(&temporary);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = MasterKey::load_or_create(None, dir.path(), true).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, created) = MasterKey::load_or_create(None, dir.path(), true).unwrap();
        assert!(!created);
        assert_eq!(
            first.derive("x").expose_secret(),
            second.derive("x").expose_secret()
        );
        assert_ne!(
            first.derive("x").expose_secret(),
            first.derive("y").expose_secret()
        );
    }

    #[test]
    fn configured_key_must_be_32_bytes() {
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
        let dir = tempfile::tempdir().unwrap();
        assert!(MasterKey::load_or_create(None, dir.path(), false).is_err());
    }
}
