//! Pipeline runs: which pipelines exist (by the ids the Stream API's Pipeline endpoints use),
//! and queueing runs with their parameters checked (reference §2C).

use std::sync::Arc;

use brandstream_domain::{BrandKitId, DocumentId, FieldId, OrgId, RunId, SectionId};
use brandstream_store::{
    DocumentQuery, DocumentStatus, RunQuery, RunRecord, RunStatus, Stamp, Store,
};
use serde_json::{json, Map, Value};

use super::brands::BrandService;
use super::now_micros;
use tokio::sync::Notify;

use crate::error::{FieldIssue, ServiceError};

/// A pipeline a run executes (`pipelineId` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineKind {
    /// `BrandIngestionPipeline`: read documents into a kit's knowledge, then (unless
    /// `populateSections` is false) fill its subsections.
    BrandIngestion,
    /// `EnrichSectionsPipeline`: fill a kit's (or one section's, or one subsection's)
    /// subsections from the knowledge it has.
    EnrichSections,
}

impl PipelineKind {
    /// Every pipeline, in the order the API lists them.
    pub const ALL: [PipelineKind; 2] = [PipelineKind::BrandIngestion, PipelineKind::EnrichSections];

    /// The wire id.
    pub const fn id(self) -> &'static str {
        match self {
            PipelineKind::BrandIngestion => "BrandIngestionPipeline",
            PipelineKind::EnrichSections => "EnrichSectionsPipeline",
        }
    }

    /// The pipeline with wire id `id`, if there is one.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.id() == id)
    }
}

/// What a run does, read once from the parameters stored with it (written by
/// [`PipelineService`], in the API's wire names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunSpec {
    /// Read these documents (ids, in order), then fill the kit unless `populate_sections` is
    /// false.
    BrandIngestion {
        /// Document ids (`documentIdsList`).
        documents: Vec<DocumentId>,
        /// `populateSections` (default true).
        populate_sections: bool,
        /// `sectionId`/`fieldId` limit the filling as for enrichment (not in the hosted API's
        /// ingestion parameters, but passed through and honoured).
        section_id: Option<SectionId>,
        /// See `section_id`.
        field_id: Option<FieldId>,
    },
    /// Fill the kit's subsections: all, one section's (`sectionId`) or one (`fieldId`).
    EnrichSections {
        /// `sectionId`, if the run is limited to one section.
        section_id: Option<SectionId>,
        /// `fieldId`, if the run is limited to one subsection.
        field_id: Option<FieldId>,
    },
}

impl RunSpec {
    /// The spec of a stored run of pipeline `pipeline_id` with `parameters`; `None` for a
    /// pipeline this server does not know.
    pub fn of(pipeline_id: &str, parameters: &Value) -> Option<Self> {
        let text = |name: &str| {
            parameters
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        Some(match PipelineKind::from_id(pipeline_id)? {
            PipelineKind::BrandIngestion => RunSpec::BrandIngestion {
                documents: text("documentIdsList")
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(DocumentId::from)
                    .collect(),
                populate_sections: parameters
                    .get("populateSections")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                section_id: text("sectionId").map(SectionId::from),
                field_id: text("fieldId").map(FieldId::from),
            },
            PipelineKind::EnrichSections => RunSpec::EnrichSections {
                section_id: text("sectionId").map(SectionId::from),
                field_id: text("fieldId").map(FieldId::from),
            },
        })
    }
}

/// Most documents one ingestion run may name.
const DOCUMENTS_MAX: usize = 500;

fn issue(name: &str, msg: impl Into<String>, kind: &str) -> ServiceError {
    ServiceError::Invalid(vec![FieldIssue::new(
        vec![json!("body"), json!("parameters"), json!(name)],
        msg,
        kind,
    )])
}

fn uuid_parameter(
    parameters: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<String>, ServiceError> {
    match parameters.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(issue(name, "Field required", "missing")),
        Some(Value::String(text)) if text.trim().is_empty() && !required => Ok(None),
        Some(Value::String(text)) => uuid::Uuid::try_parse(text.trim())
            .map(|id| Some(id.hyphenated().to_string()))
            .map_err(|_| issue(name, "Input should be a valid UUID", "uuid_parsing")),
        Some(_) => Err(issue(name, "Input should be a valid string", "string_type")),
    }
}

/// The run's `brand_kit_id`, required in every pipeline's parameters.
fn required_kit_id(parameters: &Map<String, Value>) -> Result<String, ServiceError> {
    uuid_parameter(parameters, "brand_kit_id", true)?
        .ok_or_else(|| issue("brand_kit_id", "Field required", "missing"))
}

fn invalid_request(why: &str) -> ServiceError {
    ServiceError::Rejected(format!("Invalid request: {why}"))
}

/// The signal that a run was queued: the pipeline service raises it, idle ingestion workers
/// of this process wait on it, so a queued run starts at once rather than at the next poll.
/// Cheap to clone; clones share the signal.
#[derive(Clone, Default)]
pub struct RunQueued(Arc<Notify>);

impl RunQueued {
    /// Wakes one waiting worker (or the next one to wait).
    pub fn raise(&self) {
        self.0.notify_one();
    }

    /// Waits until a run is queued.
    pub async fn wait(&self) {
        self.0.notified().await;
    }
}

/// The pipeline service: checks run parameters and queues runs for the workers.
#[derive(Clone)]
pub struct PipelineService {
    store: Arc<dyn Store>,
    brands: BrandService,
    queued: RunQueued,
}

impl PipelineService {
    /// A service over `store`, checking kits through `brands`, raising `queued` for each run
    /// it queues.
    pub fn new(store: Arc<dyn Store>, brands: BrandService, queued: RunQueued) -> Self {
        Self {
            store,
            brands,
            queued,
        }
    }

    /// One run of the organisation.
    pub async fn get_run(&self, org: &OrgId, id: &RunId) -> Result<RunRecord, ServiceError> {
        self.store
            .get_run(org, id)
            .await?
            .ok_or(ServiceError::NotFound("Run"))
    }

    /// Requests cancellation by `actor` (reference §2C): a queued run is cancelled at once, a
    /// running one becomes `Canceling` until its worker stops; a finished run is returned as
    /// it is.
    pub async fn cancel_run(
        &self,
        org: &OrgId,
        id: &RunId,
        actor: &str,
    ) -> Result<RunRecord, ServiceError> {
        self.store
            .cancel_run(org, id, now_micros(), actor)
            .await?
            .ok_or(ServiceError::NotFound("Run"))
    }

    /// A page of the organisation's runs matching `query`, newest first, with the total.
    pub async fn list_runs(
        &self,
        org: &OrgId,
        query: &RunQuery,
    ) -> Result<(i64, Vec<RunRecord>), ServiceError> {
        Ok(self.store.list_runs(org, query).await?)
    }

    /// Queues a `BrandIngestionPipeline` run (reference §2C) from its wire `parameters`:
    /// `brand_kit_id` (required), `populateSections` (default true), `documentIdsList` (comma
    /// separated ids; default: the kit's documents not yet processed). Shared by the API and the
    /// portal.
    pub async fn queue_ingestion(
        &self,
        org: &OrgId,
        actor: &str,
        mut parameters: Map<String, Value>,
    ) -> Result<RunRecord, ServiceError> {
        let kit_id = BrandKitId::from(required_kit_id(&parameters)?);
        let populate = match parameters.get("populateSections") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => {
                return Err(issue(
                    "populateSections",
                    "Input should be a valid boolean",
                    "bool_type",
                ))
            }
        };
        let listed: Option<Vec<String>> = match parameters.get("documentIdsList") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.trim().is_empty() => None,
            Some(Value::String(text)) => {
                let mut ids = Vec::new();
                for item in text
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                {
                    let id = uuid::Uuid::try_parse(item).map_err(|_| {
                        issue(
                            "documentIdsList",
                            "Each item should be a valid UUID",
                            "uuid_parsing",
                        )
                    })?;
                    let id = id.hyphenated().to_string();
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                if ids.len() > DOCUMENTS_MAX {
                    return Err(issue(
                        "documentIdsList",
                        format!("List should have at most {DOCUMENTS_MAX} items"),
                        "too_long",
                    ));
                }
                Some(ids)
            }
            Some(_) => {
                return Err(issue(
                    "documentIdsList",
                    "Input should be a comma-separated string of document ids",
                    "string_type",
                ))
            }
        };
        self.brands.get_kit(org, &kit_id, false).await?;
        let documents = match listed {
            Some(ids) => {
                for id in &ids {
                    match self.store.get_document(org, id).await? {
                        Some(document) if document.deleted_at.is_none() => {}
                        _ => return Err(invalid_request(&format!("document {id} not found"))),
                    }
                }
                ids
            }
            None => {
                let (_, documents) = self
                    .store
                    .list_documents(
                        org,
                        &DocumentQuery {
                            limit: DOCUMENTS_MAX as i64,
                            reference_id: Some(kit_id.to_string()),
                            ..DocumentQuery::default()
                        },
                    )
                    .await?;
                if documents.is_empty() {
                    return Err(invalid_request(
                        "the brand kit has no documents; upload documents that reference it first",
                    ));
                }
                documents
                    .into_iter()
                    .filter(|document| document.status != DocumentStatus::Processed)
                    .map(|document| document.id.into())
                    .collect()
            }
        };
        parameters.insert("brand_kit_id".into(), json!(kit_id));
        parameters.insert("populateSections".into(), json!(populate));
        parameters.insert("documentIdsList".into(), json!(documents.join(",")));
        self.insert_run(
            actor,
            org,
            PipelineKind::BrandIngestion,
            &kit_id,
            parameters,
        )
        .await
    }

    /// Queues an `EnrichSectionsPipeline` run from its wire `parameters`: `brand_kit_id`
    /// (required), optional `sectionId`, and `fieldId` (which needs `sectionId`). The kit must
    /// hold processed knowledge.
    pub async fn queue_enrichment(
        &self,
        org: &OrgId,
        actor: &str,
        mut parameters: Map<String, Value>,
    ) -> Result<RunRecord, ServiceError> {
        let kit_id = BrandKitId::from(required_kit_id(&parameters)?);
        let section_id = uuid_parameter(&parameters, "sectionId", false)?;
        let field_id = uuid_parameter(&parameters, "fieldId", false)?;
        self.brands.get_kit(org, &kit_id, false).await?;
        match (&section_id, &field_id) {
            (None, Some(_)) => {
                return Err(issue(
                    "sectionId",
                    "sectionId is required with fieldId",
                    "missing",
                ))
            }
            (Some(section), field) => {
                let section_id = SectionId::from(section.clone());
                let section_record = self.brands.get_section(org, &kit_id, &section_id).await?;
                if let Some(field) = field {
                    let field_id = FieldId::from(field.clone());
                    self.brands
                        .get_field(org, &kit_id, &section_record.id, &field_id)
                        .await?;
                }
            }
            (None, None) => {}
        }
        let (processed, _) = self
            .store
            .list_documents(
                org,
                &DocumentQuery {
                    limit: 1,
                    reference_id: Some(kit_id.to_string()),
                    status: Some(DocumentStatus::Processed),
                    ..DocumentQuery::default()
                },
            )
            .await?;
        if processed == 0 {
            return Err(invalid_request(
                "the brand kit has no brand knowledge yet; run BrandIngestionPipeline first",
            ));
        }
        parameters.insert("brand_kit_id".into(), json!(kit_id));
        for (name, value) in [("sectionId", section_id), ("fieldId", field_id)] {
            match value {
                Some(id) => parameters.insert(name.into(), json!(id)),
                None => parameters.remove(name),
            };
        }
        self.insert_run(
            actor,
            org,
            PipelineKind::EnrichSections,
            &kit_id,
            parameters,
        )
        .await
    }

    async fn insert_run(
        &self,
        actor: &str,
        org: &OrgId,
        kind: PipelineKind,
        kit_id: &BrandKitId,
        mut parameters: Map<String, Value>,
    ) -> Result<RunRecord, ServiceError> {
        let pipeline_id = kind.id();
        parameters.insert("org_id".into(), json!(org.as_str()));
        let now = now_micros();
        let run = RunRecord {
            id: RunId::generate(),
            org_id: org.clone(),
            pipeline_id: pipeline_id.into(),
            kit_id: kit_id.clone(),
            parameters: Value::Object(parameters),
            status: RunStatus::Queued,
            message: String::new(),
            progress: json!({"stage": "queued", "documentsDone": 0, "documentsTotal": 0}),
            run_start: None,
            run_end: None,
            duration_ms: 0,
            attempts: 0,
            lease_owner: None,
            lease_until: None,
            stamp: Stamp::new(now, actor),
        };
        self.store.insert_run(&run).await?;
        self.queued.raise();
        metrics::counter!("brandstream_pipeline_runs_total", "pipeline" => pipeline_id.to_owned())
            .increment(1);
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::PipelineKind;

    #[test]
    fn run_specs_are_read_from_stored_parameters() {
        use super::RunSpec;
        use serde_json::json;
        assert_eq!(
            RunSpec::of(
                "BrandIngestionPipeline",
                &json!({"brand_kit_id": "k", "documentIdsList": "a, b,,c", "populateSections": false})
            ),
            Some(RunSpec::BrandIngestion {
                documents: vec!["a".into(), "b".into(), "c".into()],
                populate_sections: false,
                section_id: None,
                field_id: None,
            })
        );
        assert_eq!(
            RunSpec::of("BrandIngestionPipeline", &json!({"documentIdsList": ""})),
            Some(RunSpec::BrandIngestion {
                documents: vec![],
                populate_sections: true,
                section_id: None,
                field_id: None,
            })
        );
        assert_eq!(
            RunSpec::of("EnrichSectionsPipeline", &json!({"sectionId": "s"})),
            Some(RunSpec::EnrichSections {
                section_id: Some("s".into()),
                field_id: None,
            })
        );
        assert_eq!(RunSpec::of("SomethingElse", &json!({})), None);
    }

    #[test]
    fn wire_ids_round_trip() {
        for kind in PipelineKind::ALL {
            assert_eq!(PipelineKind::from_id(kind.id()), Some(kind));
        }
        assert_eq!(PipelineKind::from_id("brandingestionpipeline"), None);
    }
}
