//! Administration of organisations and credentials, shared by the admin CLI and the portal.
//!
//! Every change is written to the audit trail directly (these calls are rare; the batching
//! sink is for the token endpoint's hot path).

use std::sync::Arc;

use brandstream_domain::{now_unix, ClientId, Description, Label, OrgId, ScopeSet, TokenLifetime};
use brandstream_store::{AuditEvent, ClientRecord, NewClient, NewSecret, Org, Store};
use serde_json::json;

use crate::secret::{ClientSecret, SecretHasher};
use crate::AuthError;

/// Active secrets a credential may have at once (old and new during a rotation).
pub const MAX_ACTIVE_SECRETS: usize = 2;
/// Longest organisation name.
pub const ORG_NAME_MAX: usize = 100;

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateCredential {
    /// Owning organisation.
    pub org_id: OrgId,
    /// Label, 1–100 characters.
    pub label: String,
    /// Optional description, at most 500 characters.
    pub description: Option<String>,
    /// Granted scopes; all five when `None`.
    pub scopes: Option<ScopeSet>,
    /// Token lifetime in seconds; 86400 when `None`.
    pub expires_in: Option<i64>,
}

/// A created credential and its secret, which is never available again.
#[derive(Debug)]
pub struct CreatedCredential {
    /// The stored credential.
    pub client: ClientRecord,
    /// The secret, to show once.
    pub secret: ClientSecret,
}

/// Organisation and credential administration.
pub struct CredentialAdmin {
    store: Arc<dyn Store>,
    hasher: Arc<SecretHasher>,
}

fn new_secret(hasher: &SecretHasher) -> (ClientSecret, NewSecret) {
    let secret = ClientSecret::generate();
    let stored = NewSecret {
        hash: hasher.hash(&secret),
        hint: secret.hint(),
        created_at: now_unix(),
    };
    (secret, stored)
}

impl CredentialAdmin {
    /// An administrator over `store`.
    pub fn new(store: Arc<dyn Store>, hasher: Arc<SecretHasher>) -> Self {
        Self { store, hasher }
    }

    async fn audit(
        &self,
        org_id: &OrgId,
        kind: &str,
        client_id: Option<&ClientId>,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<(), AuthError> {
        self.store
            .append_audit_events(vec![AuditEvent {
                id: 0,
                at: now_unix(),
                org_id: Some(org_id.to_string()),
                kind: kind.to_owned(),
                client_id: client_id.map(ToString::to_string),
                actor: actor.to_owned(),
                source_address: None,
                detail,
            }])
            .await?;
        Ok(())
    }

    /// Creates an organisation.
    pub async fn create_org(&self, name: &str, is_default: bool) -> Result<Org, AuthError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > ORG_NAME_MAX
            || name.chars().any(char::is_control)
        {
            return Err(AuthError::Validation(format!(
                "the organisation name must be 1 to {ORG_NAME_MAX} characters without control characters"
            )));
        }
        let org = Org {
            id: OrgId::generate(),
            name: name.to_owned(),
            is_default,
            created_at: now_unix(),
        };
        self.store.create_org(&org).await?;
        Ok(org)
    }

    /// The default organisation, created (named "Default organisation") if there is none.
    /// Returns it and whether it was created now.
    pub async fn ensure_default_org(&self) -> Result<(Org, bool), AuthError> {
        if let Some(org) = self.store.default_org().await? {
            return Ok((org, false));
        }
        match self.create_org("Default organisation", true).await {
            Ok(org) => Ok((org, true)),
            // Another process created it at the same moment.
            Err(AuthError::Conflict(_)) => self
                .store
                .default_org()
                .await?
                .map(|org| (org, false))
                .ok_or(AuthError::NotFound("default organisation")),
            Err(error) => Err(error),
        }
    }

    /// Every organisation.
    pub async fn list_orgs(&self) -> Result<Vec<Org>, AuthError> {
        Ok(self.store.list_orgs().await?)
    }

    async fn require_org(&self, org_id: &OrgId) -> Result<Org, AuthError> {
        self.store
            .get_org(org_id)
            .await?
            .ok_or(AuthError::NotFound("organisation"))
    }

    /// Creates a credential and returns its secret (once).
    pub async fn create_credential(
        &self,
        request: CreateCredential,
        actor: &str,
    ) -> Result<CreatedCredential, AuthError> {
        let invalid =
            |e: brandstream_domain::credential::FieldError| AuthError::Validation(e.to_string());
        let label = Label::parse(&request.label).map_err(invalid)?;
        let description =
            Description::parse(request.description.as_deref().unwrap_or("")).map_err(invalid)?;
        let lifetime = match request.expires_in {
            Some(seconds) => TokenLifetime::new(seconds).map_err(invalid)?,
            None => TokenLifetime::default(),
        };
        let scopes = request.scopes.unwrap_or_else(ScopeSet::all);
        if scopes.is_empty() {
            return Err(AuthError::Validation(
                "a credential needs at least one scope".into(),
            ));
        }
        self.require_org(&request.org_id).await?;
        let (secret, stored) = new_secret(&self.hasher);
        let client = NewClient {
            client_id: ClientId::generate(),
            org_id: request.org_id.clone(),
            label: label.as_str().to_owned(),
            description: description.as_str().to_owned(),
            scopes,
            token_lifetime: lifetime.seconds(),
            created_at: now_unix(),
        };
        self.store.create_client(&client, &stored).await?;
        self.audit(
            &client.org_id,
            "credential.created",
            Some(&client.client_id),
            actor,
            json!({"label": client.label, "scopes": scopes.names(), "expires_in": client.token_lifetime}),
        )
        .await?;
        let record = self
            .store
            .get_client(&client.client_id)
            .await?
            .ok_or(AuthError::NotFound("credential"))?;
        Ok(CreatedCredential {
            client: record,
            secret,
        })
    }

    /// An organisation's credentials (never their secrets).
    pub async fn list_credentials(&self, org_id: &OrgId) -> Result<Vec<ClientRecord>, AuthError> {
        self.require_org(org_id).await?;
        Ok(self.store.list_clients(org_id).await?)
    }

    /// One credential.
    pub async fn get_credential(&self, client_id: &ClientId) -> Result<ClientRecord, AuthError> {
        self.store
            .get_client(client_id)
            .await?
            .ok_or(AuthError::NotFound("credential"))
    }

    /// Revokes a credential: all its secrets stop working and its tokens are rejected.
    /// Returns false when it was already revoked.
    pub async fn revoke_credential(
        &self,
        client_id: &ClientId,
        actor: &str,
    ) -> Result<bool, AuthError> {
        let client = self.get_credential(client_id).await?;
        let revoked = self.store.revoke_client(client_id, now_unix()).await?;
        if revoked {
            self.audit(
                &client.org_id,
                "credential.revoked",
                Some(client_id),
                actor,
                json!({}),
            )
            .await?;
        }
        Ok(revoked)
    }

    /// Adds a new secret; the previous one stays valid. With two already active, the older is
    /// retired first.
    pub async fn rotate_secret(
        &self,
        client_id: &ClientId,
        actor: &str,
    ) -> Result<ClientSecret, AuthError> {
        let client = self.get_credential(client_id).await?;
        let (secret, stored) = new_secret(&self.hasher);
        self.store
            .add_secret(client_id, &stored, MAX_ACTIVE_SECRETS)
            .await?;
        self.audit(
            &client.org_id,
            "credential.secret_rotated",
            Some(client_id),
            actor,
            json!({"hint": stored.hint, "retired_older": client.secrets.len() >= MAX_ACTIVE_SECRETS}),
        )
        .await?;
        Ok(secret)
    }

    /// Retires the older of two active secrets. Returns false when only one is active.
    pub async fn retire_secret(
        &self,
        client_id: &ClientId,
        actor: &str,
    ) -> Result<bool, AuthError> {
        let client = self.get_credential(client_id).await?;
        let retired = self
            .store
            .retire_oldest_secret(client_id, now_unix())
            .await?;
        if retired {
            let hint = client
                .secrets
                .first()
                .map(|s| s.hint.clone())
                .unwrap_or_default();
            self.audit(
                &client.org_id,
                "credential.secret_retired",
                Some(client_id),
                actor,
                json!({"hint": hint}),
            )
            .await?;
        }
        Ok(retired)
    }
}
