//! Pipeline runs: which pipelines exist, by the ids the Stream API's Pipeline endpoints use.

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

#[cfg(test)]
mod tests {
    use super::PipelineKind;

    #[test]
    fn wire_ids_round_trip() {
        for kind in PipelineKind::ALL {
            assert_eq!(PipelineKind::from_id(kind.id()), Some(kind));
        }
        assert_eq!(PipelineKind::from_id("brandingestionpipeline"), None);
    }
}
