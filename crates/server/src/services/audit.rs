//! The audit trail as the portal shows it: an organisation's newest events.

use std::sync::Arc;

use brandstream_domain::OrgId;
use brandstream_store::{AuditEvent, Store};

use crate::error::ServiceError;

/// Reads the audit trail. Cheap to clone.
#[derive(Clone)]
pub struct AuditService {
    store: Arc<dyn Store>,
}

impl AuditService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The organisation's newest `limit` events, newest first.
    pub async fn recent(&self, org: &OrgId, limit: u32) -> Result<Vec<AuditEvent>, ServiceError> {
        Ok(self.store.list_audit_events(Some(org), limit).await?)
    }
}
